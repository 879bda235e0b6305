"""torch.nn.functional's unfold (im2col) and fold (col2im), NCHW.

``unfold`` lays each sliding block of a ``(N, C, H, W)`` input out as a column
of ``C * kH * kW`` values (channel-major, then kernel rows, then kernel
columns), one column per block position in row-major order; ``fold`` is its
adjoint, summing every column back into the positions it came from (blocks
that overlap add up).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._shape_checks import as_array
from ._windows import IntOrTuple, patches, tuples

__all__ = ["unfold", "fold"]


def _blocks(name, spatial, kernel, dilation, padding, stride) -> list[int]:
    """The number of sliding blocks per axis; torch raises when one is below 1."""
    for arg, value in (("kernel_size", kernel), ("dilation", dilation), ("stride", stride)):
        if any(v <= 0 for v in value):
            raise ValueError(f"{name}: {arg} must be greater than zero, got {value}")
    if any(p < 0 for p in padding):
        raise ValueError(f"{name}: padding must be non-negative, got {padding}")
    blocks = [
        (n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, d, p, s in zip(spatial, kernel, dilation, padding, stride)
    ]
    if any(b < 1 for b in blocks):
        raise ValueError(
            f"{name}: given spatial size {tuple(spatial)}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, stride={stride}, calculated shape of the array of sliding blocks as "
            f"{tuple(blocks)}, but its components must be at least one"
        )
    return blocks


def unfold(
    input: ArrayLike,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> jax.Array:
    """torch.nn.functional.unfold: ``(N, C, H, W)`` -> ``(N, C * kH * kW, L)`` sliding blocks.

    Also takes unbatched ``(C, H, W)`` -> ``(C * kH * kW, L)``. Zero padding;
    ``L = prod_d floor((size_d + 2 * padding_d - dilation_d * (k_d - 1) - 1) / stride_d) + 1``.
    Row ``c * kH * kW + i * kW + j`` of block ``l`` is input channel ``c`` at kernel offset ``(i, j)``.

    >>> unfold(jnp.arange(9.).reshape(1, 1, 3, 3), 2)[0]
    Array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]], dtype=float32)
    """
    x = as_array(input, "input")
    if x.ndim not in (3, 4):
        raise ValueError(f"unfold: only 3D (unbatched) or 4D (batched) input is supported, got shape {x.shape}")
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    kernel, dilation, padding, stride = tuples(
        "unfold", 2, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride
    )
    blocks = _blocks("unfold", x.shape[2:], kernel, dilation, padding, stride)
    cols = patches(x, blocks, kernel, stride, dilation, [(p, p) for p in padding], 0)
    cols = cols.reshape((x.shape[0], x.shape[1] * math.prod(kernel), math.prod(blocks)))
    return cols[0] if unbatched else cols


def fold(
    input: ArrayLike,
    output_size: IntOrTuple,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> jax.Array:
    """torch.nn.functional.fold: ``(N, C * kH * kW, L)`` -> ``(N, C, *output_size)``, summing overlaps.

    Also takes unbatched ``(C * kH * kW, L)`` -> ``(C, H, W)``. The adjoint of
    :func:`unfold` with the same arguments: ``L`` must equal the number of blocks
    that fit ``output_size``; values that fall in the padding are dropped.

    >>> fold(jnp.ones((1, 4, 4)), (3, 3), 2)[0, 0]
    Array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]], dtype=float32)
    """
    cols = as_array(input, "input")
    if cols.ndim not in (2, 3):
        raise ValueError(f"fold: only 2D (unbatched) or 3D (batched) input is supported, got shape {cols.shape}")
    unbatched = cols.ndim == 2
    cols = cols[None] if unbatched else cols
    size, kernel, dilation, padding, stride = tuples(
        "fold", 2, output_size=output_size, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride
    )
    area = math.prod(kernel)
    if cols.shape[1] % area:
        raise ValueError(
            f"fold: expected size of input's dimension 1 to be divisible by the product of kernel_size, "
            f"but got input.size(1)={cols.shape[1]} and kernel_size={kernel}"
        )
    blocks = _blocks("fold", size, kernel, dilation, padding, stride)
    if cols.shape[2] != math.prod(blocks):
        raise ValueError(
            f"fold: given output_size={size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, "
            f"stride={stride}, expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {blocks[0]} * {blocks[1]} = {math.prod(blocks)}, but got input.size(2)={cols.shape[2]}"
        )
    n, channels = cols.shape[0], cols.shape[1] // area
    cols = cols.reshape((n, channels, area) + tuple(blocks))
    out = jnp.zeros((n, channels) + tuple(s + 2 * p for s, p in zip(size, padding)), cols.dtype)
    for k, offset in enumerate(np.ndindex(*kernel)):
        index = tuple(slice(i * d, i * d + (b - 1) * s + 1, s) for i, d, b, s in zip(offset, dilation, blocks, stride))
        out = out.at[(slice(None), slice(None)) + index].add(cols[:, :, k])
    out = out[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, size))]
    return out[0] if unbatched else out
