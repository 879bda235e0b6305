"""Sliding-window geometry shared by pooling, unfold and fold.

Windows are read as strided slices of the padded input (one slice per kernel
offset), which keeps every value exact and lets JAX differentiate them as plain
slicing; the flat positions the windows read are static numpy tables.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

IntOrTuple = Union[int, Sequence[int]]


def tuples(name: str, nd: int, **values: IntOrTuple) -> list[tuple[int, ...]]:
    """torch's ``_single``/``_pair``/``_triple`` of each keyword: an int repeated ``nd`` times or ``nd`` ints."""
    out: list[tuple[int, ...]] = []
    for arg, value in values.items():
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            out.append((int(value),) * nd)
            continue
        ints: Optional[tuple[int, ...]]
        try:
            ints = tuple(int(v) for v in value)  # type: ignore[union-attr]  # a bool raises TypeError here
        except TypeError:
            ints = None
        if ints is None or len(ints) != nd:
            raise ValueError(f"{name}: {arg} must be an int or a tuple of {nd} ints, got {values[arg]!r}")
        out.append(ints)
    return out


def spatial_input(name: str, x: jax.Array, nd: int) -> tuple[jax.Array, bool]:
    """``x`` with a batch axis (torch accepts unbatched ``(C, *spatial)``), and whether it had none."""
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, got shape {x.shape}")
    return (x[None], True) if x.ndim == nd + 1 else (x, False)


def floating(name: str, x: jax.Array) -> jax.Array:
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name}: input must have a floating dtype, got {x.dtype} with shape {x.shape}")
    return x


def index_dtype() -> jnp.dtype:
    """torch's int64 indices where ``jax_enable_x64`` allows them, int32 otherwise."""
    return jax.dtypes.canonicalize_dtype(jnp.int64)


def pooled_size(name: str, size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``; with ``ceil_mode`` a last window starting in the right padding is dropped."""
    numerator = size + 2 * p - d * (k - 1) - 1
    out = (-(-numerator // s) if ceil_mode else numerator // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    if out < 1:
        raise ValueError(
            f"{name}: output size is too small (input size {size}, kernel_size {k}, stride {s}, "
            f"padding {p}, dilation {d}, ceil_mode {ceil_mode}): computed output size {out}"
        )
    return out


def right_pads(spatial, outs, kernel, stride, padding, dilation) -> list[tuple[int, int]]:
    """(lo, hi) paddings whose windows cover exactly ``outs`` outputs per axis."""
    return [
        (p, max((o - 1) * s + d * (k - 1) + 1 - n - p, 0))
        for n, o, k, s, p, d in zip(spatial, outs, kernel, stride, padding, dilation)
    ]


def patches(
    x: jax.Array,
    outs: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: Sequence[tuple[int, int]],
    fill: float,
) -> jax.Array:
    """``(N, C, *spatial)`` -> ``(N, C, prod(kernel), *outs)``: each window's elements, kernel offsets row-major."""
    x = jnp.pad(x, [(0, 0), (0, 0)] + list(pads), constant_values=fill)
    out = []
    for offset in np.ndindex(*kernel):
        index = tuple(slice(i * d, i * d + (o - 1) * s + 1, s) for i, d, o, s in zip(offset, dilation, outs, stride))
        out.append(x[(slice(None), slice(None)) + index])
    return jnp.stack(out, axis=2)


def positions(spatial, outs, kernel, stride, dilation, pads) -> np.ndarray:
    """``(prod(kernel), *outs)``: the flat (row-major) input position each window element reads, -1 in padding."""
    table = []
    for offset in np.ndindex(*kernel):
        where = np.meshgrid(
            *[np.arange(o) * s + i * d - lo for o, s, i, d, (lo, _) in zip(outs, stride, offset, dilation, pads)],
            indexing="ij",
        )
        inside = np.logical_and.reduce([(w >= 0) & (w < n) for w, n in zip(where, spatial)])
        flat = np.ravel_multi_index(tuple(np.clip(w, 0, n - 1) for w, n in zip(where, spatial)), spatial)
        table.append(np.where(inside, flat, -1))
    return np.stack(table)


def torch_argmax(values: jax.Array, valid: Optional[jax.Array] = None, axis: int = 2) -> jax.Array:
    """The element torch's max-pooling kernels pick along ``axis``: the last nan if there is one,
    else the first maximum among the ``valid`` elements (the first valid one if all are -inf)."""
    if valid is None:
        valid = jnp.ones(values.shape, bool)
    nan = jnp.isnan(values) & valid
    k = values.shape[axis]
    last_nan = k - 1 - jnp.argmax(jnp.flip(nan, axis), axis=axis, keepdims=True)
    top = jnp.max(jnp.where(valid, values, -jnp.inf), axis=axis, keepdims=True)
    first_max = jnp.argmax(valid & (values == top), axis=axis, keepdims=True)
    return jnp.where(jnp.any(nan, axis=axis, keepdims=True), last_nan, first_max)
