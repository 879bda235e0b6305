"""torch.nn.functional's pooling: max, average, adaptive, power-average, fractional max and max-unpool.

Layouts are torch's, channels first: ``(N, C, *spatial)`` or unbatched
``(C, *spatial)``. Output sizes follow torch's ``pooling_output_shape``::

    out = floor_or_ceil((L + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1

and with ``ceil_mode`` a last window that would start inside the right padding
is dropped. Max pooling pads with -inf; average pooling pads with zeros.

Indices (``return_indices``) are torch's: each maximum's flat, row-major
position in its input plane, int64 when ``jax_enable_x64`` is on and int32
otherwise. The element picked in a window is torch's: the first maximum, or
the last nan when the window holds one; the gradient goes to that element
only, as torch's backward scatters it. Max pooling takes one of three paths:

* non-overlapping windows that tile the input (stride == kernel, no padding,
  no dilation, no window overhanging the end; at most 8 elements a window,
  e.g. CNNs' ``MaxPool2d(2)``): torch's scan of each window written as a chain
  of selects over the window's strided slices, with a ``custom_jvp`` whose
  tangent is the picked element's (see :func:`_max_pool_blocks`); torch's
  values, gradients and indices, nans included;
* otherwise, without ``return_indices`` and without dilation: XLA's window max,
  whose gradient for a window holding a nan differs from torch's (the output is
  nan either way); ask for the indices to get torch's there too;
* otherwise: every window gathered, and torch's pick taken from it.
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .. import checks
from . import _ops
from ._shape_checks import as_array
from ._windows import (
    IntOrTuple,
    floating,
    index_dtype,
    patches,
    pooled_size,
    positions,
    right_pads,
    spatial_input,
    torch_argmax,
    tuples,
)

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]

OptionalSize = Union[Optional[int], Sequence[Optional[int]]]


def _input(name: str, input: ArrayLike, nd: int) -> tuple[jax.Array, bool]:
    x, unbatched = spatial_input(name, floating(name, as_array(input, "input")), nd)
    if 0 in x.shape[1:]:
        raise ValueError(
            f"{name}: expected input with non-zero sizes for the non-batch dimensions, got shape {jnp.shape(input)}"
        )
    return x, unbatched


def _squeeze(unbatched: bool, *arrays: jax.Array):
    out = tuple(a[0] for a in arrays) if unbatched else arrays
    return out if len(out) > 1 else out[0]


def _accumulator(dtype) -> jnp.dtype:
    """float32 for half precision, as torch's pooling kernels accumulate."""
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype).itemsize < 4 else jnp.dtype(dtype)


def _window(name, nd, kernel_size, stride, padding, dilation, half_of_effective: bool):
    kernel, padding, dilation = tuples(name, nd, kernel_size=kernel_size, padding=padding, dilation=dilation)
    # torch: a missing (None or empty) stride is the kernel size
    stride = (
        kernel
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else tuples(name, nd, stride=stride)[0]
    )
    for arg, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(v <= 0 for v in value):
            raise ValueError(f"{name}: {arg} must be greater than zero, got {value}")
    for p, k, d in zip(padding, kernel, dilation):
        if p < 0 or 2 * p > (d * (k - 1) + 1 if half_of_effective else k):
            which = "effective kernel size" if half_of_effective else "kernel size"
            raise ValueError(
                f"{name}: pad should be at most half of {which} (and non-negative), but got padding={padding}, "
                f"kernel_size={kernel}" + (f" and dilation={dilation}" if half_of_effective else "")
            )
    return kernel, stride, padding, dilation


def _geometry(name, spatial, kernel, stride, padding, dilation, ceil_mode):
    outs = [pooled_size(name, *args, ceil_mode) for args in zip(spatial, kernel, stride, padding, dilation)]
    return outs, right_pads(spatial, outs, kernel, stride, padding, dilation)


# The largest window the select chain of ``_max_pool_blocks`` is used for: its
# gradient costs a pass over the input per window element, and measured on CPU
# (docs/benchmarks.md) it beats XLA's window max up to 2x2x2 and loses from 3x3.
_BLOCKS_MAX_WINDOW = 8


