"""The one place that validates ``reduction``, maps the legacy arguments and reduces.

torch's losses share three pieces of bookkeeping: the ``reduction`` string, the
deprecated ``size_average``/``reduce`` pair that overrides it, and the final
'none' / 'mean' / 'sum' step (a weighted mean for class weights). Every loss in
:mod:`jaxnn.functional` goes through this module so the rules live once.
"""

from __future__ import annotations

import warnings
from typing import Optional

import jax
import jax.numpy as jnp

__all__ = [
    "REDUCTIONS",
    "LegacyReductionWarning",
    "legacy_get_string",
    "resolve",
    "apply_reduction",
    "weighted_mean",
    "accumulation_dtype",
    "upcast",
]

REDUCTIONS = ("none", "mean", "sum")


class LegacyReductionWarning(DeprecationWarning):
    """Raised when the deprecated ``size_average`` / ``reduce`` arguments are used."""


def legacy_get_string(
    size_average: Optional[bool], reduce: Optional[bool], emit_warning: bool = True
) -> str:
    """Maps torch's legacy ``size_average``/``reduce`` pair to a reduction string.

    Exactly ``torch.nn._reduction.legacy_get_string``: ``None`` means ``True``
    for both; ``reduce=False`` wins ('none'), then ``size_average`` picks
    'mean' or 'sum'.
    """
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(
            "size_average and reduce args will be deprecated, please use "
            f"reduction='{ret}' instead.",
            LegacyReductionWarning,
            stacklevel=3,
        )
    return ret


def resolve(
    reduction: str,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    *,
    allowed: tuple[str, ...] = REDUCTIONS,
) -> str:
    """Returns the effective reduction, validated, as torch's functional losses do.

    The legacy pair, when either is given, overrides ``reduction`` (with a
    deprecation warning). 'elementwise_mean' is accepted as 'mean' with a
    warning, as torch does.

    Raises:
      ValueError: naming the bad value and the allowed ones.
    """
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    if reduction == "elementwise_mean" and "mean" in allowed:
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            LegacyReductionWarning,
            stacklevel=3,
        )
        return "mean"
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            f"reduction={reduction!r} is not a valid value for reduction; "
            f"expected one of {', '.join(repr(a) for a in allowed)}"
        )
    return reduction


def accumulation_dtype(dtype) -> jnp.dtype:
    """float32 for half-precision inputs (reductions accumulate there), else the dtype."""
    dtype = jnp.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.floating) and dtype.itemsize < 4:
        return jnp.dtype(jnp.float32)
    return dtype


def upcast(*arrays: jax.Array) -> list[jax.Array]:
    """The arrays in the first one's accumulation dtype (float32 for half precision)."""
    acc = accumulation_dtype(arrays[0].dtype)
    return [a.astype(acc) for a in arrays]


def apply_reduction(loss: jax.Array, reduction: str) -> jax.Array:
    """Applies an already-validated reduction; half precision accumulates in float32.

    Named apart from torch's legacy ``reduce`` argument, which every loss also takes.

    'mean' of an empty array is nan, as in torch.
    """
    if reduction == "none":
        return loss
    acc = accumulation_dtype(loss.dtype)
    if reduction == "sum":
        return jnp.sum(loss, dtype=acc).astype(loss.dtype)
    if reduction == "mean":
        return jnp.mean(loss, dtype=acc).astype(loss.dtype)
    raise ValueError(f"reduction={reduction!r} is not a valid value for reduction")


def weighted_mean(loss: jax.Array, weight: jax.Array, reduction: str) -> jax.Array:
    """Reduces ``loss`` whose elements carry ``weight``: 'mean' is sum(loss) / sum(weight).

    This is torch's rule for class weights (cross_entropy, nll_loss) and for the
    per-element ``weight`` of l1/mse/huber: the weight must already be folded into
    ``loss``; only the denominator changes. ``weight`` broadcasts to ``loss``. A zero total weight gives nan (0/0),
    as in torch.
    """
    if reduction != "mean":
        return apply_reduction(loss, reduction)
    acc = accumulation_dtype(loss.dtype)
    total = jnp.sum(loss, dtype=acc)
    denom = jnp.sum(jnp.broadcast_to(weight, loss.shape), dtype=acc)
    return (total / denom).astype(loss.dtype)
