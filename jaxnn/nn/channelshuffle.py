"""ChannelShuffle: a thin shell over :func:`jaxnn.functional.channel_shuffle`. No parameters."""

from __future__ import annotations

from typing import Optional

import jax
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Interleaves the channels of ``(N, C, *)`` across ``groups`` (ShuffleNet).

    >>> ChannelShuffle(2)(jnp.arange(4.0).reshape(1, 4, 1))[0, :, 0]
    Array([0., 2., 1., 3.], dtype=float32)
    """

    def __init__(self, groups: int, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.groups = groups

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
