"""Regression losses: l1, mse, huber, smooth_l1 (torch.nn.functional's names)."""

from __future__ import annotations

import functools
import numbers
from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _kernels, _ops
from ._shape_checks import as_array, broadcast_pair, float_input
from ._reduction import apply_reduction, resolve, weighted_mean

__all__ = ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"]


def _pointwise(
    elementwise: Callable[[jax.Array, jax.Array], jax.Array],
    input: ArrayLike,
    target: ArrayLike,
    reduction: str,
    weight: Optional[ArrayLike],
    *,
    mean_over_weight: bool = True,
    input_dtype_out: bool = False,
) -> jax.Array:
    """Shared body of the pointwise regression losses: broadcast, f(input, target), reduce.

    With ``weight`` (torch 2.13), each element's loss is multiplied by it; the
    weight must have the input's shape. 'mean' then divides by ``weight.sum()``
    (l1, mse) or, with ``mean_over_weight=False``, by the element count (huber:
    torch 2.13 takes a plain ``.mean()`` of the weighted loss there).
    ``input_dtype_out``: the elementwise loss is cast to ``input``'s dtype after
    being computed in the promoted one (torch's huber kernel writes into a
    tensor like ``input``; l1/mse/smooth_l1 return the promoted dtype).
    """
    input = float_input(input, "input")
    x, y = broadcast_pair(input, float_input(target, "target"))
    loss = elementwise(x, y)
    if input_dtype_out:
        loss = loss.astype(input.dtype)
    if weight is None:
        return apply_reduction(loss, reduction)
    weight = as_array(weight, "weight")
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            f"Weights and input must have the same size: weight shape {tuple(weight.shape)}, "
            f"input shape {tuple(input.shape)}"
        )
    loss = loss * weight
    if mean_over_weight:
        return weighted_mean(loss, weight, reduction)
    return apply_reduction(loss, reduction)


def _l1(x: jax.Array, y: jax.Array) -> jax.Array:
    return _ops.abs(x - y)


def _squared(x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.square(x - y)


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

    Example:
      >>> F.l1_loss(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0]))
      Array(1., dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    return _pointwise(_l1, input, target, reduction, weight)


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

    Example:
      >>> F.mse_loss(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0]), reduction="sum")
      Array(4., dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    return _pointwise(_squared, input, target, reduction, weight)


def _static_threshold(value, name: str, fn: str, *, allow_zero: bool) -> float:
    """``delta``/``beta`` as torch takes them: a Python number, checked here, at trace time."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a float or int, got {type(value).__name__}")
    # `not >=` so that nan is rejected too, as torch's kernel check does
    # (the ignore: typeshed's numbers.Real declares no comparison with an int)
    if not (value >= 0) or (value == 0 and not allow_zero):  # type: ignore[operator]
        bound = "negative" if allow_zero else "non-positive"
        raise ValueError(f"{fn} does not support {bound} values for {name}, got {name}={value}")
    return float(value)


def huber_loss(
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Optional[ArrayLike] = None,
) -> jax.Array:
    r"""Huber loss: ``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``.

    With $d = \text{input} - \text{target}$, elementwise:

    $$\ell(d) = \begin{cases} \tfrac12 d^2 & |d| < \delta \\
    \delta \left(|d| - \tfrac12 \delta\right) & \text{otherwise.} \end{cases}$$

    Args:
      input: predictions, any shape.
      target: same shape as ``input`` (broadcastable shapes work with torch's
        ``UserWarning``).
      reduction: 'none' | 'mean' | 'sum'.
      delta: the switch point, a Python number > 0 (static under ``jax.jit``).
      weight: optional per-element weights of ``input``'s shape (torch 2.13).
        Unlike l1/mse, 'mean' is then the plain mean of ``weight * loss`` over
        the elements, not divided by ``weight.sum()`` -- torch's rule.

    Returns:
      The loss: a scalar, or the broadcast shape with ``reduction='none'``,
      in ``input``'s dtype even when ``target``'s is wider (torch's kernel;
      promoted with ``weight``'s dtype when given). The mean of an empty
      input is nan.

    Gradient w.r.t. ``input``: ``d`` inside, ``delta * sign(d)`` from
    ``|d| >= delta`` on (the switch point takes the linear side, as torch's
    kernel), 0 at ``d == 0``; finite at ``d = +-inf``.

    Raises:
      ValueError: ``delta <= 0`` (torch: "huber_loss does not support
        non-positive values for delta"), a bad ``reduction``, a ``weight`` of
        another shape, shapes that do not broadcast.

    Reference: ``torch.nn.functional.huber_loss``.

    Example:
      >>> F.huber_loss(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="none")
      Array([0.125, 2.5  ], dtype=float32)
    """
    delta = _static_threshold(delta, "delta", "huber_loss", allow_zero=False)
    reduction = resolve(reduction)
    return _pointwise(
        functools.partial(_kernels.huber, threshold=delta, smooth=False),
        input,
        target,
        reduction,
        weight,
        mean_over_weight=False,
        input_dtype_out=True,
    )


def smooth_l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> jax.Array:
    """Smooth L1: ``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta``.

    ``d = input - target``; this is ``huber_loss(delta=beta) / beta``, and
    ``beta == 0`` is exactly :func:`l1_loss` (value and gradient, as torch
    dispatches it).

    Args:
      input: predictions, any shape.
      target: same shape as ``input`` (broadcastable shapes work with torch's
        ``UserWarning``).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.
      beta: the switch point, a Python number >= 0 (static under ``jax.jit``).

    Returns:
      The loss: a scalar, or the broadcast shape with ``reduction='none'``.
      The mean of an empty input is nan.

    Gradient w.r.t. ``input``: ``d / beta`` inside, ``sign(d)`` from
    ``|d| >= beta`` on, 0 at ``d == 0``.

    Raises:
      ValueError: ``beta < 0`` (torch: "smooth_l1_loss does not support
        negative values for beta"), a bad ``reduction``, shapes that do not
        broadcast.

    Reference: ``torch.nn.functional.smooth_l1_loss``.

    Example:
      >>> F.smooth_l1_loss(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="none", beta=2.0)
      Array([0.0625, 2.    ], dtype=float32)
    """
    beta = _static_threshold(beta, "beta", "smooth_l1_loss", allow_zero=True)
    reduction = resolve(reduction, size_average, reduce)
    if beta == 0.0:
        return _pointwise(_l1, input, target, reduction, None)
    return _pointwise(
        functools.partial(_kernels.huber, threshold=beta, smooth=True), input, target, reduction, None
    )
