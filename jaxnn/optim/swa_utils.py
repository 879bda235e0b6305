"""torch.optim.swa_utils: weight averaging (SWA, EMA), SWALR and update_bn.

:class:`AveragedModel` keeps a copy of a model whose parameters (and, with
``use_buffers``, buffers) are a running average of the model's, with torch's
state_dict keys (``n_averaged``, ``module.<key>``). The averaging rules are pure
functions of ``(averaged, current, num_averaged)``: the per-tensor ``avg_fn``
(``get_ema_avg_fn``, ``get_swa_avg_fn``) returns the new average of one array,
the ``multi_avg_fn`` (``get_ema_multi_avg_fn``, ``get_swa_multi_avg_fn``) the
new list -- torch's versions update in place and return None; JAX arrays are
immutable, so these return. :meth:`AveragedModel.average` applies them to whole
state pytrees and can run inside a jitted step.

>>> import jax.numpy as jnp, jaxnn
>>> from flax import nnx
>>> model = jaxnn.Linear(2, 1, rngs=nnx.Rngs(0))
>>> ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
>>> ema.update_parameters(model)  # the first update copies
>>> int(ema.n_averaged[...])
1
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..module import Module
from ..parameter import Buffer
from ..state_dict import _is_parameter, _named_variables
from ._core import lerp

__all__ = [
    "AveragedModel",
    "SWALR",
    "update_bn",
    "get_ema_multi_avg_fn",
    "get_swa_multi_avg_fn",
    "get_ema_avg_fn",
    "get_swa_avg_fn",
]

AvgFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
MultiAvgFn = Callable[[Sequence[jax.Array], Sequence[jax.Array], jax.Array], list]


def _floating(x: jax.Array) -> bool:
    return jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)


def _into(value: jax.Array, like: jax.Array) -> jax.Array:
    """torch's ``copy_`` into ``like``'s dtype (a float into an int truncates toward zero)."""
    if not _floating(like) and _floating(value):
        value = jnp.trunc(value)
    return value.astype(like.dtype)


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """``decay * ema + (1 - decay) * current``. Reference: ``torch.optim.swa_utils.get_ema_avg_fn``."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")
    return lambda ema, current, num_averaged: decay * ema + (1 - decay) * current


def _as_torch_float(x: jax.Array) -> jax.Array:
    """torch promotes an integer tensor met by a float to its default dtype, float32."""
    return x if _floating(x) else jnp.asarray(x).astype(jnp.float32)