def _tiles(kernel, stride, padding, dilation, pads) -> bool:
    """Whether the windows are disjoint and inside the input: stride == kernel, no padding, no
    dilation, nothing past the end (a ``ceil_mode`` that adds a window rules it out); the input
    past the last whole window is never read."""
    return math.prod(kernel) <= _BLOCKS_MAX_WINDOW and all(
        s == k and p == 0 and d == 1 and hi == 0
        for k, s, p, d, (_, hi) in zip(kernel, stride, padding, dilation, pads)
    )


def _block_parts(x: jax.Array, kernel, outs) -> list[jax.Array]:
    """One ``(N, C, *outs)`` strided slice per window offset, row-major: part ``j`` holds element
    ``j`` of every window."""
    return [
        x[(slice(None), slice(None)) + tuple(slice(i, i + (o - 1) * k + 1, k) for i, o, k in zip(offset, outs, kernel))]
        for offset in np.ndindex(*kernel)
    ]


def _torch_pick(parts: list[jax.Array]) -> tuple[jax.Array, jax.Array]:
    """torch's scan of a window: element ``j`` replaces the best so far when it is greater or nan,
    so the first maximum wins, or the last nan (the first element if all are -inf)."""
    best, chosen = parts[0], jnp.zeros(parts[0].shape, jnp.int8)
    for j, value in enumerate(parts[1:], 1):
        take = (value > best) | jnp.isnan(value)
        best, chosen = jnp.where(take, value, best), jnp.where(take, jnp.int8(j), chosen)
    return best, chosen


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _max_pool_blocks(x: jax.Array, kernel: tuple[int, ...], outs: tuple[int, ...]) -> jax.Array:
    """Max pooling over disjoint windows (see ``_tiles``): elementwise selects XLA fuses into one
    pass, where its window max and its select-and-scatter gradient are several times slower."""
    return _torch_pick(_block_parts(x, kernel, outs))[0]


@_max_pool_blocks.defjvp
def _max_pool_blocks_jvp(kernel, outs, primals, tangents):
    # The tangent is the picked element's; transposed, the cotangent goes to that element only
    # (each input element is in at most one window, so nothing is summed).
    (x,), (dx,) = primals, tangents
    y, chosen = _torch_pick(_block_parts(x, kernel, outs))
    zero = jnp.zeros((), dx.dtype)
    picked = [jnp.where(chosen == j, part, zero) for j, part in enumerate(_block_parts(dx, kernel, outs))]
    return y, functools.reduce(jnp.add, picked)


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, with_indices):
    x, unbatched = _input(name, input, nd)
    kernel, stride, padding, dilation = _window(name, nd, kernel_size, stride, padding, dilation, True)
    outs, pads = _geometry(name, x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
    if _tiles(kernel, stride, padding, dilation, pads):
        y = _max_pool_blocks(x, tuple(kernel), tuple(outs))
        if not with_indices:
            return _squeeze(unbatched, y)
        _, chosen = _torch_pick(_block_parts(jax.lax.stop_gradient(x), kernel, outs))
        table = positions(x.shape[2:], outs, kernel, stride, dilation, pads).astype(index_dtype())
        index = jnp.asarray(table[0])
        for j in range(1, len(table)):
            index = jnp.where(chosen == j, table[j], index)
        return _squeeze(unbatched, y, index)
    if not with_indices and all(d == 1 for d in dilation):
        # XLA's window max (its VJP sends a tie's gradient to the first maximum, as torch);
        # a concrete -inf identity makes JAX pick its differentiable max reducer.
        y = jax.lax.reduce_window(
            x,
            np.asarray(-np.inf, x.dtype),
            jax.lax.max,
            window_dimensions=(1, 1) + kernel,
            window_strides=(1, 1) + stride,
            padding=[(0, 0), (0, 0)] + pads,
        )
        return _squeeze(unbatched, y[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)])
    windows = patches(x, outs, kernel, stride, dilation, pads, -np.inf)
    table = positions(x.shape[2:], outs, kernel, stride, dilation, pads)
    chosen = torch_argmax(windows, jnp.asarray(table >= 0))
    y = jnp.take_along_axis(windows, chosen, axis=2)[:, :, 0]
    if not with_indices:
        return _squeeze(unbatched, y)
    index_table = jnp.broadcast_to(jnp.asarray(table, index_dtype()), windows.shape)
    return _squeeze(unbatched, y, jnp.take_along_axis(index_table, chosen, axis=2)[:, :, 0])


