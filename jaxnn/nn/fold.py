"""torch.nn.Fold and torch.nn.Unfold: col2im and im2col as layers (:mod:`jaxnn.functional.folding`)."""

from __future__ import annotations

from typing import Optional

import jax
from flax import nnx
from jax.typing import ArrayLike

from ..functional import folding as F
from ..module import Module
from ._common import IntOrTuple

__all__ = ["Fold", "Unfold"]


def _static(value):
    return tuple(value) if isinstance(value, list) else value


class Unfold(Module):
    """torch.nn.Unfold: ``(N, C, H, W)`` -> ``(N, C * kH * kW, L)`` sliding blocks (or unbatched).

    Args as torch: kernel_size, dilation, padding (zeros), stride; see
    :func:`jaxnn.functional.unfold`.

    >>> Unfold(2)(jnp.ones((1, 3, 4, 4))).shape
    (1, 12, 9)
    """

    def __init__(
        self,
        kernel_size: IntOrTuple,
        dilation: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        stride: IntOrTuple = 1,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        self.kernel_size, self.dilation = _static(kernel_size), _static(dilation)
        self.padding, self.stride = _static(padding), _static(stride)

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


class Fold(Module):
    """torch.nn.Fold: ``(N, C * kH * kW, L)`` -> ``(N, C, *output_size)``, overlapping blocks summed.

    Args as torch: output_size, kernel_size, dilation, padding, stride; see
    :func:`jaxnn.functional.fold`.

    >>> Fold((4, 4), 2)(jnp.ones((1, 12, 9))).shape
    (1, 3, 4, 4)
    """

    def __init__(
        self,
        output_size: IntOrTuple,
        kernel_size: IntOrTuple,
        dilation: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        stride: IntOrTuple = 1,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        self.output_size, self.kernel_size = _static(output_size), _static(kernel_size)
        self.dilation, self.padding, self.stride = _static(dilation), _static(padding), _static(stride)

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
        )
