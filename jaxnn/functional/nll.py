"""Negative log-likelihood losses of class indices: cross_entropy and nll_loss (torch 2.13).

The class axis is dim 1. Out-of-range class indices cannot raise under
``jax.jit``: with :mod:`jaxnn.checks` off they give a ``nan`` loss; see that
module for the opt-in errors.
"""

from __future__ import annotations

import operator
from typing import Any, Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from .. import checks
from . import _kernels
from ._reduction import accumulation_dtype, apply_reduction, resolve, weighted_mean
from ._shape_checks import as_array, class_weight, describe, float_input, float_result_dtype

__all__ = ["cross_entropy", "nll_loss"]


def _log_normalizer(x: jax.Array, axis: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(max, x - max, log sum exp(x - max))`` over ``axis`` in the accumulation dtype.

    ``x - max <= 0`` and the log-sum-exp ``>= 0``, so log-softmax terms built
    from them never cancel, even for logits of +-1e4. The max carries no
    gradient: the loss does not depend on it.
    """
    acc = accumulation_dtype(x.dtype)
    top = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True)).astype(acc)
    shifted = x.astype(acc) - top
    return top, shifted, jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def _class_layout(
    input: jax.Array, target: jax.Array, fn: str
) -> tuple[jax.Array, jax.Array, bool]:
    """Batched views ``(N, C, *d)`` and ``(N, *d)`` of nll-style arguments, and whether unbatched.

    An unbatched ``(C,)`` input takes a scalar (or one-element) target, as in torch.
    """
    if input.ndim == 0:
        raise ValueError(f"{fn}: expected input with 1 or more dimensions, got {describe(input)}")
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: target must hold integer class indices; got target of {describe(target)} "
            f"for input of {describe(input)}"
        )
    if input.ndim == 1:
        expected = [(), (1,)]
    else:
        expected = [(input.shape[0], *input.shape[2:])]
    if tuple(target.shape) not in expected:
        raise ValueError(
            f"{fn}: expected target of shape {' or '.join(map(str, expected))} (the input's shape "
            f"without the class dim 1); got target of {describe(target)} for input of "
            f"{describe(input)}"
        )
    if input.ndim == 1:
        return input[None], target.reshape(1), True
    return input, target, False


def _indexed(
    input: jax.Array,
    target: jax.Array,
    weight: Optional[ArrayLike],
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    *,
    fn: str,
    log_softmax: bool,
) -> jax.Array:
    """nll_loss on ``input`` (log-probabilities, or logits when ``log_softmax``) with integer targets.

    Per element: ``-w[t] * logp[t]`` (0 where ``t == ignore_index``, nan where
    ``t`` is out of range), plus with label smoothing torch's
    ``(1 - eps) * nll + eps / C * (-sum_c w[c] * logp[c])``. 'mean' divides by
    the summed ``w[t]`` of the non-ignored targets, for both terms.
    """
    x, t, unbatched = _class_layout(input, target, fn)
    num_classes = x.shape[1]
    w = class_weight(weight, num_classes)
    ignore_index = operator.index(ignore_index)
    checks.validate_class_indices(t, num_classes, ignore_index=ignore_index)
    acc = accumulation_dtype(x.dtype)

    ignored = t == ignore_index
    in_range = (t >= 0) & (t < num_classes)
    safe = jnp.where(in_range, t, 0)
    # gathered from the logits themselves: from the shifted copy, that copy would
    # have a second reader besides the log-sum-exp and be written out in full
    # (_kernels.py, rule 2)
    log_p = _kernels.pick(x, safe).astype(acc)
    # one conversion for both uses below, so their gradients add before rounding
    # back to a half-precision input's dtype
    wide = x.astype(acc)
    if log_softmax:
        top, _, log_z = _log_normalizer(wide, axis=1)
        log_p = (log_p - top[:, 0]) - log_z[:, 0]
    w_t = jnp.ones((), acc) if w is None else w.astype(acc)[safe]
    # torch's total weight counts w[t] of every non-ignored target; an
    # out-of-range one poisons it, as torch would have raised.
    denominator = jnp.where(ignored, 0, jnp.where(in_range, w_t, jnp.nan))
    loss = -w_t * log_p
    if label_smoothing > 0:
        class_w = 1 if w is None else w.astype(acc).reshape((1, num_classes) + (1,) * (x.ndim - 2))
        total_w = num_classes if w is None else jnp.sum(w, dtype=acc)
        # sum_c w_c log p_c = sum_c w_c (x_c - max) - (sum_c w_c) log Z, both terms <= 0.
        smooth = total_w * log_z[:, 0] - _kernels.shifted_sum(class_w, wide, top)
        if reduction == "mean":
            # torch reduces the two terms separately, each over the kept targets'
            # weight: with a zero total weight its nll term is 0/0 = nan, which a
            # fused sum would turn into inf (the smoothing sum is not 0).
            denominator = denominator.astype(x.dtype)
            nll_mean = weighted_mean(_kept(loss, ignored, in_range, x.dtype), denominator, reduction)
            smooth_mean = weighted_mean(_kept(smooth, ignored, in_range, x.dtype), denominator, reduction)
            return (1 - label_smoothing) * nll_mean + (label_smoothing / num_classes) * smooth_mean
        loss = (1 - label_smoothing) * loss + (label_smoothing / num_classes) * smooth
    loss = _kept(loss, ignored, in_range, x.dtype)
    if unbatched and reduction == "none":
        return loss[0]
    return weighted_mean(loss, denominator.astype(x.dtype), reduction)


def _kept(loss: jax.Array, ignored: jax.Array, in_range: jax.Array, dtype: Any) -> jax.Array:
    """0 at ignored targets, nan at out-of-range ones (torch would have raised)."""
    return jnp.where(ignored, 0, jnp.where(in_range, loss, jnp.nan)).astype(dtype)


def _smoothing(label_smoothing: float) -> float:
    """A static label smoothing in [0, 1]; torch silently ignores negative values, jaxnn raises."""
    if isinstance(label_smoothing, jax.core.Tracer):
        raise TypeError("label_smoothing must be a Python float (a static option), not a traced value")
    label_smoothing = float(label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    return label_smoothing


def _soft_cross_entropy(
    x: jax.Array, y: jax.Array, weight: Optional[ArrayLike], reduction: str, label_smoothing: float
) -> jax.Array:
    """Cross entropy against class probabilities of the input's shape; 'mean' divides by N * d1 ... dk.

    The result has torch's dtype, the promotion of the input's, target's and
    weight's: the log-softmax is taken at the input's precision (float32 for
    half precision) and widened to it.
    """
    axis = 0 if x.ndim == 1 else 1
    num_classes = x.shape[axis]
    w = class_weight(weight, num_classes, "cross_entropy: ")
    out_dtype = float_result_dtype(x, y, *([] if w is None else [w]))
    _, shifted, log_z = _log_normalizer(x, axis=axis)
    log_p = shifted - log_z
    acc = accumulation_dtype(out_dtype)
    if log_p.dtype != acc:
        log_p = log_p.astype(acc)
    y = y.astype(acc)
    if label_smoothing > 0:
        y = y * (1 - label_smoothing) + label_smoothing / num_classes
    if w is not None:
        y = y * w.astype(acc).reshape((num_classes,) + (1,) * (x.ndim - axis - 1))
    loss = -jnp.sum(y * log_p, axis=axis).astype(out_dtype)
    return apply_reduction(loss, reduction)


def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Cross entropy between logits and class indices or class probabilities (torch's rules).

    With class indices ``y``, per element (``p = softmax(input)`` over dim 1)::

        l = (1 - eps) * (-w[y] log p[y]) + eps / C * (-sum_c w[c] log p[c])

    (``eps = label_smoothing``, ``w = 1`` without ``weight``), and ``l = 0``
    where ``y == ignore_index``. 'mean' divides the sum by ``sum w[y]`` over
    non-ignored elements (the count without ``weight``), for both terms; all
    elements ignored, or an empty batch, gives nan.

    With class probabilities ``q`` (a floating target of the input's shape)::

        l = -sum_c w[c] q'[c] log p[c],   q' = (1 - eps) q + eps / C

    and 'mean' divides by the number of elements N * d1 * ... * dk (not by the
    weights); ``ignore_index`` must stay negative.

    Args:
      input: logits ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
      target: integer class indices ``()``, ``(N,)`` or ``(N, d1, ..., dk)``
        (any integer dtype), or floating probabilities of ``input``'s shape.
      weight: optional ``(C,)`` rescaling weight per class.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      ignore_index: a target value that contributes nothing (any int, also a
        valid class).
      reduction: 'none' | 'mean' | 'sum'.
      label_smoothing: in [0, 1] (static).

    Returns:
      A scalar, or with 'none' the per-element loss of shape ``()``, ``(N,)``
      or ``(N, d1, ..., dk)``; in ``input``'s dtype, or with class
      probabilities in the promotion of ``input``'s, ``target``'s and
      ``weight``'s dtypes (torch's).

    An out-of-range index gives a nan loss (see :mod:`jaxnn.checks` for errors).
    The logits are read by one max and one log-sum-exp reduction; the target
    logit by a gather, with no one-hot of the logits' size.

    Reference: ``torch.nn.functional.cross_entropy`` (aten LossNLL.cpp).

    Example:
      >>> F.cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])).round(4)
      Array(1.3863, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    label_smoothing = _smoothing(label_smoothing)
    input = float_input(input, "input")
    target = as_array(target, "target")
    if input.ndim == 0:
        raise ValueError(f"cross_entropy: expected input with 1 or more dimensions, got {describe(input)}")
    if tuple(target.shape) == tuple(input.shape):
        if not jnp.issubdtype(target.dtype, jnp.floating):
            raise TypeError(
                f"cross_entropy: a target of the input's shape holds class probabilities and needs a "
                f"floating dtype; got target of {describe(target)} for input of {describe(input)} "
                "(class indices have no class dim 1)"
            )
        if operator.index(ignore_index) >= 0:
            raise ValueError(
                f"cross_entropy: ignore_index={ignore_index} is not supported for class-probability "
                "(floating) targets"
            )
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise TypeError(
            f"cross_entropy: target of {describe(target)} does not fit input of {describe(input)}: "
            "class probabilities need a floating target of the input's shape, class indices an "
            "integer target without the class dim 1"
        )
    return _indexed(
        input, target, weight, ignore_index, reduction, label_smoothing, fn="cross_entropy", log_softmax=True
    )


def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Negative log-likelihood of class indices: ``-w[y] * input[y]`` per element.

    Elements with ``y == ignore_index`` give 0; 'mean' divides by the summed
    ``w[y]`` of the others (nan when all are ignored or the batch is empty).

    Args:
      input: log-probabilities ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
      target: integer class indices ``()``, ``(N,)`` or ``(N, d1, ..., dk)``.
      weight, size_average, ignore_index, reduce, reduction: as :func:`cross_entropy`.

    Returns:
      A scalar, or the per-element loss with 'none'.

    Reference: ``torch.nn.functional.nll_loss`` (aten LossNLL.cpp).

    Example:
      >>> F.nll_loss(jnp.log(jnp.array([[0.25, 0.75]])), jnp.array([1])).round(4)
      Array(0.2877, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    return _indexed(
        float_input(input, "input"),
        as_array(target, "target"),
        weight,
        ignore_index,
        reduction,
        0.0,
        fn="nll_loss",
        log_softmax=False,
    )
