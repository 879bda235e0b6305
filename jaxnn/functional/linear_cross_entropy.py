"""torch 2.13's ``linear_cross_entropy``: ``cross_entropy(linear(x, W, b), target)``
with an opt-in chunked path that never holds the full ``(N, C)`` logits."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._lce_kernel import _acc, chunked_nll, chunked_weighted_nll_sum
from .nll import cross_entropy
from .linear import linear

__all__ = ["LinearCrossEntropyOptions", "linear_cross_entropy"]


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """torch's ``nn.LinearCrossEntropyOptions``: passing one to
    :func:`linear_cross_entropy` selects the chunked path.

    Fields (torch's names and defaults):
      batch_chunk_size: rows per chunk; ``None`` lets ``chunking_method`` decide
        (or, with ``chunking_method=None``, one chunk).
      chunking_method: ``"auto"`` (torch's CPU pick for float32,
        ``"aspect_ratio:2"``), ``"aspect_ratio"`` / ``"aspect_ratio:K"`` (a
        ``(chunk, C)`` block about the size of the ``(N, d)`` input, divided by
        K: ``next_pow2(ceil(N / ceil(C / d))) // K``), or ``None``.
      acc_policy, acc_dtype, allow_retain_graph: accepted and validated for
        torch compatibility; jaxnn always accumulates half precision in float32
        and its gradients are ordinary JAX values (no retain-graph question).
    """

    allow_retain_graph: bool = False
    batch_chunk_size: Optional[int] = None
    chunking_method: Optional[str] = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            factor = factor if sep else "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if self.batch_chunk_size is not None and (
            isinstance(self.batch_chunk_size, bool)
            or not isinstance(self.batch_chunk_size, int)
            or self.batch_chunk_size <= 0
        ):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {self.batch_chunk_size!r}")

    def chunk_size(self, num_batches: int, in_features: int, num_classes: int) -> int:
        """The rows per chunk for an ``(num_batches, in_features)`` input and
        ``num_classes`` classes, resolved as torch resolves it."""
        method = self.chunking_method
        if method == "auto":
            method = None if self.batch_chunk_size is not None else "aspect_ratio:2"
        size = num_batches if self.batch_chunk_size is None else min(self.batch_chunk_size, num_batches)
        if method is not None:
            factor = int(method.split(":", 1)[1]) if ":" in method else 1
            target = -(-num_batches // -(-num_classes // max(in_features, 1)))
            computed = min((1 << (target - 1).bit_length()) // factor, num_batches)
            if self.batch_chunk_size is not None and self.batch_chunk_size != computed:
                raise ValueError(
                    f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method ('{method}') give different "
                    f"chunk sizes ({self.batch_chunk_size} vs {computed}); pass only one."
                )
            size = computed
        return max(size, 1)


def linear_cross_entropy(
    input: ArrayLike,
    linear_weight: ArrayLike,
    target: ArrayLike,
    *,
    linear_bias: Optional[ArrayLike] = None,
    weight: Optional[ArrayLike] = None,
    reduction: str = "mean",
    ignore_index: Optional[int] = None,
    label_smoothing: float = 0.0,
    options: Optional[LinearCrossEntropyOptions] = None,
) -> jax.Array:
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``, torch 2.13's
    ``F.linear_cross_entropy``: the loss of an LLM head without the logits.

    Args:
      input: ``(in_features,)`` or ``(N, in_features)``.
      linear_weight: ``(C, in_features)``, or ``(C, d_1..d_K, in_features)`` for a
        K-dimensional loss (batched input only).
      target: class indices ``()``/``(N,)``/``(N, d_1..d_K)``, or class
        probabilities of the logits' shape ``(N, C, d_1..d_K)``.
      linear_bias: ``(C, d_1..d_K)`` or ``None``.
      weight, reduction, label_smoothing: as :func:`cross_entropy`.
      ignore_index: ``None`` means -100 for class indices (as torch); it may not
        be given with probability targets.
      options: ``None`` for the reference path (the logits are built);
        a :class:`LinearCrossEntropyOptions` for the chunked path: chunks of rows
        through a custom VJP, so no pass holds more than one ``(chunk, C)`` block.
        For 'mean' and 'sum' the loss is ``sum_i coef_i nll_i`` (``coef`` = the row
        weights, divided by their sum for 'mean'), whose gradient is linear in the
        scalar cotangent: differentiated, one ``lax.scan`` computes the loss and
        its gradient together (3 matmuls per block, as fused kernels do) and the
        backward only scales them; for 'none' a ``lax.map`` forward keeps the row
        log-sum-exps and a ``lax.scan`` backward recomputes each block (4 matmuls
        per block). Undifferentiated, both run the forward alone. As torch, the
        chunked path takes integer targets, ``label_smoothing == 0`` and 2-D
        weights; other calls warn and take the reference path.

    Returns the loss, reduced as ``reduction`` says; 'mean' with class weights
    divides by the summed weight of the non-ignored targets (nan when all are
    ignored), as torch.

    >>> x, W = jnp.ones((4, 3)), jnp.ones((10, 3))
    >>> opts = LinearCrossEntropyOptions(batch_chunk_size=2)
    >>> float(linear_cross_entropy(x, W, jnp.array([0, 1, 2, 3]), options=opts))  # doctest: +ELLIPSIS
    2.302...
    """
    x, w, t = jnp.asarray(input), jnp.asarray(linear_weight), jnp.asarray(target)
    who = "linear_cross_entropy"
    if x.ndim not in (1, 2):
        raise ValueError(f"{who}: expected input with dimensionality 1 or 2, got shape {x.shape}")
    if w.ndim < 2:
        raise ValueError(f"{who}: expected linear_weight with dimensionality at least 2, got shape {w.shape}")
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"{who}: expected equal input and linear_weight last dimensions (in_features), got input {x.shape} "
            f"and linear_weight {w.shape}"
        )
    num_classes, out_features = w.shape[0], w.shape[1:-1]
    b = None if linear_bias is None else jnp.asarray(linear_bias)
    if b is not None and b.shape != (num_classes, *out_features):
        raise ValueError(f"{who}: expected linear_bias shape {(num_classes, *out_features)}, got {b.shape}")
    if out_features and x.ndim == 1:
        raise ValueError(
            f"{who}: K-dimensional loss defined by linear_weight shape {w.shape} requires batched input, "
            f"got input {x.shape}"
        )
    logits_shape = (*x.shape[:-1], num_classes, *out_features)
    probabilities = t.shape == logits_shape and jnp.issubdtype(t.dtype, jnp.floating)
    if probabilities and ignore_index is not None:
        raise ValueError(f"{who}: ignore_index cannot be specified when target contains probabilities")
    ignore = -100 if ignore_index is None else ignore_index
    chunkable = (
        not out_features
        and reduction in {"mean", "sum", "none"}
        and label_smoothing == 0.0
        and jnp.issubdtype(t.dtype, jnp.integer)
    )
    if options is not None and not chunkable:
        warnings.warn(
            f"{who}: ``options`` ignored; chunked path needs reduction in {{'mean','sum','none'}}, "
            f"label_smoothing == 0, integer class targets, out_features == (). Got reduction={reduction!r}, "
            f"label_smoothing={label_smoothing}, target.dtype={t.dtype}, out_features={tuple(out_features)}",
            UserWarning,
            stacklevel=2,
        )
    if options is None or not chunkable:
        w2 = w.reshape(math.prod(w.shape[:-1]), w.shape[-1])
        b2 = None if b is None else b.reshape(-1)
        logits = linear(x, w2, b2).reshape(logits_shape)
        return cross_entropy(
            logits, t, weight=weight, reduction=reduction, ignore_index=ignore, label_smoothing=label_smoothing
        )
    return _chunked(x, w, t, b, weight, reduction, ignore, options)


def _chunked(x, w, t, b, weight, reduction, ignore, options):
    who = "linear_cross_entropy"
    batched = x.ndim == 2
    if not batched:
        x, t = x[None], t[None]
    if t.shape != x.shape[:1]:
        raise ValueError(f"{who}: target shape {t.shape} does not match the batch of input {x.shape}")
    n, num_classes = x.shape[0], w.shape[0]
    chunk = options.chunk_size(n, x.shape[1], num_classes)
    if b is None:
        b = jnp.zeros((num_classes,), w.dtype)
    valid = t != ignore
    safe_t = jnp.where(valid, t, 0)
    acc = _acc(x.dtype)
    if weight is not None:
        cw = jnp.asarray(weight)
        if cw.shape != (num_classes,):
            raise ValueError(f"{who}: weight shape {cw.shape} must be ({num_classes},)")
        row_w = jnp.where(valid, cw.astype(acc)[safe_t], 0)
    else:
        row_w = valid.astype(acc)
    dtype = jnp.result_type(x, w)
    if reduction == "none":
        losses = chunked_nll(x, w, b, safe_t, chunk) * row_w
        out = losses if batched else losses[0]
    elif reduction == "sum":
        out = chunked_weighted_nll_sum(x, w, b, safe_t, row_w, chunk)
    else:
        # The 1/sum(row_w) goes into the coefficients, not onto S: the kernel's saved
        # gradient is then the final one (its backward scales by g = 1), so a half
        # input's dx is rounded once, as in the unfused backward.
        # Every target ignored: the loss is nan (0/0) and the gradient 0, as torch's; a 0/0
        # inside the coefficients would make the gradient nan.
        total = row_w.sum()
        out = chunked_weighted_nll_sum(x, w, b, safe_t, row_w / jnp.where(total == 0, 1, total), chunk)
        out = jnp.where(total == 0, jnp.nan, out)
    return out.astype(dtype)