def _max_pool_doc(nd: int) -> str:
    return f"""torch.nn.functional.max_pool{nd}d: the maximum of each window of ``input``, padded with -inf.

    Args:
      input: ``(N, C, *spatial)`` or ``(C, *spatial)`` with {nd} spatial axes.
      kernel_size, stride (default ``kernel_size``), padding (at most half the
        effective kernel ``dilation * (kernel_size - 1) + 1``), dilation: ints or
        {nd}-tuples.
      ceil_mode: round the output size up (a window starting in the right padding is dropped).
      return_indices: also return each maximum's flat position in its input plane.

    Returns ``(N, C, *out)`` (and the indices, int64 under x64, else int32).
    The gradient goes to each window's first maximum (the last nan if any), as torch's.

    >>> max_pool{nd}d(jnp.arange({4**nd}.).reshape((1, 1) + ({", ".join(["4"] * nd)},)), 2).shape
    (1, 1, {", ".join(["2"] * nd)})
    """


def _make_max_pool(nd: int, with_indices: bool):
    name = f"max_pool{nd}d" + ("_with_indices" if with_indices else "")

    def pool(
        input: ArrayLike,
        kernel_size: IntOrTuple,
        stride: Optional[IntOrTuple] = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        ceil_mode: bool = False,
        return_indices: bool = False,
    ) -> Union[jax.Array, tuple[jax.Array, jax.Array]]:
        return _max_pool(
            name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, with_indices or return_indices
        )

    pool.__name__ = pool.__qualname__ = name
    pool.__doc__ = _max_pool_doc(nd) + ("\n    Always returns ``(output, indices)``.\n" if with_indices else "")
    return pool


max_pool1d = _make_max_pool(1, False)
max_pool2d = _make_max_pool(2, False)
max_pool3d = _make_max_pool(3, False)
max_pool1d_with_indices = _make_max_pool(1, True)
max_pool2d_with_indices = _make_max_pool(2, True)
max_pool3d_with_indices = _make_max_pool(3, True)


def _divisor(spatial, outs, kernel, stride, padding, count_include_pad, divisor_override) -> np.ndarray:
    """Per-output divisor: torch's window size clipped to the padded (or, without
    ``count_include_pad``, to the real) input, or ``divisor_override``."""
    if divisor_override is not None:
        return np.asarray(float(divisor_override))
    per_dim = []
    for n, out, k, s, p in zip(spatial, outs, kernel, stride, padding):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        per_dim.append(end - start)
    return math.prod(np.ix_(*per_dim)).astype(np.float64)  # type: ignore[attr-defined]  # a product of arrays


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, unbatched = _input(name, input, nd)
    kernel, stride, padding, _ = _window(name, nd, kernel_size, stride, padding, 1, False)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{name}: divisor_override must be non-zero, got {divisor_override}")
    outs, pads = _geometry(name, x.shape[2:], kernel, stride, padding, (1,) * nd, ceil_mode)
    acc = _accumulator(x.dtype)
    total = jax.lax.reduce_window(
        x.astype(acc),
        np.asarray(0, acc),
        jax.lax.add,
        window_dimensions=(1, 1) + kernel,
        window_strides=(1, 1) + stride,
        padding=[(0, 0), (0, 0)] + pads,
    )[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)]
    divisor = _divisor(x.shape[2:], outs, kernel, stride, padding, count_include_pad, divisor_override)
    return _squeeze(unbatched, (total / jnp.asarray(divisor, acc)).astype(x.dtype))


