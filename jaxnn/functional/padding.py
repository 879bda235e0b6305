"""torch.nn.functional.pad: constant, reflect, replicate and circular padding.

``pad`` lists (left, right) pairs starting from the LAST dimension:
``(l_W, r_W, l_H, r_H, ...)``. A negative entry crops that many elements.
"""

from __future__ import annotations

import operator
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._shape_checks import as_array

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(mode: str, n: int, lo: int, hi: int) -> np.ndarray:
    """For each output position along one axis, the input position it copies.

    Reflect and replicate map output ``i`` to ``i - lo`` folded back into
    ``[0, n)``, so a crop on one side does not change what the other side
    reflects. Circular first crops, then wraps around the cropped axis, as
    torch's ``_pad_circular`` does.
    """
    if mode == "circular":
        start, stop = max(-lo, 0), n - max(-hi, 0)
        kept = np.arange(start, stop)
        return np.concatenate([kept[len(kept) - max(lo, 0):], kept, kept[: max(hi, 0)]])
    j = np.arange(n + lo + hi) - lo
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    j = np.abs(j)
    return np.where(j > n - 1, 2 * (n - 1) - j, j)


def _check_non_constant(mode: str, shape: tuple[int, ...], pairs: list[tuple[int, int]]) -> None:
    """torch's shape rules for reflect / replicate / circular (its ``_pad_enum``)."""
    k, ndim = len(pairs), len(shape)
    if ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: padding size {2 * k} is not supported for {ndim}D input with mode {mode!r}; "
            "non-constant padding takes 2 values for 2D/3D input, 4 for 3D/4D, 6 for 4D/5D (got shape "
            f"{shape})"
        )
    spatial = shape[ndim - k:]
    if mode == "circular":
        for n, (lo, hi) in zip(spatial, pairs):
            kept = n - max(-lo, 0) - max(-hi, 0)
            if kept < 0 or max(lo, 0) > kept or max(hi, 0) > kept:
                raise ValueError(
                    f"pad: circular padding {(lo, hi)} wraps around more than once on an axis of size {n} "
                    f"(input shape {shape})"
                )
        return
    non_batch = shape[1:] if ndim == k + 2 else shape
    if 0 in non_batch:
        raise ValueError(
            f"pad: mode {mode!r} expects {k + 1}D or {k + 2}D (batch mode) input with possibly 0 batch size "
            f"and other non-zero dimensions, got shape {shape}"
        )
    if mode == "reflect":
        for n, (lo, hi) in zip(spatial, pairs):
            if lo >= n or hi >= n:
                raise ValueError(
                    f"pad: reflect padding {(lo, hi)} must be less than the corresponding input dimension "
                    f"{n} (input shape {shape})"
                )
    outs = [n + lo + hi for n, (lo, hi) in zip(spatial, pairs)]
    if any(o < 0 for o in outs) or all(o < 1 for o in outs):
        raise ValueError(f"pad: input of shape {shape} is too small for padding {pairs}: output sizes {outs}")


def pad(
    input: ArrayLike, pad: Sequence[int], mode: str = "constant", value: Optional[float] = None
) -> jax.Array:
    """Pads (or, with negative entries, crops) the trailing dimensions of ``input``.

    Args:
      input: any array for ``'constant'``; for ``'reflect'``, ``'replicate'`` and
        ``'circular'`` a ``(C, *S)`` or ``(N, C, *S)`` array with ``len(S) == len(pad) // 2``
        in 1..3 (torch's ReflectionPad1d..3d kernels).
      pad: ``(l_last, r_last, l_second_last, r_second_last, ...)``; its length is even
        and at most ``2 * input.ndim``.
      mode: ``'constant'`` fills with ``value`` (default 0, cast to the input dtype);
        ``'reflect'`` mirrors without repeating the edge (``[2, 1 | 0, 1, 2]``);
        ``'replicate'`` repeats the edge; ``'circular'`` wraps around.
      value: fill value, ``'constant'`` only (torch rejects a non-zero value elsewhere).

    Edges, as torch: reflect padding must be smaller than the axis; a negative
    entry crops and reflect/replicate then still fold around the ORIGINAL edges,
    while circular wraps around the cropped axis and may not wrap twice;
    reflect/replicate need every non-batch dimension non-empty. The gradient
    sums the copies back into the element they came from.

    >>> pad(jnp.arange(4.0).reshape(1, 4), (2, 1), mode="reflect")
    Array([[2., 1., 0., 1., 2., 3., 2.]], dtype=float32)
    """
    x = as_array(input, "input")
    try:
        pad = tuple(operator.index(p) for p in pad)
    except TypeError as e:
        raise TypeError(f"pad: pad must be a sequence of ints, got {pad!r}") from e
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)} ({pad})")
    if len(pad) > 2 * x.ndim:
        raise ValueError(
            f"pad: padding length should be at most two times the input dimension, but got padding "
            f"length {len(pad)} and input of shape {x.shape}"
        )
    if mode not in _MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; expected one of {_MODES}")
    # pairs[i] pads axis ndim - k + i (front to back, the reverse of torch's order).
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))]
    first = x.ndim - len(pairs)
    if mode == "constant":
        for axis, (lo, hi) in enumerate(pairs, first):
            n = x.shape[axis]
            if n + min(lo, 0) < 0 or n + min(lo, 0) + min(hi, 0) < 0:
                raise ValueError(
                    f"pad: negative padding {(lo, hi)} crops more than the {n} elements of axis {axis} "
                    f"(input shape {x.shape})"
                )
        fill = jnp.asarray(0 if value is None else value).astype(x.dtype)
        config = [(0, 0, 0)] * first + [(lo, hi, 0) for lo, hi in pairs]
        return jax.lax.pad(x, fill, config)
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument (got value={value})")
    _check_non_constant(mode, x.shape, pairs)
    for axis, (lo, hi) in enumerate(pairs, first):
        if lo >= 0 and hi >= 0:
            numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
            widths = [(0, 0)] * x.ndim
            widths[axis] = (lo, hi)
            if lo or hi:
                x = jnp.pad(x, widths, mode=numpy_mode)
        else:
            x = jnp.take(x, jnp.asarray(_source_index(mode, x.shape[axis], lo, hi)), axis=axis)
    return x
