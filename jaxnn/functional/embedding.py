"""Embedding and ranking losses: margin_ranking, hinge_embedding, cosine_embedding,
triplet_margin, triplet_margin_with_distance (torch.nn.functional's names). The
triplet losses measure with :func:`jaxnn.functional.distance.pairwise_distance`.

Each follows torch's composite ATen implementation (``aten/src/ATen/native/Loss.cpp``,
``Distance.cpp``) term by term, so values and gradients agree with torch's autograd,
including at the hinges: torch's ``clamp_min`` passes the gradient at a tie.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from . import _ops
from ._shape_checks import as_array, broadcast_all, check_static_value, float_input, float_result_dtype, same_ndim
from ._reduction import apply_reduction, resolve
from .distance import pairwise_distance

__all__ = [
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

# torch's Loss.cpp declares ``constexpr float EPSILON = 1e-12``: the float32 value
# is what reaches float64 inputs too.
_COSINE_EPSILON = float(np.float32(1e-12))


def _sign_target(target: ArrayLike) -> jax.Array:
    """A +-1 target of any real dtype (torch accepts integer and floating targets)."""
    target = as_array(target, "target")
    if target.dtype == jnp.bool_ or jnp.issubdtype(target.dtype, jnp.complexfloating):
        raise TypeError(f"target must hold real numbers (+1 / -1), got dtype {target.dtype}")
    return target


def _check_margin(margin: float) -> None:
    check_static_value(lambda m: m > 0, margin, f"margin must be greater than 0, got {margin}")


def margin_ranking_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """``max(0, -target * (input1 - input2) + margin)``, reduced.

    Args:
      input1, input2: scores, same number of dimensions (shapes broadcast as in torch).
      target: +1 where ``input1`` should rank higher, -1 where ``input2`` should;
        same number of dimensions; integer or floating.
      margin: the required gap.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      The loss, a scalar or the broadcast shape with 'none'. Mean of empty is nan.

    At the hinge (``-target * (input1 - input2) + margin == 0``) the gradient is
    torch's ``clamp_min`` one: it passes through (d/d input1 = -target).
    The target gets a gradient too, as in torch.

    Reference: ``torch.nn.functional.margin_ranking_loss``.

    Example:
      >>> F.margin_ranking_loss(jnp.array([1.0, 2.0]), jnp.array([2.0, 1.0]), jnp.ones(2))
      Array(0.5, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    x1 = float_input(input1, "input1")
    x2 = float_input(input2, "input2")
    y = _sign_target(target)
    same_ndim((x1, x2, y), ("input1", "input2", "target"), "margin_ranking_loss")
    x1, x2, y = broadcast_all((x1, x2, y), ("input1", "input2", "target"))
    dtype = float_result_dtype(x1, x2, y)
    x1, x2, y = x1.astype(dtype), x2.astype(dtype), y.astype(dtype)
    return apply_reduction(_ops.clamp_min(-y * (x1 - x2) + margin, 0), reduction)


def hinge_embedding_loss(
    input: ArrayLike,
    target: ArrayLike,
    margin: float = 1.0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """``input`` where target is 1, ``max(0, margin - input)`` where target is -1, reduced.

    torch's exact rule: an element gets ``max(0, margin - input)`` where
    ``target != 1`` plus ``input`` where ``target != -1``, so a target that is
    neither 1 nor -1 gets both terms.

    Args:
      input: distances (usually non-negative), any shape.
      target: +-1 labels, broadcastable to ``input``; integer or floating.
      margin: the hinge's margin.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      The loss in ``input``'s dtype, a scalar or the broadcast shape with 'none'.

    At ``input == margin`` with target -1 the gradient is -1 (torch's clamp_min
    passes it at the tie).

    Reference: ``torch.nn.functional.hinge_embedding_loss``.

    Example:
      >>> F.hinge_embedding_loss(jnp.array([0.3, 2.0]), jnp.array([1.0, -1.0])).round(4)
      Array(0.14999999, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    x = float_input(input, "input")
    y = _sign_target(target)
    x, y = broadcast_all((x, y), ("input", "target"))
    zero = jnp.zeros((), x.dtype)
    hinge = jnp.where(y != 1, _ops.clamp_min(margin - x, 0), zero)
    return apply_reduction(hinge + jnp.where(y != -1, x, zero), reduction)


def cosine_embedding_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos(x1, x2) - margin)`` where -1.

    ``cos = <x1, x2> / sqrt((|x1|^2 + 1e-12) * (|x2|^2 + 1e-12))`` as torch computes it,
    so a zero vector has cosine 0 (loss 1 for target 1) and a large but finite
    gradient, exactly torch's. A target that is neither 1 nor -1 contributes 0.

    Args:
      input1, input2: (N, D) with a (N,) target, or (D,) with a 0-d target;
        input1 and input2 broadcast together.
      target: +-1 labels, (N,) or 0-d; integer or floating.
      margin: in [-1, 1]; 0 to 0.5 is typical.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      The loss, a scalar or (N,) with 'none'. Mean of an empty batch is nan.

    Reference: ``torch.nn.functional.cosine_embedding_loss``.

    Example:
      >>> F.cosine_embedding_loss(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([1]))
      Array(1., dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    x1 = float_input(input1, "input1")
    x2 = float_input(input2, "input2")
    y = _sign_target(target)
    if y.ndim not in (0, 1):
        raise ValueError(
            f"0D or 1D target tensor expected, multi-target not supported: target shape {tuple(y.shape)}"
        )
    if x1.ndim != y.ndim + 1 or x2.ndim != y.ndim + 1:
        raise ValueError(
            f"{y.ndim}D target tensor expects {y.ndim + 1}D input tensors, but found input1 shape "
            f"{tuple(x1.shape)} and input2 shape {tuple(x2.shape)}"
        )
    x1, x2 = broadcast_all((x1, x2), ("input1", "input2"))
    dtype = float_result_dtype(x1, x2)
    x1, x2 = x1.astype(dtype), x2.astype(dtype)
    prod_sum = jnp.sum(x1 * x2, axis=-1)
    mag_square1 = jnp.sum(x1 * x1, axis=-1) + _COSINE_EPSILON
    mag_square2 = jnp.sum(x2 * x2, axis=-1) + _COSINE_EPSILON
    cos = prod_sum / jnp.sqrt(mag_square1 * mag_square2)
    cos, y = broadcast_all((cos, y), ("cosine of input1 and input2", "target"))
    zero = jnp.zeros((), dtype)
    pos = jnp.where(y == 1, 1 - cos, zero)
    neg = jnp.where(y == -1, _ops.clamp_min(cos - margin, 0), zero)
    return apply_reduction(pos + neg, reduction)


_TRIPLET_NAMES = ("anchor", "positive", "negative")


def _triplet(
    name: str,
    distance: Callable[[jax.Array, jax.Array], jax.Array],
    anchor: jax.Array,
    positive: jax.Array,
    negative: jax.Array,
    margin: float,
    swap: bool,
    reduction: str,
) -> jax.Array:
    """Shared body of the triplet losses: ``max(0, margin + d(a, p) - d(a, n))``, reduced.

    With ``swap``, ``d(a, n)`` is replaced by ``min(d(a, n), d(p, n))`` (Balntas
    et al.); at a tie the gradient splits evenly between both, as torch's minimum.
    """
    same_ndim((anchor, positive, negative), ("anchor", "positive", "negative"), name)
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = jnp.minimum(dist_neg, distance(positive, negative))
    return apply_reduction(_ops.clamp_min(margin + dist_pos - dist_neg, 0), reduction)


def triplet_margin_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with ``d = pairwise_distance``.

    Args:
      anchor, positive, negative: (N, D), or unbatched (D,); same number of
        dimensions (shapes broadcast as in torch); the distance runs over the last axis.
      margin: must be > 0 (``ValueError`` otherwise, as torch).
      p: the norm's order, any real number (see :func:`pairwise_distance`).
      eps: added inside the norm: ``||x1 - x2 + eps||_p``.
      swap: use ``min(d(a, n), d(p, n))`` as the negative distance.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      The loss: a scalar, or (N,) with 'none' (a scalar for unbatched input).

    Reference: ``torch.nn.functional.triplet_margin_loss``.

    Example:
      >>> F.triplet_margin_loss(jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.ones((1, 2))).round(4)
      Array(0., dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    _check_margin(margin)
    arrays = [float_input(x, n) for x, n in ((anchor, "anchor"), (positive, "positive"), (negative, "negative"))]
    same_ndim(arrays, _TRIPLET_NAMES, "triplet_margin_loss")
    # the pairwise distances broadcast their inputs; checking here names the arguments
    a, pos, neg = broadcast_all(arrays, _TRIPLET_NAMES)
    distance = lambda x1, x2: pairwise_distance(x1, x2, p, eps)  # noqa: E731
    return _triplet("triplet_margin_loss", distance, a, pos, neg, margin, swap, reduction)


def triplet_margin_with_distance_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function: Optional[Callable[[jax.Array, jax.Array], jax.Array]] = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` for any distance ``d``.

    Args:
      anchor, positive, negative: arrays with the same number of dimensions,
        whatever ``distance_function`` accepts (usually (N, D) or (D,)).
      distance_function: any JAX-traceable callable of two arrays returning
        non-negative distances; default :func:`pairwise_distance` (L2, eps 1e-6),
        as torch. Gradients flow through it.
      margin: must be > 0 (``ValueError`` otherwise, as torch).
      swap: use ``min(d(a, n), d(p, n))`` as the negative distance.
      reduction: 'none' | 'mean' | 'sum'.

    All options are keyword-only, as in torch.

    Returns:
      The loss: a scalar, or the distance function's output shape with 'none'.

    Reference: ``torch.nn.functional.triplet_margin_with_distance_loss``.

    Example:
      >>> l1 = lambda a, b: jnp.abs(a - b).sum(-1)
      >>> zeros = jnp.zeros((1, 2))
      >>> F.triplet_margin_with_distance_loss(zeros, zeros, jnp.ones((1, 2)), distance_function=l1)
      Array(0., dtype=float32)
    """
    reduction = resolve(reduction)
    _check_margin(margin)
    arrays: Sequence[jax.Array] = [
        as_array(x, n) for x, n in ((anchor, "anchor"), (positive, "positive"), (negative, "negative"))
    ]
    if distance_function is None:
        same_ndim(arrays, _TRIPLET_NAMES, "triplet_margin_with_distance_loss")
        arrays = broadcast_all(arrays, _TRIPLET_NAMES)
    distance = pairwise_distance if distance_function is None else distance_function
    a, pos, neg = arrays
    return _triplet("triplet_margin_with_distance_loss", distance, a, pos, neg, margin, swap, reduction)
