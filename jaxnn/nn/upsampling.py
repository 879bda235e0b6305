"""Upsampling layers: thin shells over :func:`jaxnn.functional.interpolate`. No parameters."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import jax
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]

Size = Union[int, Sequence[int]]
Scale = Union[float, Sequence[float]]


class Upsample(Module):
    """Resamples ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to ``size`` or by
    ``scale_factor`` with :func:`jaxnn.functional.interpolate` (see it for the modes).

    ``scale_factor`` is stored as float(s), as torch stores it.

    >>> Upsample(scale_factor=2)(jnp.arange(2.0).reshape(1, 1, 2))
    Array([[[0., 0., 1., 1.]]], dtype=float32)
    """

    def __init__(
        self,
        size: Optional[Size] = None,
        scale_factor: Optional[Scale] = None,
        mode: str = "nearest",
        align_corners: Optional[bool] = None,
        recompute_scale_factor: Optional[bool] = None,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        self.size = tuple(size) if isinstance(size, (list, tuple)) else size
        self.scale_factor: Union[float, tuple[float, ...], None]
        if isinstance(scale_factor, (list, tuple)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            # (the ignore: mypy keeps the Sequence case, which the isinstance above took)
            self.scale_factor = float(scale_factor) if scale_factor else None  # type: ignore[arg-type]
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for ``(N, C, H, W)`` input."""

    def __init__(
        self, size: Optional[Size] = None, scale_factor: Optional[Scale] = None, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` for ``(N, C, H, W)`` input."""

    def __init__(
        self, size: Optional[Size] = None, scale_factor: Optional[Scale] = None, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
