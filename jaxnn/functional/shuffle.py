"""Pixel shuffle (sub-pixel convolution's rearrangement) and ShuffleNet's channel shuffle.

Pure reshapes and transposes, so values are copied exactly and the gradient is
the inverse rearrangement.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._shape_checks import as_array

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"]


def _factor(value: int, fn: str, name: str) -> int:
    value = operator.index(value)
    if value <= 0:
        raise ValueError(f"{fn} expects a positive {name}, but got {value}")
    return value


def _at_least_3d(x: jax.Array, fn: str) -> None:
    if x.ndim < 3:
        raise ValueError(f"{fn} expects input to have at least 3 dimensions, but got input of shape {x.shape}")


def pixel_shuffle(input: ArrayLike, upscale_factor: int) -> jax.Array:
    """``(*, C * r**2, H, W) -> (*, C, H * r, W * r)`` with ``r = upscale_factor``:
    ``out[..., c, h * r + i, w * r + j] = in[..., c * r**2 + i * r + j, h, w]``.

    >>> pixel_shuffle(jnp.arange(4.0).reshape(4, 1, 1), 2)
    Array([[[0., 1.],
            [2., 3.]]], dtype=float32)
    """
    x = as_array(input, "input")
    r = _factor(upscale_factor, "pixel_shuffle", "upscale_factor")
    _at_least_3d(x, "pixel_shuffle")
    *batch, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
            f"upscale_factor, but input.shape[-3]={c} is not divisible by {r * r} (input shape {x.shape})"
        )
    n = len(batch)
    y = x.reshape(*batch, c // (r * r), r, r, h, w)
    y = jnp.transpose(y, (*range(n), n, n + 3, n + 1, n + 4, n + 2))
    return y.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: ArrayLike, downscale_factor: int) -> jax.Array:
    """The inverse of :func:`pixel_shuffle`: ``(*, C, H * r, W * r) -> (*, C * r**2, H, W)``.

    >>> pixel_unshuffle(jnp.arange(4.0).reshape(1, 2, 2), 2)[:, 0, 0]
    Array([0., 1., 2., 3.], dtype=float32)
    """
    x = as_array(input, "input")
    r = _factor(downscale_factor, "pixel_unshuffle", "downscale_factor")
    _at_least_3d(x, "pixel_unshuffle")
    *batch, c, h, w = x.shape
    for name, size in (("height", h), ("width", w)):
        if size % r:
            raise ValueError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but got {size} and "
                f"{r} (input shape {x.shape})"
            )
    n = len(batch)
    y = x.reshape(*batch, c, h // r, r, w // r, r)
    y = jnp.transpose(y, (*range(n), n, n + 2, n + 4, n + 1, n + 3))
    return y.reshape(*batch, c * r * r, h // r, w // r)


def channel_shuffle(input: ArrayLike, groups: int) -> jax.Array:
    """``(N, C, *) -> (N, C, *)``: views the channels as ``(groups, C // groups)`` and
    transposes them, so channel ``g * (C // groups) + k`` moves to ``k * groups + g``.

    >>> channel_shuffle(jnp.arange(6.0).reshape(1, 6, 1), 2)[0, :, 0]
    Array([0., 3., 1., 4., 2., 5.], dtype=float32)
    """
    x = as_array(input, "input")
    groups = operator.index(groups)
    if x.ndim <= 2:
        raise ValueError(f"channel_shuffle expects input with > 2 dims, but got input of shape {x.shape}")
    if groups <= 0:
        raise ValueError(f"channel_shuffle: number of groups to divide channels in must be positive, got {groups}")
    c = x.shape[1]
    if c % groups:
        raise ValueError(
            f"channel_shuffle: number of channels must be divisible by groups, got {c} channels and {groups} "
            f"groups (input shape {x.shape})"
        )
    y = x.reshape(x.shape[0], groups, c // groups, *x.shape[2:])
    return jnp.swapaxes(y, 1, 2).reshape(x.shape)


def native_channel_shuffle(input: ArrayLike, groups: int) -> jax.Array:
    """torch's native kernel for :func:`channel_shuffle`: the same result."""
    return channel_shuffle(input, groups)