def avg_pool1d(
    input: ArrayLike,
    kernel_size: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> jax.Array:
    """torch.nn.functional.avg_pool1d: the mean of each window of ``(N, C, L)`` or ``(C, L)``.

    Zero padding (at most half the kernel). Each window's sum is divided by its
    size clipped to the padded input (``count_include_pad=True``) or by its
    number of real elements (``False``); a window overhanging on the right
    because of ``ceil_mode`` is divided by its clipped size in both cases (torch).

    >>> avg_pool1d(jnp.arange(4.).reshape(1, 1, 4), 2)
    Array([[[0.5, 2.5]]], dtype=float32)
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input: ArrayLike,
    kernel_size: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> jax.Array:
    """torch.nn.functional.avg_pool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :func:`avg_pool1d`.

    ``divisor_override``: divide every window's sum by this instead (non-zero).

    >>> avg_pool2d(jnp.ones((1, 1, 4, 4)), 2, divisor_override=2)[0, 0]
    Array([[2., 2.],
           [2., 2.]], dtype=float32)
    """
    return _avg_pool(
        "avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input: ArrayLike,
    kernel_size: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> jax.Array:
    """torch.nn.functional.avg_pool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :func:`avg_pool2d`.

    >>> avg_pool3d(jnp.ones((1, 1, 2, 2, 2)), 2).shape
    (1, 1, 1, 1, 1)
    """
    return _avg_pool(
        "avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def _adaptive_sizes(name: str, nd: int, output_size: OptionalSize, spatial: Sequence[int]) -> list[int]:
    size = (output_size,) * nd if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(size) != nd:
        raise ValueError(f"{name}: output_size must be an int or {nd} ints (or None), got {output_size!r}")
    outs = [n if o is None else int(o) for o, n in zip(size, spatial)]
    if any(o < 0 for o in outs):
        raise ValueError(f"{name}: output_size must be non-negative, got {output_size!r}")
    return outs


def _bins(n: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's adaptive bins: output i reads ``[floor(i * n / out), ceil((i + 1) * n / out))``."""
    i = np.arange(out)
    start = (i * n) // out
    return start, -((-(i + 1) * n) // out) - start


def _adaptive_avg(name: str, nd: int, input: ArrayLike, output_size: OptionalSize) -> jax.Array:
    x, unbatched = _input(name, input, nd)
    outs = _adaptive_sizes(name, nd, output_size, x.shape[2:])
    acc = _accumulator(x.dtype)
    y, divisors = x.astype(acc), []
    for axis, (n, out) in enumerate(zip(x.shape[2:], outs)):
        start, length = _bins(n, out)
        member = (np.arange(n) >= start[:, None]) & (np.arange(n) < (start + length)[:, None])
        y = jnp.moveaxis(
            jnp.tensordot(y, jnp.asarray(member, acc), axes=([2 + axis], [1]), precision=jax.lax.Precision.HIGHEST),
            -1,
            2 + axis,
        )
        divisors.append(length)
    y = y / jnp.asarray(math.prod(np.ix_(*divisors)), acc)
    return _squeeze(unbatched, y.astype(x.dtype))


def adaptive_avg_pool1d(input: ArrayLike, output_size: OptionalSize) -> jax.Array:
    """torch.nn.functional.adaptive_avg_pool1d: ``(N, C, L)`` or ``(C, L)`` to length ``output_size``.

    Output i averages input ``[floor(i * L / out), ceil((i + 1) * L / out))``, torch's bins
    (they overlap when ``L`` is not a multiple of ``out``).

    >>> adaptive_avg_pool1d(jnp.arange(4.).reshape(1, 1, 4), 2)
    Array([[[0.5, 2.5]]], dtype=float32)
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: ArrayLike, output_size: OptionalSize) -> jax.Array:
    """torch.nn.functional.adaptive_avg_pool2d over ``(N, C, H, W)`` or ``(C, H, W)``.

    ``output_size``: an int, a pair, or ``None`` entries keeping that input size; bins as
    :func:`adaptive_avg_pool1d` along each axis.

    >>> adaptive_avg_pool2d(jnp.ones((1, 3, 5, 7)), (2, None)).shape
    (1, 3, 2, 7)
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: ArrayLike, output_size: OptionalSize) -> jax.Array:
    """torch.nn.functional.adaptive_avg_pool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see
    :func:`adaptive_avg_pool2d`.

    >>> adaptive_avg_pool3d(jnp.ones((1, 3, 4, 5, 7)), 1).shape
    (1, 3, 1, 1, 1)
    """
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(name: str, nd: int, input: ArrayLike, output_size: OptionalSize, with_indices: bool):
    x, unbatched = _input(name, input, nd)
    spatial = x.shape[2:]
    outs = _adaptive_sizes(name, nd, output_size, spatial)
    bins = [_bins(n, o) for n, o in zip(spatial, outs)]
    longest = [int(length.max(initial=1)) for _, length in bins]
    flat_parts, valid_parts = [], []
    for offset in np.ndindex(*longest):
        where = np.meshgrid(*[start + i for (start, _), i in zip(bins, offset)], indexing="ij")
        inside = np.meshgrid(*[i < length for (_, length), i in zip(bins, offset)], indexing="ij")
        flat_parts.append(
            np.ravel_multi_index(tuple(np.minimum(w, n - 1) for w, n in zip(where, spatial)), spatial)
        )
        valid_parts.append(np.logical_and.reduce(inside))
    flat, valid = np.stack(flat_parts), np.stack(valid_parts)  # (window offset, *outs)
    windows = x.reshape(x.shape[:2] + (math.prod(spatial),))[:, :, flat]
    chosen = torch_argmax(windows, jnp.asarray(valid))
    y = jnp.take_along_axis(windows, chosen, axis=2)[:, :, 0]
    if not with_indices:
        return _squeeze(unbatched, y)
    table = jnp.broadcast_to(jnp.asarray(flat, index_dtype()), windows.shape)
    return _squeeze(unbatched, y, jnp.take_along_axis(table, chosen, axis=2)[:, :, 0])


def _make_adaptive_max(nd: int, with_indices: bool):
    name = f"adaptive_max_pool{nd}d" + ("_with_indices" if with_indices else "")

    def pool(
        input: ArrayLike, output_size: OptionalSize, return_indices: bool = False
    ) -> Union[jax.Array, tuple[jax.Array, jax.Array]]:
        return _adaptive_max(name, nd, input, output_size, with_indices or return_indices)

    pool.__name__ = pool.__qualname__ = name
    pool.__doc__ = f"""torch.nn.functional.{name}: the maximum of each of torch's adaptive bins.

    Args:
      input: ``(N, C, *spatial)`` or ``(C, *spatial)`` with {nd} spatial axes.
      output_size: an int or {nd} ints (``None`` keeps that input size); output i of an
        axis of length L reads ``[floor(i * L / out), ceil((i + 1) * L / out))``.
      return_indices: also return each maximum's flat position in its input plane
        (int64 under x64, else int32){"; this form always returns them" if with_indices else ""}.

    The first maximum of a bin (the last nan, if any) is picked and gets the gradient, as torch.

    >>> {name}(jnp.ones((1, 3) + (5,) * {nd}), 2){"[0]" if with_indices else ""}.shape
    (1, 3, {", ".join(["2"] * nd)})
    """
    return pool


adaptive_max_pool1d = _make_adaptive_max(1, False)
adaptive_max_pool2d = _make_adaptive_max(2, False)
adaptive_max_pool3d = _make_adaptive_max(3, False)
adaptive_max_pool1d_with_indices = _make_adaptive_max(1, True)
adaptive_max_pool2d_with_indices = _make_adaptive_max(2, True)
adaptive_max_pool3d_with_indices = _make_adaptive_max(3, True)


def _lp_pool(name, nd, input, norm_type, kernel_size, stride, ceil_mode) -> jax.Array:
    (kernel,) = tuples(name, nd, kernel_size=kernel_size)
    x = floating(name, as_array(input, "input"))
    out = _avg_pool(name, nd, x**norm_type, kernel, stride, 0, ceil_mode, True, None)
    # torch's formula, kinks included: sign(out) * relu(|out|), scaled by the kernel volume.
    return (_ops.sign(out) * _ops.relu(_ops.abs(out)) * math.prod(kernel)) ** (1.0 / norm_type)


def lp_pool1d(
    input: ArrayLike, norm_type: float, kernel_size: int, stride: Optional[IntOrTuple] = None, ceil_mode: bool = False
) -> jax.Array:
    """torch.nn.functional.lp_pool1d: ``(sum over the window of x ** p) ** (1 / p)`` on ``(N, C, L)`` or ``(C, L)``.

    Computed as torch does: ``avg_pool(x ** p) * kernel_size`` (so a ``ceil_mode``
    window overhanging the input is scaled as a full one), a negative sum clamped
    to 0, then ``** (1 / p)``; a window of zeros has a nan gradient as in torch.

    >>> lp_pool1d(jnp.asarray([[[3., 4.]]]), 2, 2)
    Array([[[5.]]], dtype=float32)
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(
    input: ArrayLike,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    ceil_mode: bool = False,
) -> jax.Array:
    """torch.nn.functional.lp_pool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :func:`lp_pool1d`.

    >>> lp_pool2d(jnp.ones((1, 1, 2, 2)), 1, 2)
    Array([[[[4.]]]], dtype=float32)
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(
    input: ArrayLike,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    ceil_mode: bool = False,
) -> jax.Array:
    """torch.nn.functional.lp_pool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :func:`lp_pool1d`.

    >>> lp_pool3d(jnp.ones((1, 1, 2, 2, 2)), 1, 2).shape
    (1, 1, 1, 1, 1)
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _intervals(sample: jax.Array, n: int, out: int, k: int) -> jax.Array:
    """torch's ``generate_intervals``: window starts ``int((i + u) * a) - int(u * a)``,
    ``a = (n - k) / (out - 1)``, the last one at ``n - k``, in the samples' dtype."""
    last = jnp.full(sample.shape + (1,), n - k, jnp.int32)
    if out == 1:
        return last
    alpha = jnp.asarray(n - k, sample.dtype) / jnp.asarray(out - 1, sample.dtype)
    i = jnp.arange(out - 1, dtype=sample.dtype)
    u = sample[..., None]
    starts = ((i + u) * alpha).astype(jnp.int32) - (u * alpha).astype(jnp.int32)
    return jnp.concatenate([starts, last], axis=-1)


def _fractional(name, nd, input, kernel_size, output_size, output_ratio, with_indices, _random_samples, key):
    x, unbatched = _input(name, input, nd)
    spatial = x.shape[2:]
    (kernel,) = tuples(name, nd, kernel_size=kernel_size)
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is not None:
        (outs,) = tuples(name, nd, output_size=output_size)
    else:
        ratio = (output_ratio,) * nd if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        if len(ratio) != nd:
            raise ValueError(f"{name}: output_ratio must be a number or {nd} numbers, got {output_ratio!r}")
        outs = tuple(int(n * r) for n, r in zip(spatial, ratio))
    for axis, (n, o, k) in enumerate(zip(spatial, outs, kernel)):
        if k <= 0 or o <= 0 or o + k - 1 > n:
            raise ValueError(
                f"{name}: kernel_size {kernel} and output size {outs} do not fit the input's spatial size "
                f"{spatial} (need kernel_size + output_size - 1 <= input size, both positive; axis {axis})"
            )
    acc = _accumulator(x.dtype)
    samples_shape = x.shape[:2] + (nd,)
    if _random_samples is not None:
        samples = as_array(_random_samples, "_random_samples")
        # torch reads samples[n, c] for the batch it has: extra leading rows are unused
        # (its module_db passes a batch-2 sample with unbatched input)
        if samples.ndim != 3 or samples.shape[0] < samples_shape[0] or samples.shape[1:] != samples_shape[1:]:
            raise ValueError(
                f"{name}: _random_samples must have shape {samples_shape} (N, C, {nd}), got {samples.shape}"
            )
        samples = samples[: samples_shape[0]].astype(acc)
    elif key is None:
        raise ValueError(f"{name}: pass _random_samples or a PRNG key (key=jax.random.key(seed))")
    else:
        samples = jax.random.uniform(key, samples_shape, acc)
    # torch's kernels read the samples as (W, H) in 2-d and as (T, H, W) in 3-d.
    order = (1, 0) if nd == 2 else (0, 1, 2)
    flat_stride = np.cumprod((1,) + spatial[:0:-1])[::-1]
    starts = [_intervals(samples[:, :, order[a]], spatial[a], outs[a], kernel[a]) for a in range(nd)]
    positions_per_offset = []
    for offset in np.ndindex(*kernel):
        position = 0
        for a in range(nd):
            index = (slice(None), slice(None)) + tuple(slice(None) if b == a else None for b in range(nd))
            position = position + (starts[a] + offset[a])[index] * int(flat_stride[a])
        positions_per_offset.append(position)
    flat = jnp.stack(positions_per_offset, axis=2).astype(index_dtype())  # (N, C, window offset, *outs)
    planes = x.reshape(x.shape[:2] + (math.prod(spatial),))
    windows = jnp.take_along_axis(planes, flat.reshape(flat.shape[:2] + (math.prod(flat.shape[2:]),)), axis=2).reshape(
        flat.shape
    )
    chosen = torch_argmax(windows)
    y = jnp.take_along_axis(windows, chosen, axis=2)[:, :, 0]
    if not with_indices:
        return _squeeze(unbatched, y)
    return _squeeze(unbatched, y, jnp.take_along_axis(flat, chosen, axis=2)[:, :, 0])


def _make_fractional(nd: int, with_indices: bool):
    name = f"fractional_max_pool{nd}d" + ("_with_indices" if with_indices else "")

    def pool(
        input: ArrayLike,
        kernel_size: IntOrTuple,
        output_size: Optional[IntOrTuple] = None,
        output_ratio: Optional[Union[float, Sequence[float]]] = None,
        return_indices: bool = False,
        _random_samples: Optional[ArrayLike] = None,
        *,
        key: Optional[jax.Array] = None,
    ) -> Union[jax.Array, tuple[jax.Array, jax.Array]]:
        return _fractional(
            name,
            nd,
            input,
            kernel_size,
            output_size,
            output_ratio,
            with_indices or return_indices,
            _random_samples,
            key,
        )

    pool.__name__ = pool.__qualname__ = name
    axes = "(W, H)" if nd == 2 else "(T, H, W)"
    pool.__doc__ = f"""torch.nn.functional.{name}: max over ``kernel_size`` windows at pseudo-random starts.

    Args:
      input: ``(N, C, *spatial)`` or ``(C, *spatial)`` with {nd} spatial axes.
      kernel_size: the window; output_size, or output_ratio (``int(size * ratio)`` per axis).
      return_indices: also return each maximum's flat position in its input plane
        (int64 under x64, else int32){"; this form always returns them" if with_indices else ""}.
      _random_samples: ``(N, C, {nd})`` numbers in [0, 1), read per plane as {axes} as torch
        does (``N`` is 1 for unbatched input); with them the result equals torch's.
      key: a JAX PRNG key to draw the samples from when ``_random_samples`` is None
        (jaxnn's addition: torch draws from its global generator).

    Window starts along an axis are torch's ``int((i + u) * a) - int(u * a)`` with
    ``a = (L - k) / (out - 1)``, the last window ending at the input's end. The
    first maximum (the last nan) of a window is picked and gets the gradient.

    >>> x = jnp.ones((1, 1) + (5,) * {nd})
    >>> {name}(x, 2, output_size=2, _random_samples=jnp.full((1, 1, {nd}), 0.5)){"[0]" if with_indices else ""}.shape
    (1, 1, {", ".join(["2"] * nd)})
    """
    return pool


fractional_max_pool2d = _make_fractional(2, False)
fractional_max_pool3d = _make_fractional(3, False)
fractional_max_pool2d_with_indices = _make_fractional(2, True)
fractional_max_pool3d_with_indices = _make_fractional(3, True)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _unpool(values: jax.Array, indices: jax.Array, size: int) -> jax.Array:
    out = jnp.zeros(values.shape[:2] + (size,), values.dtype)
    n, c = np.ogrid[: values.shape[0], : values.shape[1]]
    return out.at[n[..., None], c[..., None], indices].set(values, mode="drop")


def _unpool_fwd(values, indices, size):
    return _unpool(values, indices, size), indices


def _unpool_bwd(size, indices, ct):
    # torch's max_unpool backward gathers: every input element, repeated indices included,
    # gets the cotangent at its index (a scatter's own VJP would credit only one writer).
    grad = jnp.take_along_axis(ct, jnp.clip(indices, 0, size - 1), axis=2)
    return jnp.where((indices >= 0) & (indices < size), grad, 0).astype(ct.dtype), None


_unpool.defvjp(_unpool_fwd, _unpool_bwd)


def _max_unpool(name, nd, input, indices, kernel_size, stride, padding, output_size) -> jax.Array:
    x = floating(name, as_array(input, "input"))
    idx = as_array(indices, "indices")
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"{name}: indices must have an integer dtype, got {idx.dtype}")
    if idx.shape != x.shape:
        raise ValueError(f"{name}: indices must have the input's shape {x.shape}, got {idx.shape}")
    x, unbatched = spatial_input(name, x, nd)
    idx = idx[None] if unbatched else idx
    kernel, stride, padding, _ = _window(name, nd, kernel_size, stride, padding, 1, False)
    default = [(n - 1) * s + k - 2 * p for n, s, k, p in zip(x.shape[2:], stride, kernel, padding)]
    if output_size is None:
        outs = default
    else:
        outs = [int(v) for v in output_size]
        if len(outs) == nd + 2:
            outs = outs[2:]
        if len(outs) != nd:
            raise ValueError(
                f"{name}: output_size should be a sequence containing {nd} or {nd + 2} elements, "
                f"but it has a length of '{len(outs)}'"
            )
        for d, (o, base, s) in enumerate(zip(outs, default, stride)):
            if not base - s < o < base + s:
                raise ValueError(
                    f'{name}: invalid output_size "{outs}" (dim {d} must be between {base - s} and {base + s})'
                )
    if any(o < 0 for o in outs):
        raise ValueError(f"{name}: output size {outs} must be non-negative")
    size = math.prod(outs)
    flat = idx.reshape(idx.shape[:2] + (math.prod(idx.shape[2:]),))
    checks.validate_interval(flat, 0, size - 1, "indices")
    y = _unpool(x.reshape(flat.shape), flat.astype(index_dtype()), size)
    return _squeeze(unbatched, y.reshape(y.shape[:2] + tuple(outs)))