def get_swa_avg_fn() -> AvgFn:
    """``averaged + (current - averaged) / (num_averaged + 1)``: the equal-weight average."""

    def swa(averaged, current, num_averaged):
        if _floating(averaged):
            return averaged + (current - averaged) / (num_averaged + 1)
        return averaged + _as_torch_float(current - averaged) / _as_torch_float(num_averaged + 1)

    return swa


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """EMA over a list: ``lerp(ema, current, 1 - decay)`` for floats, ``ema * decay +
    current * (1 - decay)`` for integers (truncated back), as torch's foreach version."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_list, current_list, num_averaged):
        del num_averaged
        if not ema_list or _floating(ema_list[0]):
            return [lerp(e, c.astype(e.dtype), 1 - decay) for e, c in zip(ema_list, current_list)]
        d, rest = np.float32(decay), np.float32(1 - decay)
        return [_into(_as_torch_float(e) * d + _as_torch_float(c) * rest, e) for e, c in zip(ema_list, current_list)]

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """SWA over a list: ``lerp(averaged, current, 1 / (num_averaged + 1))`` (torch's foreach form).

    For integer tensors (``num_batches_tracked`` with ``use_buffers=True``) torch's
    version raises (its ``addcdiv`` refuses integer division); this one averages
    them as :func:`get_swa_avg_fn` does and truncates, as torch's CPU default path.
    """

    def swa_update(averaged_list, current_list, num_averaged):
        if not averaged_list or _floating(averaged_list[0]):
            # torch's 1 / (n_averaged + 1) divides an int64 tensor: a float32 weight
            weight = 1 / (jnp.asarray(num_averaged).astype(jnp.float32) + 1) if averaged_list else 0
            return [lerp(a, c.astype(a.dtype), weight) for a, c in zip(averaged_list, current_list)]
        swa = get_swa_avg_fn()
        return [_into(swa(a, c, num_averaged), a) for a, c in zip(averaged_list, current_list)]

    return swa_update


def _pairs(averaged: nnx.Module, model: nnx.Module, use_buffers: bool):
    """(averaged variable, model variable) pairs in torch's order: parameters
    (then buffers with ``use_buffers``), matched by position as torch zips them."""
    mine = [v for _, v in _named_variables(averaged)]
    theirs = [v for _, v in _named_variables(model)]
    if len(mine) != len(theirs):
        raise ValueError(f"AveragedModel: the model has {len(theirs)} tensors, the average {len(mine)}")
    params = [(a, b) for a, b in zip(mine, theirs) if _is_parameter(a)]
    buffers = [(a, b) for a, b in zip(mine, theirs) if not _is_parameter(a)]
    return (params + buffers, []) if use_buffers else (params, buffers)


class AveragedModel(Module):
    """A running average of ``model``'s parameters, torch's SWA/EMA wrapper.

    Args:
      model: the model to average; a deep copy (``nnx.clone``) is kept as ``module``.
      device: accepted for torch's signature; JAX places arrays itself.
      avg_fn: ``(averaged, current, num_averaged) -> new averaged`` per array.
      multi_avg_fn: ``(averaged_list, current_list, num_averaged) -> new list``;
        with neither, the equal-weight average (torch's CPU default,
        :func:`get_swa_avg_fn`).
      use_buffers: average buffers too (BatchNorm statistics); otherwise they are
        copied from the model at each update, as torch does.

    ``update_parameters(model)`` is torch's method: the first call copies the
    model, later ones average; ``n_averaged`` counts calls. Calling the averaged
    model runs ``module``. State dict keys: ``n_averaged``, ``module.<key>``.
    ``jaxnn.fit(..., averaged_model=avg)`` updates it inside the compiled step
    after every optimizer step, evaluates it and checkpoints it.
    """

    def __init__(
        self,
        model: nnx.Module,
        device: Any = None,
        avg_fn: Optional[AvgFn] = None,
        multi_avg_fn: Optional[MultiAvgFn] = None,
        use_buffers: bool = False,
    ) -> None:
        del device
        self.module = nnx.clone(model)
        self.n_averaged = Buffer(jnp.zeros((), int), torch_dtype="int64")
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def average(self, averaged: list, current: list, num_averaged: jax.Array) -> list:
        """The new averages of ``averaged`` given ``current`` (lists of arrays, torch's
        pairing); pure, so it can run inside a jitted step. ``num_averaged == 0`` copies."""
        if not averaged:
            return []
        if self.multi_avg_fn is not None:
            new: list[Any] = []
            for group in _dtype_groups(averaged):
                out = self.multi_avg_fn([averaged[i] for i in group], [current[i] for i in group], num_averaged)
                new.extend(zip(group, out))
            new = [v for _, v in sorted(new, key=lambda item: item[0])]
        else:
            fn = self.avg_fn or get_swa_avg_fn()
            new = [fn(a, c, num_averaged) for a, c in zip(averaged, current)]
        return [jnp.where(num_averaged == 0, c.astype(a.dtype), _into(n, a)) for a, c, n in zip(averaged, current, new)]

    def update_parameters(self, model: nnx.Module) -> None:
        """torch's ``update_parameters``: average ``model`` into ``module``, in place."""
        averaged_pairs, copied = _pairs(self.module, model, self.use_buffers)
        averaged = [a[...] for a, _ in averaged_pairs]
        current = [b[...] for _, b in averaged_pairs]
        n = self.n_averaged[...]
        for (variable, _), value in zip(averaged_pairs, self.average(averaged, current, n)):
            variable[...] = value
        for mine, theirs in copied:
            mine[...] = theirs[...].astype(mine[...].dtype)
        self.n_averaged[...] = n + 1


def _dtype_groups(arrays: Sequence[jax.Array]) -> list[list[int]]:
    """Indices grouped by dtype, first-seen order: torch calls a multi_avg_fn once per
    (device, dtype) group, and its float/integer branch reads the group's first tensor."""
    groups: dict[Any, list[int]] = {}
    for i, a in enumerate(arrays):
        groups.setdefault(jnp.asarray(a).dtype, []).append(i)
    return list(groups.values())


def SWALR(lr: float, swa_lr: float, anneal_epochs: int = 10, anneal_strategy: str = "cos") -> optax.Schedule:
    """Anneal from ``lr`` to ``swa_lr`` over ``anneal_epochs`` scheduler steps, then hold.

    ``lr_k = swa_lr * a(t) + lr * (1 - a(t))`` with ``t = min(k / anneal_epochs, 1)``
    and ``a(t) = (1 - cos(pi t)) / 2`` ('cos') or ``t`` ('linear'); with
    ``anneal_epochs = 0`` it is ``swa_lr`` from the start. Like the other jaxnn
    schedulers it takes the optimizer's lr first; torch steps SWALR once per
    epoch, so wrap it with :func:`jaxnn.optim.lr_scheduler.per_epoch`.

    Reference: ``torch.optim.swa_utils.SWALR``.

    >>> [round(float(SWALR(1.0, 0.1, 2, "linear")(k)), 3) for k in range(4)]
    [1.0, 0.55, 0.1, 0.1]
    """
    if anneal_strategy not in ["cos", "linear"]:
        raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
    if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
        raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")

    def schedule(count):
        step = jnp.asarray(count, jnp.result_type(float))
        if anneal_epochs == 0:
            step = jnp.maximum(step, 1.0)
        t = jnp.clip(step / max(1, anneal_epochs), 0.0, 1.0)
        alpha = (1 - jnp.cos(math.pi * t)) / 2 if anneal_strategy == "cos" else t
        return swa_lr * alpha + lr * (1 - alpha)

    return schedule


def _batch_norms(model: nnx.Module) -> list:
    from ..nn import BatchNorm1d

    base = BatchNorm1d.__mro__[1]  # the shared batch-norm base class
    return [
        m for _, m in nnx.iter_modules(model) if isinstance(m, base) and getattr(m, "running_mean", None) is not None
    ]


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute every BatchNorm's running statistics with one pass over ``loader``.

    Resets ``running_mean``/``running_var``/``num_batches_tracked``, runs the
    model in training mode with ``momentum=None`` (a cumulative average) on each
    batch (the first element of a tuple/list batch), then restores each
    momentum and the model's mode, as torch does. Eager, in place.

    ``model`` is a jaxnn :class:`~jaxnn.Module` (its ``train(mode)`` sets every
    submodule's mode); a plain ``nnx.Module`` container has no such method.

    Reference: ``torch.optim.swa_utils.update_bn``.
    """
    del device
    norms = _batch_norms(model)
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.running_mean[...] = jnp.zeros_like(m.running_mean[...])
        m.running_var[...] = jnp.ones_like(m.running_var[...])
        m.num_batches_tracked[...] = jnp.zeros_like(m.num_batches_tracked[...])
        m.momentum = None
    was_training = getattr(model, "training", True)
    model.train()
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        model(jnp.asarray(np.asarray(batch)))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)
