"""torch's ``ReduceLROnPlateau`` as an optax transformation fed the metric.

torch's scheduler is stepped with a metric (``scheduler.step(val_loss)``) and
rewrites the optimizer's lr. Here the lr lives in the transformation's state:
chained after a jaxnn optimizer built with the same ``lr``, it scales the
updates by ``current_lr / lr``. Every torch optimizer's update is linear in its
lr (weight decay and momentum included), so that is torch's step with the
reduced lr, up to rounding.

The metric enters as optax's convention, ``update(updates, state, params,
value=metric)``: each call that passes ``value`` is one torch
``scheduler.step(metric)``; calls without it only scale. A loop that steps the
scheduler once per epoch calls :func:`plateau_step` on the optimizer state
instead (``fit`` does that with the validation loss).

>>> import jax.numpy as jnp, optax
>>> from jaxnn.optim import SGD
>>> tx = optax.chain(SGD(lr=0.1), ReduceLROnPlateau(0.1, patience=0))
>>> state = tx.init({"w": jnp.zeros(2)})
>>> state = plateau_step(state, 1.0)  # best so far
>>> state = plateau_step(state, 2.0)  # worse: patience 0 is exceeded
>>> round(float(state[1].lr), 6)
0.01
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

__all__ = [
    "ReduceLROnPlateau",
    "ReduceLROnPlateauState",
    "plateau_step",
    "plateau_state_dict",
    "load_plateau_state_dict",
]


@struct.dataclass
class ReduceLROnPlateauState:
    """torch's scheduler attributes: ``lr`` (its ``_last_lr``), ``best``,
    ``num_bad_epochs``, ``cooldown_counter`` and ``last_epoch``; ``config`` holds
    the static options, so :func:`plateau_step` can step a state on its own."""

    lr: jax.Array
    best: jax.Array
    num_bad_epochs: jax.Array
    cooldown_counter: jax.Array
    last_epoch: jax.Array
    config: tuple = struct.field(pytree_node=False)


def _is_better(a: jax.Array, best: jax.Array, mode: str, threshold: float, threshold_mode: str) -> jax.Array:
    if mode == "min":
        bound = best * (1.0 - threshold) if threshold_mode == "rel" else best - threshold
        return a < bound
    bound = best * (threshold + 1.0) if threshold_mode == "rel" else best + threshold
    return a > bound


def _step(state: ReduceLROnPlateauState, metric: Any) -> ReduceLROnPlateauState:
    """One torch ``scheduler.step(metric)``, operation for operation."""
    mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps = state.config
    current = jnp.asarray(metric, state.best.dtype)
    better = _is_better(current, state.best, mode, threshold, threshold_mode)
    bad = jnp.where(better, 0, state.num_bad_epochs + 1)
    in_cooldown = state.cooldown_counter > 0
    bad = jnp.where(in_cooldown, 0, bad)
    reduce = bad > patience
    new_lr = jnp.maximum(state.lr * factor, min_lr)
    return dataclasses.replace(
        state,
        lr=jnp.where(reduce & (state.lr - new_lr > eps), new_lr, state.lr),
        best=jnp.where(better, current, state.best),
        num_bad_epochs=jnp.where(reduce, 0, bad),
        cooldown_counter=jnp.where(reduce, cooldown, jnp.where(in_cooldown, state.cooldown_counter - 1, 0)),
        last_epoch=state.last_epoch + 1,
    )


def _check(mode: str, factor: float, threshold_mode: str) -> None:
    if factor >= 1.0:
        raise ValueError("Factor should be < 1.0.")
    if mode not in ("min", "max"):
        raise ValueError("mode " + mode + " is unknown!")
    if threshold_mode not in ("rel", "abs"):
        raise ValueError("threshold mode " + threshold_mode + " is unknown!")


def ReduceLROnPlateau(
    lr: float,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
    """Reduce the lr by ``factor`` once the metric has not improved for ``patience`` steps.

    A metric ``a`` improves on ``best`` when ``a < best * (1 - threshold)``
    (mode 'min', 'rel'), ``a < best - threshold`` ('min', 'abs'), ``a > best *
    (1 + threshold)`` ('max', 'rel') or ``a > best + threshold`` ('max', 'abs').
    After more than ``patience`` steps without improvement the lr becomes
    ``max(lr * factor, min_lr)`` (only if that changes it by more than ``eps``),
    then ``cooldown`` steps pass before bad steps count again.

    Args:
      lr: the learning rate the chained optimizer was built with (torch reads it
        from the optimizer). ``min_lr`` is one float: for param groups with their
        own floors use one ReduceLROnPlateau per group (``optax.multi_transform``).
      mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps:
        torch's, same defaults and checks.

    Returns:
      A transformation to chain after the optimizer. ``update(..., value=metric)``
      steps it; :func:`plateau_step` steps it inside a whole optimizer state.

    Reference: ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    """
    _check(mode, factor, threshold_mode)
    if isinstance(min_lr, (list, tuple)):
        raise ValueError("jaxnn's ReduceLROnPlateau takes one min_lr: use one per param group (optax.multi_transform)")
    config = (
        mode, float(factor), int(patience), float(threshold), threshold_mode, int(cooldown), float(min_lr), float(eps)
    )

    def init_fn(params):
        del params
        dtype = jnp.result_type(float)
        return ReduceLROnPlateauState(
            lr=jnp.asarray(lr, dtype),
            best=jnp.asarray(jnp.inf if mode == "min" else -jnp.inf, dtype),
            num_bad_epochs=jnp.zeros([], jnp.int32),
            cooldown_counter=jnp.zeros([], jnp.int32),
            last_epoch=jnp.zeros([], jnp.int32),
            config=config,
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is not None:
            state = _step(state, value)
        scale = state.lr / lr
        return jax.tree.map(lambda u: (u * scale).astype(u.dtype), updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def plateau_step(opt_state: Any, metric: Any) -> Any:
    """``opt_state`` with every :class:`ReduceLROnPlateauState` in it stepped with ``metric``
    (torch's ``scheduler.step(metric)``, e.g. once per epoch with the validation loss)."""
    is_plateau = lambda node: isinstance(node, ReduceLROnPlateauState)  # noqa: E731
    return jax.tree.map(lambda n: _step(n, metric) if is_plateau(n) else n, opt_state, is_leaf=is_plateau)


def plateau_state_dict(state: ReduceLROnPlateauState) -> dict[str, Any]:
    """torch's ``ReduceLROnPlateau.state_dict()`` for ``state`` (one param group), so a
    jaxnn run's scheduler resumes in torch; :func:`load_plateau_state_dict` reads it back.

    >>> tx = ReduceLROnPlateau(0.1, patience=1)
    >>> sorted(plateau_state_dict(tx.init(None)))[:4]
    ['_last_lr', 'best', 'cooldown', 'cooldown_counter']
    """
    mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps = state.config
    return {
        "factor": factor,
        "default_min_lr": min_lr,
        "min_lrs": [min_lr],
        "patience": patience,
        "cooldown": cooldown,
        "eps": eps,
        "last_epoch": int(state.last_epoch),
        "_last_lr": [float(state.lr)],
        "mode_worse": float("inf") if mode == "min" else float("-inf"),
        "mode": mode,
        "threshold": threshold,
        "threshold_mode": threshold_mode,
        "best": float(state.best),
        "cooldown_counter": int(state.cooldown_counter),
        "num_bad_epochs": int(state.num_bad_epochs),
    }


def load_plateau_state_dict(state: ReduceLROnPlateauState, state_dict: dict[str, Any]) -> ReduceLROnPlateauState:
    """``state`` with the counters, best metric and lr of a torch ``ReduceLROnPlateau.state_dict()``
    (its options must be the ones ``state`` was built with; a mismatch raises)."""
    options = (
        state_dict["mode"],
        float(state_dict["factor"]),
        int(state_dict["patience"]),
        float(state_dict["threshold"]),
        state_dict["threshold_mode"],
        int(state_dict["cooldown"]),
        float(state_dict["min_lrs"][0]),
        float(state_dict["eps"]),
    )
    if options != state.config:
        raise ValueError(
            f"load_plateau_state_dict: the saved options {options} differ from this scheduler's {state.config}"
        )
    return dataclasses.replace(
        state,
        lr=jnp.asarray(state_dict["_last_lr"][0], state.lr.dtype),
        best=jnp.asarray(state_dict["best"], state.best.dtype),
        num_bad_epochs=jnp.asarray(state_dict["num_bad_epochs"], jnp.int32),
        cooldown_counter=jnp.asarray(state_dict["cooldown_counter"], jnp.int32),
        last_epoch=jnp.asarray(state_dict["last_epoch"], jnp.int32),
    )