def _make_max_unpool(nd: int):
    name = f"max_unpool{nd}d"

    def unpool(
        input: ArrayLike,
        indices: ArrayLike,
        kernel_size: IntOrTuple,
        stride: Optional[IntOrTuple] = None,
        padding: IntOrTuple = 0,
        output_size: Optional[Sequence[int]] = None,
    ) -> jax.Array:
        return _max_unpool(name, nd, input, indices, kernel_size, stride, padding, output_size)

    unpool.__name__ = unpool.__qualname__ = name
    unpool.__doc__ = f"""torch.nn.functional.{name}: the partial inverse of max_pool{nd}d.

    Every element of ``input`` is written at its ``indices`` (flat positions in the
    output plane, as max_pool{nd}d returns them); the rest is zero.

    Args:
      input, indices: ``(N, C, *spatial)`` or ``(C, *spatial)``, the same shape.
      kernel_size, stride (default ``kernel_size``), padding: the pooling's.
      output_size: the spatial (or full) output size; by default
        ``(in - 1) * stride + kernel_size - 2 * padding``, and within ``stride`` of that.

    The gradient of each input element is the output cotangent at its index.
    torch raises for an index outside the output plane; here such an element is
    dropped unless :mod:`jaxnn.checks` is enabled (then it raises).

    >>> y, i = max_pool{nd}d_with_indices(jnp.arange({2**nd}.).reshape((1, 1) + ({", ".join(["2"] * nd)},)), 2)
    >>> {name}(y, i, 2).reshape(-1)[-1]
    Array({2**nd - 1}., dtype=float32)
    """
    return unpool


max_unpool1d = _make_max_unpool(1)
max_unpool2d = _make_max_unpool(2)
max_unpool3d = _make_max_unpool(3)
