"""torch.nn.functional.grid_sample and affine_grid (spatial transformer sampling).

Follows ATen's ``GridSampler.h`` / ``GridSamplerKernel.cpp``: a grid value in
[-1, 1] is unnormalised to a pixel coordinate, the padding mode clips or
reflects it, and the output is the bilinear (trilinear), nearest or bicubic
interpolation of the input there, with zeros outside the input. The clip and
reflection carry torch's gradients (0 at and beyond a clipped border, the sign
of the reflection elsewhere), written with ``jnp.where`` so that ``jax.grad``
returns them for both the input and the grid.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._shape_checks import as_array

__all__ = ["grid_sample", "affine_grid"]

_ALIGN_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
    "Please specify align_corners=True if the old behavior is desired. See the documentation of "
    "grid_sample for details."
)


def _unnormalize(coord: jax.Array, size: int, align_corners: bool, two_d: bool) -> jax.Array:
    """[-1, 1] -> pixel coordinates, in the arithmetic of torch's 2-d (vectorised) or 3-d CPU kernel."""
    if two_d:
        factor = (size - 1) / 2 if align_corners else size / 2
        y = (coord + 1) * jnp.asarray(factor, coord.dtype)
        return y if align_corners else y - 0.5
    if align_corners:
        return ((coord + 1) / 2) * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _clip(coord: jax.Array, size: int) -> jax.Array:
    """Clamp to [0, size - 1] with gradient 0 at both borders (torch's clip_coordinates_set_grad)."""
    hi = jnp.asarray(size - 1, coord.dtype)
    return jnp.where(coord <= 0, jnp.zeros_like(coord), jnp.where(coord >= hi, hi, coord))


def _reflect(coord: jax.Array, twice_low: int, twice_high: int) -> jax.Array:
    """Reflect into [twice_low / 2, twice_high / 2] as many times as needed (reflect_coordinates)."""
    if twice_low == twice_high:
        return jnp.zeros_like(coord)
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    shifted = coord - lo
    # The sign of the unfolding: torch's grad multiplier is +1 at exactly 0.
    folded = jnp.where(shifted < 0, -shifted, shifted)
    extra = jnp.fmod(folded, span)
    flips = jax.lax.stop_gradient(jnp.floor(folded / span))
    return jnp.where(jnp.fmod(flips, 2) == 0, extra + lo, span - extra + lo)


def _pad_coordinate(coord: jax.Array, size: int, padding_mode: str, align_corners: bool) -> jax.Array:
    if padding_mode == "border":
        return _clip(coord, size)
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else _reflect(coord, -1, 2 * size - 1)
        return _clip(coord, size)
    return coord


def _gather(x: jax.Array, spatial: Sequence[int], corner: Sequence[jax.Array]) -> jax.Array:
    """x[n, :, corner] with zeros where the integer corner lies outside the input.

    ``corner`` holds one integer array of shape (N, *G, K) per spatial axis, in
    axis order (K taps per output point, gathered at once); returns (N, C, *G, K).
    """
    valid = jnp.ones(corner[0].shape, bool)
    flat = jnp.zeros(corner[0].shape, jnp.int32)
    for c, n in zip(corner, spatial):
        valid &= (c >= 0) & (c < n)
        flat = flat * n + jnp.clip(c, 0, n - 1).astype(jnp.int32)
    batch, channels = x.shape[:2]
    points = int(np.prod(corner[0].shape[1:]))
    values = jax.vmap(lambda xs, i: xs[:, i])(
        x.reshape(batch, channels, int(np.prod(spatial))), flat.reshape(batch, points)
    )
    values = values.reshape(batch, channels, *corner[0].shape[1:])
    return jnp.where(valid[:, None], values, jnp.zeros((), x.dtype))


