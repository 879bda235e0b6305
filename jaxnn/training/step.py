"""The forward -> loss -> backward -> step cycle as one pure, jitted function.

The model is split once into a static ``graphdef`` and two pytrees: the
learnable parameters (``nnx.Param``) and the rest (buffers, frozen parameters,
batch statistics). The step merges them, runs forward and the criterion,
differentiates with ``jax.value_and_grad`` with respect to the parameters only,
and applies an optax update. Parameters and optimizer state are donated, so
XLA updates them in place.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import optax
from flax import nnx

__all__ = ["make_train_step", "split_model"]

Batch = tuple[Any, Any]


class SplitModel(NamedTuple):
    graphdef: nnx.GraphDef
    params: nnx.State
    rest: nnx.State


def split_model(model: nnx.Module) -> SplitModel:
    """``nnx.split(model, nnx.Param, ...)`` as a named triple (graphdef, params, rest)."""
    return SplitModel(*nnx.split(model, nnx.Param, ...))


def make_train_step(
    graphdef: nnx.GraphDef,
    criterion: Callable[[jax.Array, jax.Array], jax.Array],
    optimizer: optax.GradientTransformation,
    *,
    jit: bool = True,
    donate: bool = True,
) -> Callable[[nnx.State, nnx.State, optax.OptState, Batch], tuple[nnx.State, nnx.State, optax.OptState, jax.Array]]:
    """Builds ``step(params, rest, opt_state, (x, y)) -> (params, rest, opt_state, loss)``.

    Args:
      graphdef: the static half of ``nnx.split(model, nnx.Param, ...)``.
      criterion: ``criterion(output, target) -> scalar``, e.g. ``jaxnn.MSELoss()``.
      optimizer: an optax transformation, e.g. ``jaxnn.optim.SGD(lr=0.1)``.
      jit: compile the step with ``jax.jit``.
      donate: donate the parameter, rest and optimizer buffers to the update.

    ``rest`` comes back as the forward pass left it (updated BatchNorm
    statistics in training mode); ``loss`` is the loss before the update, as
    torch's ``loss.item()`` would print it.
    """

    def loss_fn(params, rest, batch):
        x, y = batch
        model = nnx.merge(graphdef, params, rest, copy=True)
        loss = criterion(model(x), y)
        _, _, new_rest = nnx.split(model, nnx.Param, ...)
        return loss, new_rest

    def step(params, rest, opt_state, batch):
        (loss, new_rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, new_rest, opt_state, loss

    if jit:
        step = jax.jit(step, donate_argnums=(0, 1, 2) if donate else ())
    return step
