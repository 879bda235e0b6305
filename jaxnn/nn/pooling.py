"""Max, average and adaptive average pooling in torch's channels-first layout.

Output sizes follow torch's ``pooling_output_shape``:
``out = floor_or_ceil((L + 2 * padding - dilation * (k - 1) - 1) / stride) + 1``,
and with ``ceil_mode`` a last window that would start inside the right padding
is dropped. Max pooling pads with -inf; average pooling divides by the window
size clipped to the padded input (``count_include_pad=True``, torch's default),
by the number of real elements (``False``), or by ``divisor_override``. A
window overhanging on the right because of ``ceil_mode`` is divided by its
clipped size in both cases, as torch does.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from ..module import Module
from ._common import IntOrTuple, ntuple

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]


def _batched(module: Module, input: ArrayLike, nd: int) -> tuple[jax.Array, bool]:
    x = jnp.asarray(input)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{type(module).__name__}: expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, "
            f"got shape {x.shape}"
        )
    return (x[None], True) if x.ndim == nd + 1 else (x, False)


class _Pool(Module):
    """Window geometry shared by max and average pooling."""

    _nd: int

    def _setup(self, kernel_size, stride, padding, dilation, ceil_mode, half_of: str) -> None:
        nd, name = self._nd, type(self).__name__
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size")
        self.stride = ntuple(kernel_size if stride is None else stride, nd, "stride")
        self.padding = ntuple(padding, nd, "padding")
        self.dilation = ntuple(dilation, nd, "dilation")
        self.ceil_mode = ceil_mode
        if any(s <= 0 for s in self.stride) or any(k <= 0 for k in self.kernel_size):
            raise ValueError(f"{name}: kernel_size {self.kernel_size} and stride {self.stride} must be positive")
        for p, k, d in zip(self.padding, self.kernel_size, self.dilation):
            effective = d * (k - 1) + 1 if half_of == "effective" else k
            if p < 0 or 2 * p > effective:
                raise ValueError(
                    f"{name}: pad should be at most half of {half_of} kernel size, but got "
                    f"pad={self.padding} and kernel_size={self.kernel_size}"
                )

    def _out_size(self, size: int, k: int, s: int, p: int, d: int) -> int:
        numerator = size + 2 * p - d * (k - 1) - 1
        out = (-(-numerator // s) if self.ceil_mode else numerator // s) + 1
        if self.ceil_mode and (out - 1) * s >= size + p:
            out -= 1
        if out < 1:
            raise ValueError(
                f"{type(self).__name__}: output size is too small (input {size}, kernel {k}, "
                f"stride {s}, padding {p}, dilation {d})"
            )
        return out

    def _geometry(self, spatial: Sequence[int]):
        """Output sizes and (lo, hi) paddings whose windows cover exactly those outputs."""
        outs, pads = [], []
        for n, k, s, p, d in zip(spatial, self.kernel_size, self.stride, self.padding, self.dilation):
            out = self._out_size(n, k, s, p, d)
            hi = max((out - 1) * s + d * (k - 1) + 1 - n - p, 0)
            outs.append(out)
            pads.append((p, hi))
        return outs, pads

    def _reduce(self, x: jax.Array, init: np.ndarray, op) -> jax.Array:
        """``init`` must be a concrete (numpy) identity so that JAX picks its differentiable
        max/sum window reducers instead of the generic one."""
        outs, pads = self._geometry(x.shape[2:])
        y = jax.lax.reduce_window(
            x,
            init,
            op,
            window_dimensions=(1, 1) + self.kernel_size,
            window_strides=(1, 1) + self.stride,
            padding=[(0, 0), (0, 0)] + pads,
            window_dilation=(1, 1) + self.dilation,
        )
        return y[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)]

    def _max_over_patches(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Max pooling by explicit windows, and each maximum's flat index in its input plane.

        Used for dilated kernels (JAX has no VJP for dilated max windows) and
        for ``return_indices``; ``argmax`` picks each window's first maximum
        (a nan counts as the maximum), as torch's forward and backward do.
        """
        spatial = x.shape[2:]
        outs, pads = self._geometry(spatial)
        x = jnp.pad(x, [(0, 0), (0, 0)] + pads, constant_values=-jnp.inf)
        patches, flat = [], []
        for offset in np.ndindex(*self.kernel_size):
            index = tuple(
                slice(i * d, i * d + (o - 1) * s + 1, s)
                for i, d, o, s in zip(offset, self.dilation, outs, self.stride)
            )
            patches.append(x[(slice(None), slice(None)) + index])
            # Where this window offset reads, in the unpadded plane (row-major, as torch's indices).
            where = np.meshgrid(
                *[np.arange(o) * s + i * d - p for o, s, i, d, (p, _) in zip(outs, self.stride, offset, self.dilation, pads)],
                indexing="ij",
            )
            flat.append(np.ravel_multi_index(tuple(np.clip(w, 0, n - 1) for w, n in zip(where, spatial)), spatial))
        patches = jnp.stack(patches, axis=2)
        first = jnp.argmax(patches, axis=2, keepdims=True)
        values = jnp.take_along_axis(patches, first, axis=2)[:, :, 0]
        table = jnp.asarray(np.stack(flat).reshape(len(flat), -1), jnp.int32)  # (window offset, output position)
        chosen = first[:, :, 0].reshape(*first.shape[:2], table.shape[1])  # explicit: -1 fails on an empty batch
        indices = table[chosen, jnp.arange(table.shape[1])].reshape(values.shape)
        return values, indices


