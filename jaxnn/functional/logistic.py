"""Logistic (binary) losses: binary_cross_entropy(_with_logits), soft_margin_loss and
multilabel_soft_margin_loss (torch 2.13), one independent two-class decision per element.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from .. import checks
from . import _kernels
from ._reduction import apply_reduction, resolve, upcast
from ._shape_checks import as_array, broadcast_all, broadcasts_to, describe, float_input, float_result_dtype

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
]


def _same_shape_target(input: jax.Array, target: jax.Array, message: str) -> None:
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(message.format(target=tuple(target.shape), input=tuple(input.shape)))


def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Binary cross entropy of probabilities: ``-w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))``.

    Each log term is clamped at -100 as torch does, so ``x`` of exactly 0 or 1
    gives a finite loss; the gradient is torch's
    ``w (x - y) / max(x (1 - x), 1e-12)`` (so +-1e12 there), and w.r.t. the
    target ``-w logit(x)`` (infinite at 0 and 1, as in torch).

    Args:
      input: probabilities in [0, 1], any shape.
      target: same shape as ``input`` (a different shape raises, as torch).
      weight: optional, broadcastable to ``input``'s shape.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' is over all elements.

    Returns:
      A scalar, or ``input``'s shape with 'none'. Empty input: 'mean' is nan.

    torch raises for ``input`` or ``target`` outside [0, 1]; jaxnn does so only
    with :mod:`jaxnn.checks` on, and otherwise returns nan (input) or the
    formula's value (target).

    Reference: ``torch.nn.functional.binary_cross_entropy`` (aten Loss.cpp).

    Example:
      >>> F.binary_cross_entropy(jnp.array([0.5, 0.9]), jnp.array([1.0, 1.0])).round(4)
      Array(0.39929998, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = float_input(target, "target")
    _same_shape_target(
        input,
        target,
        "Using a target size {target} that is different to the input size {input} is deprecated. "
        "Please ensure they have the same size.",
    )
    checks.validate_interval(input, 0, 1, "input")
    checks.validate_interval(target, 0, 1, "target")
    x, y = upcast(input, target)
    loss = _kernels.bce(x, y)
    if weight is not None:
        loss = loss * broadcasts_to(float_input(weight, "weight"), input.shape, "weight").astype(x.dtype)
    return apply_reduction(loss.astype(input.dtype), reduction)


def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    pos_weight: Optional[ArrayLike] = None,
) -> jax.Array:
    """Binary cross entropy of logits, torch's stable form::

        l = w ((1 - y) x - (1 + (pos_weight - 1) y) log_sigmoid(x))

    finite with finite gradients for logits of +-1e4.

    Args:
      input: logits, any shape.
      target: same shape as ``input``.
      weight: optional, broadcastable to ``input``'s shape.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' is over all elements.
      pos_weight: optional weight of positive examples, broadcast against
        ``input`` (NumPy rules from the last dim: a ``(C,)`` pos_weight of an
        ``(N, C)`` input weighs each class; use ``(C, 1, 1)`` for
        ``(N, C, H, W)``), as torch documents.

    Returns:
      A scalar, or ``input``'s shape with 'none', in ``target``'s dtype (as
      torch; the same as ``input``'s unless they differ). Empty input: 'mean'
      is nan.

    Reference: ``torch.nn.functional.binary_cross_entropy_with_logits`` (aten Loss.cpp).

    Example:
      >>> F.binary_cross_entropy_with_logits(jnp.zeros(2), jnp.array([1.0, 0.0])).round(4)
      Array(0.6931, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = as_array(target, "target")
    _same_shape_target(input, target, "Target size {target} must be the same as input size {input}")
    # torch's kernel builds the loss in place on (1 - target): the result has the (floating)
    # target's dtype, computed in the promotion of input and target; weights never widen it
    out_dtype = target.dtype if jnp.issubdtype(target.dtype, jnp.floating) else input.dtype
    x, y = upcast(input.astype(float_result_dtype(input, target)), target)
    if pos_weight is None:
        loss = _kernels.logistic_loss(x, y, False)
    else:
        pw = broadcasts_to(float_input(pos_weight, "pos_weight"), input.shape, "pos_weight").astype(x.dtype)
        loss = (1 - y) * x - jax.nn.log_sigmoid(x) * (1 + (pw - 1) * y)
    if weight is not None:
        loss = loss * broadcasts_to(float_input(weight, "weight"), input.shape, "weight").astype(x.dtype)
    return apply_reduction(loss.astype(out_dtype), reduction)


def soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Two-class logistic loss ``log(1 + exp(-y x))`` for targets ``y`` in {-1, 1}.

    Computed as a stable softplus: where torch's ``log1p(exp(-y x))``
    overflows (``-y x`` above ~88 in float32) torch returns inf with a nan
    gradient, jaxnn the finite value ``-y x`` and gradient ``-y``.

    Args:
      input: any shape.
      target: broadcastable to ``input``'s shape (any numeric dtype).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      A scalar, or ``input``'s shape with 'none'. Empty input: 'mean' is nan.

    Reference: ``torch.nn.functional.soft_margin_loss`` (aten Loss.cpp).

    Example:
      >>> F.soft_margin_loss(jnp.zeros(2), jnp.array([1.0, -1.0])).round(4)
      Array(0.6931, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = broadcasts_to(as_array(target, "target"), input.shape, "target")
    x, y = upcast(input, target)
    return apply_reduction(jax.nn.softplus(-x * y).astype(input.dtype), reduction)


def multilabel_soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """One-vs-all logistic loss averaged over the classes (the LAST dim, as torch)::

        l = -1/C sum_c w_c (y_c log_sigmoid(x_c) + (1 - y_c) log_sigmoid(-x_c))

    Args:
      input: ``(C,)`` or ``(N, C)`` (more leading dims work as in torch).
      target: 0/1 labels broadcastable with ``input`` (any numeric dtype).
      weight: optional, broadcastable (e.g. ``(C,)``).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' averages over N.

    Returns:
      A scalar, or the loss without the class dim with 'none'. Empty batch:
      'mean' is nan.

    Reference: ``torch.nn.functional.multilabel_soft_margin_loss`` (Python in torch).

    Example:
      >>> F.multilabel_soft_margin_loss(jnp.zeros((1, 3)), jnp.array([[1.0, 0.0, 1.0]])).round(4)
      Array(0.6931, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = as_array(target, "target")
    if input.ndim == 0:
        raise ValueError(f"multilabel_soft_margin_loss: input needs a class dim, got {describe(input)}")
    weight = None if weight is None else float_input(weight, "weight")
    # torch's Python arithmetic: the result promotes input, target and weight
    out_dtype = float_result_dtype(input, target, *([] if weight is None else [weight]))
    # broadcast both ways as torch's Python arithmetic does, with the arguments named on failure
    x, y = broadcast_all(upcast(input.astype(out_dtype), target), ("input", "target"))
    loss = _kernels.logistic_loss(x, y, True)
    if weight is not None:
        loss, w = broadcast_all((loss, weight.astype(x.dtype)), ("input", "weight"))
        loss = loss * w
    loss = (jnp.sum(loss, axis=-1) / input.shape[-1]).astype(out_dtype)
    return apply_reduction(loss, reduction)
