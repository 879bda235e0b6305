"""Embedding: a lookup table with torch's N(0, 1) init, padding_idx and max_norm."""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ..checks import IndexRangeError
from ..functional._checks import check_static_value
from ..module import Module
from ..parameter import Parameter
from ._common import float_dtype, require_rngs, sizes

__all__ = ["Embedding"]


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
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx ({padding_idx}) must be within num_embeddings ({num_embeddings})"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, scale_grad_by_freq, sparse
        shape = (num_embeddings, embedding_dim)
        if _weight is None:
            weight = jax.random.normal(require_rngs(rngs, "Embedding").params(), shape, float_dtype(dtype))
            if padding_idx is not None:
                weight = weight.at[padding_idx].set(0)
        else:
            weight = Parameter(_weight)[...]
            if weight.shape != shape:
                raise ValueError(f"Embedding: _weight has shape {weight.shape}, expected {shape}")
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
        return cls(
            *table.shape,
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            _weight=table,
            _freeze=freeze,
        )

    def _renormed(self, weight: jax.Array, idx: jax.Array) -> jax.Array:
        """torch's ``embedding_renorm_``: the table with the referenced, too-long rows rescaled."""
        w = jax.lax.stop_gradient(weight)
        norms = jnp.linalg.norm(w, ord=self.norm_type, axis=1)
        referenced = jnp.zeros(self.num_embeddings, bool).at[idx.reshape(-1)].set(True)
        scale = jnp.where(referenced & (norms > self.max_norm), self.max_norm / (norms + 1e-7), 1.0)
        return w * scale[:, None].astype(w.dtype)

    def __call__(self, input: ArrayLike) -> jax.Array:
        idx = jnp.asarray(input)
        if not jnp.issubdtype(idx.dtype, jnp.integer):
            raise TypeError(f"Embedding: indices must be an integer array, got dtype {idx.dtype}")
        check_static_value(
            lambda i: (i >= 0) & (i < self.num_embeddings),
            idx,
            f"Embedding: index out of range, indices must be in [0, {self.num_embeddings})",
            IndexRangeError,
        )
        weight = self.weight[...]
        if self.max_norm is not None:
            renormed = self._renormed(weight, idx)
            self.weight[...] = renormed
            # The renorm is gradient-free in torch: the lookup's gradient flows to the table unscaled.
            weight = weight + jax.lax.stop_gradient(renormed - weight)
        rows = jnp.take(weight, idx, axis=0)
        keep = jnp.ones(idx.shape, bool) if self.padding_idx is None else idx != self.padding_idx
        if self.scale_grad_by_freq:
            counts = jnp.zeros(self.num_embeddings, weight.dtype).at[idx.reshape(-1)].add(1)
            keep_scale = 1.0 / jnp.take(counts, idx)
        else:
            keep_scale = jnp.ones(idx.shape, weight.dtype)
        scale = jnp.where(keep, keep_scale, 0.0)[..., None]
        # Value exactly rows; gradient rows' cotangent times scale (0 on the padding row).
        frozen = jax.lax.stop_gradient(rows)
        return frozen + (rows - frozen) * scale
