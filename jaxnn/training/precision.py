"""Dynamic loss scaling for float16 training, torch's ``GradScaler`` as an optax wrapper.

The scale lives in the optimizer state, so it is threaded, checkpointed and
restored with it. :func:`~jaxnn.training.make_train_step` finds the scaler's
state in the optimizer state (:func:`find_loss_scale`, at any depth of an
``optax.chain``), multiplies the loss by the current scale before differentiating and divides
the gradient by it; the wrapper then skips the update when that gradient holds
inf/nan and shrinks the scale, or applies it and grows the scale after
``growth_interval`` clean steps in a row -- ``torch.amp.GradScaler``'s rule.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["DynamicLossScale", "DynamicLossScaleState", "dynamic_loss_scale", "find_loss_scale"]


class DynamicLossScaleState(NamedTuple):
    inner: Any
    scale: jax.Array
    good_steps: jax.Array


class DynamicLossScale(NamedTuple):
    """An ``optax.GradientTransformation`` (``init``, ``update``) carrying the scaling rule."""

    init: Any
    update: Any


def dynamic_loss_scale(
    optimizer: optax.GradientTransformation,
    init_scale: float = 2.0**16,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> DynamicLossScale:
    """Wraps ``optimizer`` with torch's ``GradScaler`` rule (same argument names and defaults).

    ``update`` expects the already unscaled gradient (the train step divides by
    the scale). A step whose gradient is not finite leaves parameters and the
    inner optimizer state unchanged (torch skips ``optimizer.step()``) and
    multiplies the scale by ``backoff_factor``; ``growth_interval`` finite steps
    in a row multiply it by ``growth_factor``. It may sit anywhere in an
    ``optax.chain``; transformations chained before it see the unscaled,
    possibly non-finite gradient of a skipped step.
    """
    if not (init_scale > 0 and growth_factor > 1 and 0 < backoff_factor < 1 and growth_interval >= 1):
        raise ValueError(
            "need init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and growth_interval >= 1; got "
            f"{init_scale}, {growth_factor}, {backoff_factor}, {growth_interval}"
        )

    def init(params):
        return DynamicLossScaleState(optimizer.init(params), jnp.float32(init_scale), jnp.int32(0))

    def update(grads, state, params=None):
        finite = jnp.isfinite(optax.tree.norm(grads))
        safe = jax.tree.map(lambda g: jnp.where(finite, g, 0), grads)
        updates, inner = optimizer.update(safe, state.inner, params)
        updates = jax.tree.map(lambda u: jnp.where(finite, u, 0), updates)
        inner = jax.tree.map(lambda n, o: jnp.where(finite, n, o), inner, state.inner)
        good = jnp.where(finite, state.good_steps + 1, 0)
        grow = good >= growth_interval
        scale = jnp.where(
            finite, jnp.where(grow, state.scale * growth_factor, state.scale), state.scale * backoff_factor
        )
        return updates, DynamicLossScaleState(inner, scale, jnp.where(grow, 0, good))

    return DynamicLossScale(init, update)


def _is_scaler(x: Any) -> bool:
    return isinstance(x, DynamicLossScaleState)


def find_loss_scale(opt_state: Any) -> DynamicLossScaleState | None:
    """The one :class:`DynamicLossScaleState` inside ``opt_state`` (e.g. within an ``optax.chain``), or ``None``.

    Looked up by type through the whole state tree, so the scaler is found
    wherever the optimizer puts it; two scalers in one optimizer are an error
    (the loss can be scaled by one factor only).

    >>> import optax
    >>> opt = optax.chain(optax.clip_by_global_norm(1.0), dynamic_loss_scale(optax.sgd(0.1), init_scale=8.0))
    >>> float(find_loss_scale(opt.init({"w": jnp.zeros(2)})).scale)
    8.0
    """
    found = [x for x in jax.tree.leaves(opt_state, is_leaf=_is_scaler) if _is_scaler(x)]
    if len(found) > 1:
        raise ValueError(f"the optimizer state holds {len(found)} dynamic_loss_scale states; use one")
    return found[0] if found else None
