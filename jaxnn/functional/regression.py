"""Regression losses: l1, mse, huber, smooth_l1 (torch.nn.functional's names)."""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _ops
from ._checks import as_array, broadcast_pair, float_input
from ._reduction import resolve, reduce, weighted_mean

__all__ = ["l1_loss", "mse_loss"]


def _pointwise(
    elementwise: Callable[[jax.Array], jax.Array],
    input: ArrayLike,
    target: ArrayLike,
    reduction: str,
    weight: Optional[ArrayLike],
) -> jax.Array:
    """Shared body of the pointwise regression losses: broadcast, f(input - target), reduce.

    With ``weight`` (torch 2.13), each element's loss is multiplied by it and
    'mean' divides by ``weight.sum()``; the weight must have the input's shape.
    """
    input = float_input(input, "input")
    x, y = broadcast_pair(input, float_input(target, "target"))
    loss = elementwise(x - y)
    if weight is None:
        return reduce(loss, reduction)
    weight = as_array(weight, "weight")
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            f"Weights and input must have the same size: weight shape {tuple(weight.shape)}, "
            f"input shape {tuple(input.shape)}"
        )
    loss = loss * weight
    return weighted_mean(loss, weight, reduction)


def l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    weight: Optional[ArrayLike] = None,
) -> jax.Array:
    """Mean absolute error, ``|input - target|``, reduced.

    Args:
      input: predictions, any shape.
      target: same shape as ``input`` (broadcastable shapes work with torch's
        ``UserWarning``).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.
      weight: optional per-element weights of ``input``'s shape; 'mean' then
        divides by ``weight.sum()``.

    Returns:
      The loss: a scalar, or the broadcast shape with ``reduction='none'``.
      The mean of an empty input is nan, as in torch.

    The gradient where ``input == target`` is 0 (torch's ``sgn``), not JAX's 1.

    Reference: ``torch.nn.functional.l1_loss``.
    """
    reduction = resolve(reduction, size_average, reduce)
    return _pointwise(_ops.abs, input, target, reduction, weight)


def mse_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    weight: Optional[ArrayLike] = None,
) -> jax.Array:
    """Mean squared error, ``(input - target)**2``, reduced.

    Arguments as :func:`l1_loss`.

    Reference: ``torch.nn.functional.mse_loss``.
    """
    reduction = resolve(reduction, size_average, reduce)
    return _pointwise(jnp.square, input, target, reduction, weight)
