"""PixelShuffle / PixelUnshuffle: thin shells over :mod:`jaxnn.functional.shuffle`. No parameters."""

from __future__ import annotations

from typing import Optional

import jax
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """``(*, C * r**2, H, W) -> (*, C, H * r, W * r)`` with ``r = upscale_factor``.

    >>> PixelShuffle(2)(jnp.zeros((1, 8, 3, 3))).shape
    (1, 2, 6, 6)
    """

    def __init__(self, upscale_factor: int, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.upscale_factor = upscale_factor

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H * r, W * r) -> (*, C * r**2, H, W)`` with ``r = downscale_factor``.

    >>> PixelUnshuffle(2)(jnp.zeros((1, 2, 6, 6))).shape
    (1, 8, 3, 3)
    """

    def __init__(self, downscale_factor: int, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.downscale_factor = downscale_factor

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
