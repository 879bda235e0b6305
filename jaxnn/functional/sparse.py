"""Lookup tables: embedding and embedding_bag (torch.nn.functional's names; torch
keeps them in ``torch/nn/modules/sparse.py``). The embedding *losses* live in
:mod:`jaxnn.functional.embedding`.

Two of torch's options act outside the returned value; here is how each maps:

* ``max_norm``: torch rescales, in place and without a gradient, every looked-up
  row of ``weight`` whose ``norm_type``-norm exceeds ``max_norm`` (to
  ``max_norm / (norm + 1e-7)`` times itself). A pure function cannot mutate its
  argument: the result is computed from the rescaled table, the gradient w.r.t.
  ``weight`` is the plain lookup's (as torch's), and the layers
  (:class:`jaxnn.Embedding`, :class:`jaxnn.EmbeddingBag`) write the rescaled
  table back into their ``weight`` (:func:`embedding_renorm` gives it).
* ``sparse``: accepted; JAX gradients are dense arrays of ``weight``'s shape.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _ops
from ..checks import IndexRangeError
from ._shape_checks import as_array, check_static_value, float_input
from ._reduction import accumulation_dtype

__all__ = ["embedding", "embedding_bag"]

_MODES = ("sum", "mean", "max")


def _indices(input: ArrayLike, name: str = "input") -> jax.Array:
    idx = as_array(input, name)
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"{name} must hold integer indices (torch: Long or Int), got dtype {idx.dtype}")
    return idx


def _table(weight: ArrayLike) -> jax.Array:
    w = float_input(weight, "weight")
    if w.ndim != 2:
        raise ValueError(f"weight has to be a 2D array, but got shape {tuple(w.shape)}")
    return w


def _check_range(idx: jax.Array, num_embeddings: int, name: str) -> None:
    check_static_value(
        lambda i: (i >= 0) & (i < num_embeddings),
        idx,
        f"{name}: index out of range, indices must be in [0, {num_embeddings})",
        IndexRangeError,
    )


def _padding_idx(padding_idx: Optional[int], num_embeddings: int, name: str) -> Optional[int]:
    """torch's rule: a negative ``padding_idx`` counts from the end; out of range is an error."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{name}: padding_idx ({padding_idx}) must be within num_embeddings ({num_embeddings})")
    return padding_idx % num_embeddings


def embedding_renorm(weight: jax.Array, idx: jax.Array, max_norm: float, norm_type: float) -> jax.Array:
    """torch's ``embedding_renorm_`` as a value: ``weight`` with each row that ``idx``
    references and whose norm exceeds ``max_norm`` scaled by ``max_norm / (norm + 1e-7)``.
    Gradient-free, as torch runs it under ``no_grad``."""
    w = jax.lax.stop_gradient(weight)
    norms = _ops.vector_norm(w, float(norm_type), 1, False)
    referenced = jnp.zeros(w.shape[0], bool).at[idx.reshape(-1)].set(True)
    scale = jnp.where(referenced & (norms > max_norm), max_norm / (norms + 1e-7), 1.0)
    return w * scale[:, None].astype(w.dtype)


@jax.custom_jvp
def _value_with_gradient_of(weight: jax.Array, value: jax.Array) -> jax.Array:
    """``value``, differentiated as ``weight`` (the identity's gradient)."""
    return value


@_value_with_gradient_of.defjvp
def _value_with_gradient_of_jvp(primals, tangents):
    return primals[1], tangents[0]


def _renormed(weight: jax.Array, idx: jax.Array, max_norm: Optional[float], norm_type: float) -> jax.Array:
    """The table the lookup reads: renormed in value, the original for the gradient (torch
    renorms in place under no_grad, then differentiates the lookup). Exactly the renormed
    value: ``weight + (renormed - weight)`` was 0 for a row of 1e200 and an ulp off elsewhere."""
    if max_norm is None:
        return weight
    return _value_with_gradient_of(weight, embedding_renorm(weight, idx, max_norm, norm_type))


def _counts(idx: jax.Array, num_embeddings: int, dtype) -> jax.Array:
    """How often each row of the table is referenced by ``idx``."""
    return jnp.zeros(num_embeddings, dtype).at[idx.reshape(-1)].add(1)


def _bag_freq_divisor(idx: jax.Array, num_embeddings: int, dtype) -> jax.Array:
    """The per-row divisor torch's CPU ``embedding_bag`` backward uses for ``scale_grad_by_freq``.

    ``_embedding_bag_dense_backward_cpu_sum_mean`` (aten/src/ATen/native/EmbeddingBag.cpp)
    walks the unique indices in sorted order and divides the ``k``-th one's gradient by
    ``counts[sorted_indices[k]]``: the count of whatever index sits at position ``k`` of
    the sorted input, not the row's own count (torch's CUDA kernel and ``embedding``
    use the own count). jaxnn follows the CPU oracle; for inputs whose indices are
    all distinct, or sorted with equal counts, both agree.
    """
    counts = _counts(idx, num_embeddings, dtype)
    rank = jnp.cumsum(counts > 0) - 1
    ordered = jnp.sort(idx.reshape(-1))
    return jnp.take(counts, jnp.take(ordered, jnp.clip(rank, 0, ordered.shape[0] - 1)))


