"""Multi-class margin (hinge) losses: multi_margin_loss and multilabel_margin_loss (torch 2.13).

Class indices out of range cannot raise under ``jax.jit``: with
:mod:`jaxnn.checks` off they give a ``nan`` loss; see that module for the
opt-in errors.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from .. import checks
from . import _kernels
from ._reduction import apply_reduction, resolve, upcast
from ._shape_checks import class_target, describe, float_input

__all__ = ["multi_margin_loss", "multilabel_margin_loss"]


def _kernel_hinge(z: jax.Array) -> jax.Array:
    """max(0, z) as torch's margin kernels compute it, ``z if z > 0 else 0``.

    Gradient 0 at the margin, and a nan ``z`` (from inf - inf logits) counts as 0
    where a relu would keep the nan.
    """
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def _margin_layout(input: jax.Array, fn: str) -> tuple[int, int]:
    """(frames, classes) of a 0-d, ``(C,)`` or ``(N, C)`` input with ``C > 0`` (torch's shape check)."""
    if not (input.ndim == 0 or (input.ndim in (1, 2) and input.shape[-1] != 0)):
        raise ValueError(
            f"{fn}: expected non-empty vector or matrix with optional 0-dim batch size, got input "
            f"of {describe(input)}"
        )
    if input.ndim == 2:
        return input.shape[0], input.shape[1]
    return 1, (input.shape[0] if input.ndim == 1 else 1)


def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-class hinge loss (Weston-Watkins), per sample with class index ``y``::

        l = 1/C sum_{j != y} w[y] max(0, margin - x[y] + x[j])**p

    The hinge has torch's gradient 0 exactly at the margin.

    Args:
      input: ``(N, C)``, ``(C,)`` or a scalar, ``C > 0``.
      target: integer class indices with N elements (``(N,)``; ``()`` or
        ``(1,)`` when unbatched).
      p: 1 or 2.
      margin: the margin (default 1).
      weight: optional ``(C,)`` weight, taken at the target class.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' averages over N.

    Returns:
      A scalar, or with 'none' ``(N,)`` (a scalar for a 0-d target). An empty
      batch's 'mean' is nan (torch returns an uninitialised number there).
      Out-of-range indices give nan (see :mod:`jaxnn.checks`).

    Reference: ``torch.nn.functional.multi_margin_loss`` (aten LossMultiMargin.cpp).

    Example:
      >>> F.multi_margin_loss(jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([3])).round(4)
      Array(0.325, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got p={p!r}")
    input = float_input(input, "input")
    target = class_target(target, "target")
    frames, num_classes = _margin_layout(input, "multi_margin_loss")
    if target.ndim > 1 or target.size != frames:
        raise ValueError(
            "multi_margin_loss: target should be 1-D with size equal to the number of input "
            f"samples ({frames}); got target of {describe(target)} for input of {describe(input)}"
        )
    if weight is not None:
        weight = float_input(weight, "weight")
        if weight.ndim > 1 or weight.size != num_classes:
            raise ValueError(
                f"multi_margin_loss: weight should have {num_classes} elements (one per class); "
                f"got weight of {describe(weight)}"
            )
    x = input.reshape(frames, num_classes)
    t = target.reshape(frames)
    checks.validate_class_indices(t, num_classes)
    (x,) = upcast(x)
    in_range = (t >= 0) & (t < num_classes)
    safe = jnp.where(in_range, t, 0)
    z = margin - _kernels.pick(x, safe)[:, None] + x
    hinge = _kernel_hinge(z)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight.astype(x.dtype).reshape(-1)[safe][:, None]
    hinge = jnp.where(jnp.arange(num_classes) == safe[:, None], 0, hinge)
    loss = jnp.sum(hinge, axis=1) / num_classes
    loss = jnp.where(in_range, loss, jnp.nan).astype(input.dtype)
    if reduction == "none":
        return loss.reshape(target.shape)
    return apply_reduction(loss, reduction)


def multilabel_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-label hinge loss; each sample's target classes are listed up to the first -1::

        l = 1/C sum_{j in targets} sum_{i not in targets} max(0, 1 - x[j] + x[i])

    A class listed twice counts twice, as in torch's kernel. Gradient 0 exactly
    at the hinge, as torch.

    Args:
      input: ``(N, C)``, ``(C,)`` or a scalar, ``C > 0``.
      target: integer, same shape as ``input`` (``C`` elements when unbatched):
        class indices, then -1 padding (entries after the first negative are
        ignored).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' averages over N.

    Returns:
      A scalar, or ``(N,)`` with 'none' (a scalar for unbatched input). An
      empty batch's 'mean' is nan (torch returns an uninitialised number).
      A listed index ``>= C`` gives nan; torch (and :mod:`jaxnn.checks`) reject
      any entry outside [-1, C).

    Time O(N |T| C) for the longest target list |T| in the batch, memory
    O(N C), as torch's kernel: one pass over the scores per target slot. The
    gradient is a custom VJP (the loop's length depends on the data), so
    forward-mode differentiation (``jax.jvp``) is not available for this loss.

    Reference: ``torch.nn.functional.multilabel_margin_loss`` (aten LossMultiLabelMargin.cpp).

    Example:
      >>> F.multilabel_margin_loss(jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([[3, 0, -1, 1]])).round(4)
      Array(0.84999996, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = class_target(target, "target")
    frames, num_classes = _margin_layout(input, "multilabel_margin_loss")
    fits = (
        target.shape == input.shape
        if input.ndim == 2
        else target.ndim <= 1 and target.size == num_classes
    )
    if not fits:
        raise ValueError(
            f"multilabel_margin_loss: inconsistent target of {describe(target)} for input of "
            f"{describe(input)}"
        )
    x = input.reshape(frames, num_classes)
    t = target.reshape(frames, num_classes)
    checks.validate_class_indices(t, num_classes, low=-1)
    (x,) = upcast(x)
    # Slots before each row's first negative entry list its targets.
    negative = t < 0
    stop = jnp.where(jnp.any(negative, axis=1), jnp.argmax(negative, axis=1), num_classes)
    listed = jnp.arange(num_classes) < stop[:, None]
    in_range = t < num_classes
    safe = jnp.where(listed & in_range, t, 0)
    is_target = _kernels.target_mask(safe, listed & in_range, _kernels.slots_used(listed))
    loss = _kernels.multilabel_hinge_sums(x, safe, listed, is_target) / num_classes
    loss = jnp.where(jnp.all(in_range | ~listed, axis=1), loss, jnp.nan).astype(input.dtype)
    if reduction == "none" and input.ndim < 2:
        return loss[0]
    return apply_reduction(loss, reduction)
