"""Dropout with torch's train/eval switch and an nnx rng stream held by the module."""

from __future__ import annotations

from typing import Optional, Union

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ..module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the
    survivors by ``1 / (1 - p)``; the identity in eval mode (``model.eval()``).

    Args:
      p: drop probability in [0, 1].
      inplace: accepted for torch compatibility; JAX arrays are immutable.
      rngs: ``nnx.Rngs`` (its ``dropout`` stream, else ``default``) or an
        ``nnx.RngStream``; forked and kept, as flax's ``nnx.Dropout`` does, so each
        call draws a fresh mask and the stream's counter is module state that
        ``nnx.split`` returns with the buffers. Needed only to run in training
        mode with 0 < p < 1.

    The masks are JAX's random bits, not torch's: the distribution matches, the
    draws do not. The gradient is the mask times ``1 / (1 - p)``, as torch's.
    """

    def __init__(
        self,
        p: float = 0.5,
        inplace: bool = False,
        *,
        rngs: Optional[Union[nnx.Rngs, nnx.RngStream]] = None,
    ) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace
        if isinstance(rngs, nnx.Rngs):
            rngs = rngs.dropout
        self.rngs = rngs.fork() if rngs is not None else None

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * jnp.zeros((), x.dtype)
        if self.rngs is None:
            raise ValueError("Dropout in training mode needs randomness: construct it with rngs=nnx.Rngs(seed)")
        keep = jax.random.bernoulli(self.rngs(), 1.0 - self.p, x.shape)
        return x * jnp.where(keep, 1.0 / (1.0 - self.p), 0.0).astype(x.dtype)