class MaxPool1d(_Pool):
    """torch.nn.MaxPool1d over ``(N, C, L)`` or ``(C, L)``, padding with -inf.

    Args as torch: kernel_size, stride (default kernel_size), padding (at most
    half the effective kernel), dilation, ceil_mode. ``return_indices=True``
    returns ``(output, indices)``: each maximum's flat index in its input
    plane, as torch's (int32 here; torch's are int64). Gradient: each window's
    first maximum, as torch.
    """

    _nd = 1

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: Optional[IntOrTuple] = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        self.return_indices = return_indices
        self._setup(kernel_size, stride, padding, dilation, ceil_mode, "effective")

    def __call__(self, input: ArrayLike) -> Union[jax.Array, tuple[jax.Array, jax.Array]]:
        x, unbatched = _batched(self, input, self._nd)
        if self.return_indices or any(d != 1 for d in self.dilation):
            y, indices = self._max_over_patches(x)
        else:
            y, indices = self._reduce(x, np.asarray(-np.inf, x.dtype), jax.lax.max), None
        if unbatched:
            y, indices = y[0], None if indices is None else indices[0]
        return (y, indices) if self.return_indices else y


class MaxPool2d(MaxPool1d):
    """torch.nn.MaxPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :class:`MaxPool1d`."""

    _nd = 2


class AvgPool1d(_Pool):
    """torch.nn.AvgPool1d over ``(N, C, L)`` or ``(C, L)``.

    Args as torch: kernel_size, stride (default kernel_size), padding (at most
    half the kernel, zeros), ceil_mode, count_include_pad (default True).
    """

    _nd = 1

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: Optional[IntOrTuple] = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        self._setup(kernel_size, stride, padding, 1, ceil_mode, "")
        self.count_include_pad = count_include_pad
        self.divisor_override = None

    def _divisor(self, spatial: Sequence[int], outs: Sequence[int]) -> np.ndarray:
        """Per-output divisor: torch's window size clipped to the padded (or the real) input."""
        if self.divisor_override is not None:
            return np.asarray(float(self.divisor_override))
        per_dim = []
        for n, out, k, s, p in zip(spatial, outs, self.kernel_size, self.stride, self.padding):
            start = np.arange(out) * s - p
            end = np.minimum(start + k, n + p)
            if not self.count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, n)
            per_dim.append(end - start)
        return math.prod(np.ix_(*per_dim)).astype(np.float64)

    def __call__(self, input: ArrayLike) -> jax.Array:
        x, unbatched = _batched(self, input, self._nd)
        total = self._reduce(x, np.asarray(0, x.dtype), jax.lax.add)
        y = total / jnp.asarray(self._divisor(x.shape[2:], total.shape[2:]), x.dtype)
        return y[0] if unbatched else y


class AvgPool2d(AvgPool1d):
    """torch.nn.AvgPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :class:`AvgPool1d`.

    ``divisor_override``: divide every window's sum by this instead.
    """

    _nd = 2

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: Optional[IntOrTuple] = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: Optional[int] = None,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        if divisor_override is not None and divisor_override == 0:
            raise ValueError("AvgPool2d: divisor must be not zero")
        self.divisor_override = divisor_override


class AdaptiveAvgPool1d(Module):
    """torch.nn.AdaptiveAvgPool1d: output ``output_size`` whatever the input length.

    Output i averages input ``[floor(i * L / out), ceil((i + 1) * L / out))``, torch's bins.
    """

    _nd = 1

    def __init__(
        self, output_size: Union[Optional[int], Sequence[Optional[int]]], *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        size = (output_size,) * self._nd if output_size is None or isinstance(output_size, int) else tuple(output_size)
        if len(size) != self._nd:
            raise ValueError(f"{type(self).__name__}: output_size must have {self._nd} entries, got {output_size}")
        self.output_size = size

    def __call__(self, input: ArrayLike) -> jax.Array:
        x, unbatched = _batched(self, input, self._nd)
        y, divisors = x, []
        for axis, (n, out) in enumerate(zip(x.shape[2:], self.output_size)):
            out = n if out is None else out
            bins = np.zeros((out, n))
            for i in range(out):
                bins[i, (i * n) // out : -((-(i + 1) * n) // out)] = 1.0
            y = jnp.moveaxis(jnp.tensordot(y, jnp.asarray(bins, x.dtype), axes=([2 + axis], [1])), -1, 2 + axis)
            divisors.append(bins.sum(1))
        y = y / jnp.asarray(math.prod(np.ix_(*divisors)), x.dtype)
        return y[0] if unbatched else y


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """torch.nn.AdaptiveAvgPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; ``output_size``
    an int, a pair, or ``None`` entries to keep that input size."""

    _nd = 2
