"""Distance layers: thin shells over :mod:`jaxnn.functional.distance`."""

from __future__ import annotations

from typing import Optional

import jax
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    """``||x1 - x2 + eps||_p`` over the last dimension (see ``F.pairwise_distance``).

    >>> jnp.round(PairwiseDistance()(jnp.zeros((2, 3)), jnp.ones((2, 3))), 4)  # sqrt(3) * (1 - 1e-6)
    Array([1.732, 1.732], dtype=float32)
    """

    def __init__(
        self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def __call__(self, x1: ArrayLike, x2: ArrayLike) -> jax.Array:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``, norms floored at ``eps``
    (see ``F.cosine_similarity``).

    >>> jnp.round(CosineSimilarity()(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]])), 4)  # cos(45 degrees)
    Array([0.7071], dtype=float32)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.dim, self.eps = dim, eps

    def __call__(self, x1: ArrayLike, x2: ArrayLike) -> jax.Array:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
