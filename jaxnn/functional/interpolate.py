"""torch.nn.functional.interpolate and its deprecated aliases (upsample, upsample_nearest,
upsample_bilinear).

Every mode is separable: each spatial axis is resampled in turn (last axis first,
the order of torch's nested CPU loops) by gathering a few taps per output
position and weighting them. The taps and weights are computed here on the host
with numpy, in the precision torch's kernels use (``float`` for float32 and
smaller inputs, ``double`` for float64), reproducing ATen's index rules
(``UpSample.h``: ``area_pixel_compute_scale``, ``area_pixel_compute_source_index``,
``guard_index_and_lambda``, the cubic convolution coefficients, and
``UpSampleKernel.cpp``'s antialias filters). The gradient of a gather is the
scatter-add torch's backward kernels perform.
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._shape_checks import as_array

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area", "lanczos")
# The rank each interpolating mode requires (its number of spatial dimensions).
_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}

Size = Union[int, Sequence[int]]
Scale = Union[float, Sequence[float]]


def _opmath(dtype) -> type:
    """The float type ATen computes indices and weights in (its ``opmath_type``)."""
    return np.float64 if jnp.dtype(dtype) == jnp.float64 else np.float32


def _scale(t: type, n_in: int, n_out: int, align_corners: bool, scale: Optional[float]) -> np.floating:
    """``area_pixel_compute_scale``: the source step per output step."""
    if align_corners:
        return t(n_in - 1) / t(n_out - 1) if n_out > 1 else t(0)
    if scale is not None and scale > 0:
        return t(1.0 / scale)
    return t(n_in) / t(n_out)


def _source(t: type, scale: np.floating, n_out: int, align_corners: bool, cubic: bool) -> np.ndarray:
    """``area_pixel_compute_source_index`` for every output position."""
    i: np.ndarray = np.arange(n_out).astype(t)
    if align_corners:
        return scale * i
    src = scale * (i + t(0.5)) - t(0.5)
    return src if cubic else np.where(src < 0, t(0), src)


def _floorf(x: np.ndarray) -> np.ndarray:
    """C's ``floorf``: the argument is rounded to float32 first."""
    return np.floor(np.asarray(x).astype(np.float32)).astype(np.int64)