def _interpolate_taps(x: jax.Array, spatial: Sequence[int], taps: Sequence[Sequence[tuple]]) -> jax.Array:
    """Sum over the tensor product of per-axis taps: ``taps[axis]`` lists (coordinate, weight)
    pairs; every combination is gathered in one go and weighted by the product of its weights."""
    corner: list[list[jax.Array]] = [[] for _ in spatial]
    weight: list[jax.Array] = []
    for combo in itertools.product(*taps):
        w: Any = None
        for axis, (c, wa) in enumerate(combo):
            corner[axis].append(c)
            w = wa if w is None else w * wa
        weight.append(w)
    values = _gather(x, spatial, [jnp.stack(c, -1) for c in corner])
    # Half precision accumulates in float32, as torch's opmath.
    acc = jnp.promote_types(x.dtype, jnp.float32)
    return jnp.sum(values.astype(acc) * jnp.stack(weight, -1)[:, None].astype(acc), -1).astype(x.dtype)


def _cubic_coefficients(t: jax.Array) -> list[jax.Array]:
    """Keys' cubic convolution weights (A = -0.75) of the 4 taps around a point at offset t in [0, 1)."""
    a = -0.75

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample(
    input: ArrayLike,
    grid: ArrayLike,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: Optional[bool] = None,
) -> jax.Array:
    """Samples ``input`` at the normalised locations ``grid``.

    Args:
      input: ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
      grid: ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)`` with
        ``(x, y[, z])`` = (width, height[, depth]) coordinates; -1 and 1 are the
        corner pixels' centres (``align_corners=True``) or outer edges (False).
      mode: ``'bilinear'`` (trilinear for 5-D), ``'nearest'`` (round half to
        even), ``'bicubic'`` (4-D only; A = -0.75, padding applied per tap).
      padding_mode: ``'zeros'`` | ``'border'`` | ``'reflection'``.
      align_corners: None warns and means False, as torch.

    Returns ``(N, C, H_out, W_out)`` or ``(N, C, D_out, H_out, W_out)``.
    Gradients flow to ``input`` and to ``grid`` (zero for nearest) as torch's.

    >>> grid_sample(jnp.arange(4.0).reshape(1, 1, 2, 2), jnp.zeros((1, 1, 1, 2)), align_corners=False)
    Array([[[[1.5]]]], dtype=float32)
    """
    x = as_array(input, "input")
    g = as_array(grid, "grid")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"grid_sample: expected mode to be 'bilinear', 'nearest' or 'bicubic', but got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            f"grid_sample: expected padding_mode to be 'zeros', 'border', or 'reflection', but got {padding_mode!r}"
        )
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if x.ndim not in (4, 5) or g.ndim != x.ndim:
        raise ValueError(
            f"grid_sample: expected 4D or 5D input and grid with the same number of dimensions, but got input of "
            f"shape {x.shape} and grid of shape {g.shape}"
        )
    nd = x.ndim - 2
    if g.shape[0] != x.shape[0]:
        raise ValueError(f"grid_sample: input {x.shape} and grid {g.shape} must have the same batch size")
    if g.shape[-1] != nd:
        raise ValueError(f"grid_sample: expected grid to have size {nd} in last dimension, got grid of shape {g.shape}")
    if 0 in x.shape[2:]:
        raise ValueError(f"grid_sample: expected input to have non-empty spatial dimensions, got shape {x.shape}")
    if mode == "bicubic" and nd != 2:
        raise ValueError(f"grid_sample: bicubic interpolation only supports 4D input, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating) or x.dtype != g.dtype:
        raise TypeError(f"grid_sample: input and grid must share a floating dtype, got {x.dtype} and {g.dtype}")
    spatial = x.shape[2:]
    # grid's last axis is (x, y, z) = (W, H, D): reverse it to spatial-axis order.
    coords = [
        _unnormalize(g[..., nd - 1 - axis], spatial[axis], align_corners, nd == 2) for axis in range(nd)
    ]
    if mode == "bicubic":
        taps = []
        for axis, c in enumerate(coords):
            floor = jnp.floor(c)
            weights = _cubic_coefficients(c - floor)
            taps.append(
                [
                    (
                        jax.lax.stop_gradient(
                            _pad_coordinate(floor - 1 + k, spatial[axis], padding_mode, align_corners)
                        ).astype(jnp.int32),
                        weights[k],
                    )
                    for k in range(4)
                ]
            )
        return _interpolate_taps(x, spatial, taps)
    coords = [_pad_coordinate(c, n, padding_mode, align_corners) for c, n in zip(coords, spatial)]
    if mode == "nearest":
        corner = [jax.lax.stop_gradient(jnp.round(c)).astype(jnp.int32)[..., None] for c in coords]
        return _gather(x, spatial, corner)[..., 0]
    taps = []
    for c in coords:
        floor = jax.lax.stop_gradient(jnp.floor(c))
        frac = c - floor
        taps.append([(floor.astype(jnp.int32), 1 - frac), ((floor + 1).astype(jnp.int32), frac)])
    return _interpolate_taps(x, spatial, taps)


def _linspace_from_neg_one(n: int, align_corners: bool, dtype) -> np.ndarray:
    """torch's ``linspace(-1, 1, n)`` (filled from both ends), shrunk by (n - 1) / n unless align_corners."""
    t = np.float64 if jnp.dtype(dtype) == jnp.float64 else np.float32
    if n <= 1:
        return np.zeros((max(n, 1),), t)
    step = (t(1) - t(-1)) / t(n - 1)
    i = np.arange(n)
    # (the ignore: numpy's stubs cannot follow t, a scalar class chosen at runtime)
    values = np.where(i < n // 2, t(-1) + step * i.astype(t), t(1) - step * (n - 1 - i).astype(t)).astype(t)  # type: ignore[attr-defined, operator]
    if not align_corners:
        values = (values * t(n - 1) / t(n)).astype(t)
    return values


def affine_grid(theta: ArrayLike, size: Sequence[int], align_corners: Optional[bool] = None) -> jax.Array:
    """The sampling grid of affine maps ``theta`` for :func:`grid_sample`.

    Args:
      theta: ``(N, 2, 3)`` for a 4-D ``size`` ``(N, C, H, W)``, ``(N, 3, 4)`` for a
        5-D ``size`` ``(N, C, D, H, W)``.
      size: the target output size.
      align_corners: as in :func:`grid_sample`; None warns and means False.

    Returns ``(N, H, W, 2)`` or ``(N, D, H, W, 3)``: ``theta @ (x, y[, z], 1)`` over
    the base grid of normalised pixel centres.

    >>> affine_grid(jnp.array([[[1.0, 0, 0], [0, 1, 0]]]), (1, 1, 1, 2), align_corners=False)
    Array([[[[-0.5,  0. ],
             [ 0.5,  0. ]]]], dtype=float32)
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    th = as_array(theta, "theta")
    if not jnp.issubdtype(th.dtype, jnp.floating):
        raise TypeError(f"affine_grid: expected theta to have floating point type, but got {th.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise ValueError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. "
            f"Got size {size}."
        )
    nd = len(size) - 2
    if th.ndim != 3 or th.shape[1:] != (nd, nd + 1):
        raise ValueError(
            f"affine_grid: expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} for size {size}, "
            f"got {th.shape}"
        )
    if min(size) <= 0:
        raise ValueError(f"affine_grid: expected non-zero, positive output size, got {size}")
    if th.shape[0] != size[0]:
        raise ValueError(f"affine_grid: theta {th.shape} and size {size} must have the same batch size")
    if align_corners and min(size[2:]) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when align_corners=True. "
            "This is not an intended use case of affine_grid. See the documentation of affine_grid for details.",
            stacklevel=2,
        )
    spatial = size[2:]
    axes = [_linspace_from_neg_one(n, align_corners, th.dtype) for n in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    # base[..., k] = (x, y[, z], 1): the width coordinate first.
    base = jnp.asarray(np.stack([*reversed(mesh), np.ones_like(mesh[0])], -1), th.dtype).reshape(-1, nd + 1)
    grid = jnp.einsum("pj,nkj->npk", base, th, precision=jax.lax.Precision.HIGHEST)
    return grid.reshape(size[0], *spatial, nd)
