"""Embedding and EmbeddingBag: lookup tables with torch's N(0, 1) init, padding_idx and
max_norm, calling :func:`jaxnn.functional.embedding` / :func:`~jaxnn.functional.embedding_bag`."""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from .. import init
from ..functional.sparse import embedding_renorm
from ..module import Module
from ..parameter import Parameter
from ._common import float_dtype, require_rngs, sizes

__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    """torch.nn.Embedding: ``weight[input]`` for integer ``input`` of any shape.

    Args:
      num_embeddings, embedding_dim: the table is ``weight (num_embeddings, embedding_dim)``,
        initialised N(0, 1).
      padding_idx: this row (negative counts from the end) is zeroed at init and
        never receives a gradient; its current value is still returned.
      max_norm: rows looked up whose ``norm_type``-norm exceeds it are rescaled to
        ``max_norm / (norm + 1e-7)`` times themselves in the table, as torch does in
        place (a gradient-free update); the gradient w.r.t. the table is the plain
        lookup's. Inside a pure train step the rescaled table lives only in that step.
      scale_grad_by_freq: the gradient of each row is divided by how often its
        index occurs in the batch.
      sparse: accepted for torch compatibility; JAX gradients are dense.
      _weight, _freeze: an initial table (used as is) and ``requires_grad=False``.
      rngs: ``nnx.Rngs`` for the initial draw (not needed with ``_weight``).

    Raises:
      ValueError: ``padding_idx`` outside ``[-num_embeddings, num_embeddings)``;
        a ``_weight`` of another shape; concrete indices out of range on call.
      TypeError: non-integer indices.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: Optional[int] = None,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Optional[ArrayLike] = None,
        _freeze: bool = False,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        padding_idx = _padding_idx("Embedding", padding_idx, num_embeddings)
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = (
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
        )
        weight = _table("Embedding", num_embeddings, embedding_dim, padding_idx, _weight, rngs, dtype)
        self.weight = Parameter(weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: ArrayLike,
        freeze: bool = True,
        padding_idx: Optional[int] = None,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> "Embedding":
        """An Embedding holding ``embeddings`` (2-D) as its table, frozen by default."""
        table = Parameter(embeddings)[...]
        if table.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {table.shape}")
        num_embeddings, embedding_dim = table.shape
        return cls(
            num_embeddings,
            embedding_dim,
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            _weight=table,
            _freeze=freeze,
        )

    def __call__(self, input: ArrayLike) -> jax.Array:
        out = F.embedding(
            input,
            self.weight[...],
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )
        if self.max_norm is not None:
            self.weight[...] = embedding_renorm(self.weight[...], jnp.asarray(input), self.max_norm, self.norm_type)
        return out

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s


def _table(
    layer: str,
    num_embeddings: int,
    embedding_dim: int,
    padding_idx: Optional[int],
    _weight: Optional[ArrayLike],
    rngs: Optional[nnx.Rngs],
    dtype: Any,
) -> jax.Array:
    """The initial table: ``_weight`` as given, else N(0, 1) with the padding row zeroed (torch)."""
    shape = (num_embeddings, embedding_dim)
    if _weight is not None:
        weight = Parameter(_weight)[...]
        if weight.shape != shape:
            raise ValueError(f"{layer}: _weight has shape {weight.shape}, expected {shape}")
        return weight
    weight = init.normal_(require_rngs(rngs, layer).params(), shape, dtype=float_dtype(dtype))
    return weight if padding_idx is None else weight.at[padding_idx].set(0)


def _padding_idx(layer: str, padding_idx: Optional[int], num_embeddings: int) -> Optional[int]:
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{layer}: padding_idx ({padding_idx}) must be within num_embeddings ({num_embeddings})")
    return padding_idx % num_embeddings


class EmbeddingBag(Module):
    """torch.nn.EmbeddingBag: per-bag sums, means or maxima of embedding rows.

    Called as ``bag(input, offsets=None, per_sample_weights=None)`` with ``input``
    ``(B, L)`` (fixed-length bags) or ``(n,)`` plus ``offsets``; see
    :func:`jaxnn.functional.embedding_bag` for every option and edge.

    Args:
      num_embeddings, embedding_dim: the table ``weight (num_embeddings, embedding_dim)``,
        initialised N(0, 1) with the ``padding_idx`` row zeroed.
      max_norm, norm_type: as :class:`Embedding` (the rescaled rows are written back).
      scale_grad_by_freq, sparse: as :class:`Embedding` (not with ``mode='max'``).
      mode: 'sum' | 'mean' | 'max'.
      _weight: an initial table used as is.
      include_last_offset: ``offsets`` has ``B + 1`` entries, the last the input's length.
      padding_idx: entries with this index are left out of their bag.
      rngs: ``nnx.Rngs`` for the initial draw (not needed with ``_weight``).

    >>> bag = EmbeddingBag(10, 3, mode="sum", rngs=nnx.Rngs(0))
    >>> bag(jnp.array([1, 2, 4, 5]), jnp.array([0, 2])).shape  # bags [1, 2] and [4, 5]
    (2, 3)

    Raises:
      ValueError: a bad ``mode``; ``max`` with ``scale_grad_by_freq``/``sparse``;
        ``padding_idx`` out of range; a ``_weight`` of another shape.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Optional[ArrayLike] = None,
        include_last_offset: bool = False,
        padding_idx: Optional[int] = None,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        sizes("EmbeddingBag", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got {mode!r}")
        if mode == "max" and (scale_grad_by_freq or sparse):
            raise ValueError("EmbeddingBag: max mode does not support scale_grad_by_freq or sparse weights")
        padding_idx = _padding_idx("EmbeddingBag", padding_idx, num_embeddings)
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        self.weight = Parameter(
            _table("EmbeddingBag", num_embeddings, embedding_dim, padding_idx, _weight, rngs, dtype)
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: ArrayLike,
        freeze: bool = True,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: Optional[int] = None,
    ) -> "EmbeddingBag":
        """An EmbeddingBag holding ``embeddings`` (2-D) as its table, frozen by default."""
        table = Parameter(embeddings)[...]
        if table.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape {table.shape}")
        num_embeddings, embedding_dim = table.shape
        bag = cls(
            num_embeddings,
            embedding_dim,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            mode=mode,
            sparse=sparse,
            _weight=table,
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
        )
        bag.weight = Parameter(table, requires_grad=not freeze)
        return bag

    def __call__(
        self, input: ArrayLike, offsets: Optional[ArrayLike] = None, per_sample_weights: Optional[ArrayLike] = None
    ) -> jax.Array:
        out = F.embedding_bag(
            input,
            self.weight[...],
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )
        if self.max_norm is not None:
            self.weight[...] = embedding_renorm(self.weight[...], jnp.asarray(input), self.max_norm, self.norm_type)
        return out

    def extra_repr(self) -> str:
        # torch formats every value of this one with repr (mode='mean')
        s = f"{self.num_embeddings!r}, {self.embedding_dim!r}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s