def _guard(t: type, real: np.ndarray, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """``guard_index_and_lambda``: the left tap and the fractional offset in [0, 1]."""
    index = np.minimum(_floorf(real), n_in - 1)
    lam = np.minimum(np.maximum(real - index.astype(t), t(0)), t(1))
    return index, lam.astype(t)


def _cubic1(x, a):
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic2(x, a):
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _taps(mode: str, dtype, n_in: int, n_out: int, align_corners: bool, scale: Optional[float], antialias: bool):
    """(indices, weights, valid) of shape (n_out, taps) for one axis; ``weights`` None means a mean."""
    t = _opmath(dtype)
    if mode == "area":
        i = np.arange(n_out)
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        width = int((end - start).max())
        index = start[:, None] + np.arange(width)[None, :]
        return np.minimum(index, n_in - 1), None, index < end[:, None]
    s = _scale(t, n_in, n_out, align_corners, scale)
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest":
            real = s * np.arange(n_out).astype(t)
        else:
            real = _source(t, s, n_out, False, cubic=False).astype(np.float64) + 0.5
        return np.minimum(_floorf(real), n_in - 1)[:, None], None, None
    if antialias:
        return _antialias_taps(mode, t, s, n_in, n_out)
    if mode == "bicubic":
        index, lam = _guard(t, _source(t, s, n_out, align_corners, cubic=True), n_in)
        a = t(-0.75)
        x2 = (t(1) - lam).astype(t)
        weights = np.stack(
            [_cubic2((lam + t(1)).astype(t), a), _cubic1(lam, a), _cubic1(x2, a), _cubic2((x2 + t(1)).astype(t), a)], 1
        )
        taps = np.clip(index[:, None] - 1 + np.arange(4)[None, :], 0, n_in - 1)
        return taps, weights.astype(t), None
    if n_in == n_out:
        i = np.arange(n_out)[:, None]
        return np.concatenate([i, i], 1), np.tile(np.array([1, 0], t), (n_out, 1)), None
    index, lam = _guard(t, _source(t, s, n_out, align_corners, cubic=False), n_in)
    taps = np.stack([index, index + (index < n_in - 1)], 1)
    return taps, np.stack([(t(1) - lam).astype(t), lam], 1), None


def _antialias_taps(mode: str, t: type, scale: np.floating, n_in: int, n_out: int):
    """``_compute_indices_min_size_weights_aa``: PIL's filter stretched by the downscale
    factor, renormalised over the taps that fall inside the input."""
    interp = {"bilinear": 2, "bicubic": 4, "lanczos": 6}[mode]
    support = t(interp * 0.5 * scale) if scale >= 1.0 else t(interp * 0.5)
    width = int(math.ceil(support)) * 2 + 1
    invscale = t(1.0 / scale) if scale >= 1.0 else t(1.0)
    center: np.ndarray = (scale * (np.arange(n_out) + 0.5)).astype(t)
    xmin = np.maximum(np.trunc((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    xmax = np.minimum(np.trunc((center + support).astype(np.float64) + 0.5).astype(np.int64), n_in)
    size = np.clip(xmax - xmin, 0, width)
    j = np.arange(width)[None, :]
    offset = ((j + xmin[:, None]).astype(t) - center[:, None]).astype(np.float64) + 0.5
    x = np.abs((offset * np.float64(invscale)).astype(t))
    if mode == "bilinear":
        w = np.where(x < 1, t(1) - x, t(0)).astype(t)
    elif mode == "lanczos":
        # Lanczos-3: sinc(x) * sinc(x / 3) inside |x| < 3 (PIL's filter).
        w = np.where(x < 3, np.sinc(x.astype(np.float64)) * np.sinc(x.astype(np.float64) / 3), 0).astype(t)
    else:
        a = t(-0.5)
        w = np.where(x < 1, _cubic1(x, a), np.where(x < 2, _cubic2(x, a), t(0))).astype(t)
    valid = j < size[:, None]
    w = np.where(valid, w, t(0))
    total = w.sum(1, dtype=t, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, t(1)), w).astype(t)
    return np.minimum(j + xmin[:, None], n_in - 1), w, valid


def _resample_axis(x: jax.Array, axis: int, index: np.ndarray, weights, valid) -> jax.Array:
    n_in, n_out = x.shape[axis], index.shape[0]
    if index.shape[1] == 1 and n_out % n_in == 0:
        k = n_out // n_in
        if np.array_equal(index[:, 0], np.arange(n_out) // k):
            # Integer nearest upsampling: a broadcast instead of a gather (and a
            # reduction instead of a scatter-add for the gradient), much faster on XLA:CPU.
            return jnp.repeat(x, k, axis=axis)
    x = jnp.moveaxis(x, axis, -1)
    g = x[..., jnp.asarray(index)]
    if valid is not None:
        g = jnp.where(jnp.asarray(valid), g, jnp.zeros((), g.dtype))
    if index.shape[1] == 1:
        return jnp.moveaxis(g[..., 0], -1, axis)
    # Half precision accumulates in float32 (torch's opmath); the weights are first
    # rounded to the input dtype, as torch stores them.
    acc = jnp.promote_types(g.dtype, jnp.float32)
    if weights is None:
        y = jnp.sum(g.astype(acc), -1) / jnp.asarray(valid.sum(1), acc)
    else:
        y = jnp.sum(g.astype(acc) * jnp.asarray(weights, g.dtype).astype(acc), -1)
    return jnp.moveaxis(y.astype(x.dtype), -1, axis)


def _as_int(v, what: str) -> int:
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"interpolate: expected {what} to be int or a tuple of ints, got {v!r}") from None


def _output_size(
    x: jax.Array, size: Optional[Size], scale_factor: Optional[Scale], recompute_scale_factor: Optional[bool], mode: str
) -> tuple[list[int], list[Optional[float]]]:
    """torch's Python-side resolution of size vs scale_factor, then its C++ ``compute_output_size``."""
    dim = x.ndim - 2
    spatial = list(x.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    f"interpolate: input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {spatial} and output size of {tuple(size)}"
                )
            out = [_as_int(s, "size") for s in size]
        else:
            out = [_as_int(size, "size")] * dim
        scales: list[Optional[float]] = [None] * dim
    else:
        assert scale_factor is not None  # checked above
        factors: list[float]
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    f"interpolate: input and scale_factor must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {spatial} and scale_factor of {tuple(scale_factor)}"
                )
            factors = [float(s) for s in scale_factor]
        else:
            factors = [float(scale_factor)] * dim  # type: ignore[arg-type]  # lists and tuples were handled
        scales = [*factors]
        out = [int(n * s) for n, s in zip(spatial, factors)]
        if recompute_scale_factor or mode == "area":
            scales = [None] * dim
    if any(o <= 0 for o in out):
        raise ValueError(
            f"interpolate: input and output sizes should be greater than 0, but got input {tuple(spatial)} "
            f"and output {tuple(out)}"
        )
    return out, scales


def interpolate(
    input: ArrayLike,
    size: Optional[Size] = None,
    scale_factor: Optional[Scale] = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
) -> jax.Array:
    """Resamples the spatial dimensions of a ``(N, C, *S)`` array to ``size`` or ``S * scale_factor``.

    Args:
      input: ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
      size: output spatial size (an int for every axis, or one per axis).
      scale_factor: multiplier(s); the output size is ``floor(S * scale_factor)``.
        Unless ``recompute_scale_factor`` is true, the source step of each output
        pixel is ``1 / scale_factor`` itself (not ``S_in / S_out``), as torch.
      mode: ``'nearest'`` (source ``floor(i * S_in / S_out)``, OpenCV's rule),
        ``'nearest-exact'`` (``floor((i + 0.5) * S_in / S_out)``, PIL's), ``'linear'``
        (3-D), ``'bilinear'`` / ``'bicubic'`` (4-D), ``'trilinear'`` (5-D), ``'area'``
        (adaptive average pooling), ``'lanczos'`` (4-D, ``antialias=True`` and
        ``align_corners=False`` only: PIL's Lanczos-3 filter, 6 taps when upsampling).
      align_corners: for the interpolating modes, map corner pixel centres onto
        each other (source ``i * (S_in - 1) / (S_out - 1)``) instead of pixel edges
        (``(i + 0.5) * scale - 0.5``, clamped at 0 for linear modes). Must be None
        for nearest/area modes; None means False otherwise.
      recompute_scale_factor: with ``scale_factor``, derive the step from the sizes.
      antialias: bilinear/bicubic/lanczos on 4-D input only: when downsampling, widen the
        filter by the downscale factor (PIL's resampling; bicubic then uses
        a = -0.5 instead of -0.75).

    Bicubic samples outside the input are clamped to the border (edge taps are
    repeated); bicubic may overshoot the input range. Gradients equal torch's
    (the scatter-add of the same weights).

    >>> interpolate(jnp.arange(4.0).reshape(1, 1, 4), scale_factor=2, mode="linear")
    Array([[[0.  , 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.  ]]], dtype=float32)
    """
    x = as_array(input, "input")
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {_MODES}, got {mode!r}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "interpolate: align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
        align_corners = False
    elif align_corners is None:
        align_corners = False
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"interpolate: only 3D, 4D and 5D input arrays are supported (got shape {x.shape}) for mode {mode!r}"
        )
    if mode in _MODE_DIMS and x.ndim != _MODE_DIMS[mode] + 2:
        raise ValueError(
            f"interpolate: got {x.ndim}D input of shape {x.shape}, but {mode} mode needs "
            f"{_MODE_DIMS[mode] + 2}D input"
        )
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and x.ndim == 4):
        raise ValueError(
            "interpolate: anti-alias option is restricted to bilinear, bicubic and lanczos modes and requires a "
            f"4-D input (got mode {mode!r}, shape {x.shape})"
        )
    if mode == "lanczos" and align_corners:
        raise ValueError("interpolate: lanczos mode does not support align_corners=True")
    if mode == "lanczos" and not antialias:
        raise ValueError("interpolate: lanczos mode requires antialias=True")
    if not jnp.issubdtype(x.dtype, jnp.floating) and mode != "nearest" and mode != "nearest-exact":
        raise TypeError(f"interpolate: mode {mode!r} needs a floating input, got dtype {x.dtype}")
    out, scales = _output_size(x, size, scale_factor, recompute_scale_factor, mode)
    if x.shape[1] == 0 or 0 in x.shape[2:]:
        raise ValueError(f"interpolate: non-batch dimensions must be non-empty, got input of shape {x.shape}")
    for axis in reversed(range(2, x.ndim)):
        n_in, n_out, scale = x.shape[axis], out[axis - 2], scales[axis - 2]
        if antialias and n_in == n_out:
            continue
        index, weights, valid = _taps(mode, x.dtype, n_in, n_out, align_corners, scale, antialias)
        x = _resample_axis(x, axis, index, weights, valid)
    return x


def upsample(
    input: ArrayLike,
    size: Optional[Size] = None,
    scale_factor: Optional[Scale] = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
) -> jax.Array:
    """Deprecated alias of :func:`interpolate` (warns, as torch)."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: ArrayLike, size: Optional[Size] = None, scale_factor: Optional[Scale] = None) -> jax.Array:
    """Deprecated: ``interpolate(input, size, scale_factor, mode='nearest')`` (warns, as torch)."""
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: ArrayLike, size: Optional[Size] = None, scale_factor: Optional[Scale] = None) -> jax.Array:
    """Deprecated: ``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)``."""
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