def _lookup(
    weight: jax.Array, idx: jax.Array, padding_idx: Optional[int], freq_divisor: Optional[jax.Array]
) -> jax.Array:
    """``weight[idx]`` whose gradient is 0 on the padding row and, with a
    ``freq_divisor`` (one entry per table row), divided by it."""
    rows = jnp.take(weight, idx, axis=0)
    if padding_idx is None and freq_divisor is None:
        return rows
    scale = jnp.ones(idx.shape, weight.dtype)
    if freq_divisor is not None:
        scale = 1.0 / jnp.take(freq_divisor, idx)
    if padding_idx is not None:
        scale = jnp.where(idx != padding_idx, scale, 0.0)
    frozen = jax.lax.stop_gradient(rows)
    return frozen + (rows - frozen) * scale[..., None]


def embedding(
    input: ArrayLike,
    weight: ArrayLike,
    padding_idx: Optional[int] = None,
    max_norm: Optional[float] = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> jax.Array:
    """``weight[input]``: rows of a ``(num_embeddings, embedding_dim)`` table.

    Args:
      input: integer indices of any shape, in ``[0, num_embeddings)``.
      weight: ``(num_embeddings, embedding_dim)``.
      padding_idx: this row (negative counts from the end) gets no gradient; its
        current value is still returned.
      max_norm, norm_type: rows looked up whose ``norm_type``-norm exceeds
        ``max_norm`` are returned rescaled (see the module docstring).
      scale_grad_by_freq: each row's gradient is divided by how often its index
        occurs in ``input``.
      sparse: accepted for torch compatibility.

    Returns:
      ``input.shape + (embedding_dim,)``.

    >>> embedding(jnp.array([[0, 2]]), jnp.arange(6.0).reshape(3, 2))
    Array([[[0., 1.],
            [4., 5.]]], dtype=float32)

    Raises:
      TypeError: non-integer ``input``. ValueError: ``weight`` not 2-D,
      ``padding_idx`` out of range, concrete indices out of range.
    """
    idx = _indices(input)
    w = _table(weight)
    padding_idx = _padding_idx(padding_idx, w.shape[0], "embedding")
    _check_range(idx, w.shape[0], "embedding")
    divisor = _counts(idx, w.shape[0], w.dtype) if scale_grad_by_freq else None
    return _lookup(_renormed(w, idx, max_norm, norm_type), idx, padding_idx, divisor)


def _check_offsets(offsets: jax.Array, n: int, include_last_offset: bool) -> None:
    check_static_value(
        lambda o: o[:1] == 0,
        offsets,
        f"embedding_bag: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
        f"from position 0. However, got offsets {offsets}",
    )
    check_static_value(
        lambda o: o[-1:] <= n,
        offsets,
        f"embedding_bag: offsets[-1] can not be greater than input's length {n}, but got offsets {offsets}",
    )
    check_static_value(
        lambda o: o[1:] >= o[:-1],
        offsets,
        f"embedding_bag: offsets must be non-decreasing (each bag starts where the previous one "
        f"does or later), got offsets {offsets}",
    )
    if include_last_offset:
        # torch accepts a smaller closing offset but then sums up to it, counts the
        # mean's divisor and takes the max up to the input's end: no one answer to match
        check_static_value(
            lambda o: o[-1:] == n,
            offsets,
            f"embedding_bag: with include_last_offset=True the last offset must equal the input's length {n}, "
            f"got offsets {offsets}",
        )


# A little over 60 lines: torch's argument checks (each raising torch's message) before the three modes.
def embedding_bag(
    input: ArrayLike,
    weight: ArrayLike,
    offsets: Optional[ArrayLike] = None,
    max_norm: Optional[float] = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Optional[ArrayLike] = None,
    include_last_offset: bool = False,
    padding_idx: Optional[int] = None,
) -> jax.Array:
    """Sums, means or maxima of bags of embedding rows, without materialising the lookup per bag.

    Args:
      input: integer indices; ``(B, L)`` for ``B`` bags of ``L`` indices each, or
        ``(n,)`` with ``offsets`` marking where each bag starts.
      weight: ``(num_embeddings, embedding_dim)``.
      offsets: ``(B,)`` starts, non-decreasing from 0 (``(B + 1,)`` with
        ``include_last_offset``, the last being the input's length); only
        with 1-D ``input``. Bag ``b`` is ``input[offsets[b]:offsets[b + 1]]``.
      max_norm, norm_type: as :func:`embedding`.
      scale_grad_by_freq: divide each row's gradient by an index frequency (not with
        ``mode='max'``). torch's CPU kernel, which jaxnn matches, divides the ``k``-th
        distinct index (in sorted order) by the count of the ``k``-th entry of the
        sorted input rather than by its own count; see ``_bag_freq_divisor``.
      mode: 'sum', 'mean' or 'max'. The max is per feature, and its gradient goes
        to the first row attaining it (torch's CPU kernel).
      sparse: accepted for torch compatibility (not with ``mode='max'``, as torch).
      per_sample_weights: ``input``-shaped weights multiplying each row, only with
        ``mode='sum'``; differentiable.
      include_last_offset: the last offset closes the last bag (CSR layout).
      padding_idx: entries with this index (negative counts from the end) are
        left out of their bag: not summed, not counted in the mean, not in the max.

    Returns:
      ``(B, embedding_dim)`` in ``weight``'s dtype; an empty bag (or one of padding
      only) is zeros. Half precision sums and means accumulate in float32.

    >>> embedding_bag(jnp.array([0, 1, 2]), jnp.eye(3), jnp.array([0, 2]), mode="sum")  # bags [0, 1] and [2]
    Array([[1., 1., 0.],
           [0., 0., 1.]], dtype=float32)

    Raises:
      TypeError: non-integer ``input``/``offsets``.
      ValueError: ``input`` not 1-D or 2-D; ``offsets`` given with 2-D input or
        missing/not 1-D with 1-D input; a bad ``mode``; ``max`` with
        ``scale_grad_by_freq`` or ``sparse``; ``per_sample_weights`` of another shape
        or with a mode other than 'sum'; ``padding_idx`` out of range; and, when
        concrete, indices out of range or offsets that do not start at 0, exceed the
        input's length or decrease, or (``include_last_offset``) whose last one is not
        the input's length: there torch's modes disagree on the last bag.
    """
    idx = _indices(input)
    w = _table(weight)
    psw = None
    if per_sample_weights is not None:
        psw = float_input(per_sample_weights, "per_sample_weights")
        if psw.shape != idx.shape:
            raise ValueError(
                f"embedding_bag: If per_sample_weights ({tuple(psw.shape)}) is not None, then it must have "
                f"the same shape as the input ({tuple(idx.shape)})"
            )
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "embedding_bag: if input is 2D, then offsets has to be None, as input is treated is a mini-batch "
                f"of fixed length sequences. However, found offsets of type {type(offsets).__name__}"
            )
        num_bags, length = idx.shape
        offs = jnp.arange(0, num_bags * length, max(length, 1), dtype=idx.dtype)[:num_bags]
        include_last_offset = False
        idx = idx.reshape(-1)
        psw = None if psw is None else psw.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: offsets has to be a 1D Tensor but got None")
        offs = _indices(offsets, "offsets")
        if offs.ndim != 1:
            raise ValueError(f"embedding_bag: offsets has to be a 1D Tensor, got shape {tuple(offs.shape)}")
        _check_offsets(offs, idx.shape[0], include_last_offset)
        num_bags = offs.shape[0] - 1 if include_last_offset else offs.shape[0]
    else:
        raise ValueError(f"embedding_bag: input has to be 1D or 2D Tensor, but got shape {tuple(idx.shape)}")
    if mode not in _MODES:
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("embedding_bag: max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("embedding_bag: max mode does not support sparse weights")
    if psw is not None and mode != "sum":
        raise ValueError(
            f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for "
            f"mode='sum' (got mode='{mode}')"
        )
    padding_idx = _padding_idx(padding_idx, w.shape[0], "embedding_bag")
    _check_range(idx, w.shape[0], "embedding_bag")

    n, dim = idx.shape[0], w.shape[1]
    divisor = _bag_freq_divisor(idx, w.shape[0], w.dtype) if scale_grad_by_freq and n else None
    rows = _lookup(_renormed(w, idx, max_norm, norm_type), idx, padding_idx, divisor)
    positions = jnp.arange(n)
    # position -> bag: the last offset at or before it (the closing offset of
    # include_last_offset equals n, so no position reaches past the last bag)
    bag = jnp.minimum(jnp.searchsorted(offs, positions, side="right") - 1, num_bags - 1)
    valid = jnp.ones(n, bool) if padding_idx is None else idx != padding_idx
    if mode == "max":
        masked = jnp.where(valid[:, None], rows, -jnp.inf)
        best = jax.ops.segment_max(jax.lax.stop_gradient(masked), bag, num_bags)
        hits = valid[:, None] & (
            jax.lax.stop_gradient(masked) == jnp.take(best, jnp.clip(bag, 0, num_bags - 1), axis=0)
        )
        # an empty bag's segment_min is the dtype's max: point it at the zero row
        first = jnp.minimum(jax.ops.segment_min(jnp.where(hits, positions[:, None], n), bag, num_bags), n)
        padded = jnp.concatenate([rows, jnp.zeros((1, dim), w.dtype)])
        return jnp.take_along_axis(padded, first, axis=0)
    acc = accumulation_dtype(w.dtype)
    rows = rows.astype(acc)
    if psw is not None:
        rows = rows * psw[:, None].astype(acc)
    summed = jax.ops.segment_sum(jnp.where(valid[:, None], rows, 0), bag, num_bags)
    if mode == "sum":
        return summed.astype(w.dtype)
    count = jax.ops.segment_sum(valid.astype(acc), bag, num_bags)
    return (summed / jnp.maximum(count, 1)[:, None]).astype(w.dtype)
