"""Padding layers: thin shells over :func:`jaxnn.functional.pad`.

``padding`` is an int (every side) or a tuple ``(left, right[, top, bottom[, front, back]])``
in torch's order, last dimension first. Negative entries crop. No parameters.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import jax
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module
from ._common import ntuple

__all__ = [
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
]

PadSize = Union[int, Sequence[int]]


class _PadNd(Module):
    """``padding`` expanded to ``2 * _nd`` ints, as torch's ``_pair`` / ``_quadruple`` / ``_ntuple(6)``."""

    _nd: int
    _mode: str

    def __init__(self, padding: PadSize, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.padding = ntuple(padding, 2 * self._nd, "padding")

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding: PadSize, value: float, *, rngs: Optional[nnx.Rngs] = None) -> None:
        super().__init__(padding)
        self.value = value

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dimension with ``value``: ``(*, W) -> (*, W + left + right)``.

    >>> ConstantPad1d((1, 2), 3.5)(jnp.zeros((1, 2)))
    Array([[3.5, 0. , 0. , 3.5, 3.5]], dtype=float32)
    """

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dimensions with ``value``; ``padding`` = (left, right, top, bottom)."""

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dimensions with ``value``; ``padding`` = (left, right, top, bottom, front, back)."""

    _nd = 3


class ZeroPad1d(ConstantPad1d):
    """:class:`ConstantPad1d` with value 0."""

    def __init__(self, padding: PadSize, *, rngs: Optional[nnx.Rngs] = None) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """:class:`ConstantPad2d` with value 0."""

    def __init__(self, padding: PadSize, *, rngs: Optional[nnx.Rngs] = None) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """:class:`ConstantPad3d` with value 0."""

    def __init__(self, padding: PadSize, *, rngs: Optional[nnx.Rngs] = None) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirrors ``(C, W)`` / ``(N, C, W)`` at its edges without repeating them; each padding < W.

    >>> ReflectionPad1d(2)(jnp.arange(4.0).reshape(1, 4))
    Array([[2., 1., 0., 1., 2., 3., 2., 1.]], dtype=float32)
    """

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Reflection padding of ``(C, H, W)`` / ``(N, C, H, W)``."""

    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Reflection padding of ``(C, D, H, W)`` / ``(N, C, D, H, W)``."""

    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeats the edge values of ``(C, W)`` / ``(N, C, W)``.

    >>> ReplicationPad1d((1, 2))(jnp.arange(3.0).reshape(1, 3))
    Array([[0., 0., 1., 2., 2., 2.]], dtype=float32)
    """

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Replication padding of ``(C, H, W)`` / ``(N, C, H, W)``."""

    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Replication padding of ``(C, D, H, W)`` / ``(N, C, D, H, W)``."""

    _nd, _mode = 3, "replicate"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def __call__(self, input: ArrayLike) -> jax.Array:
        ndim = jax.numpy.ndim(input)
        if ndim not in (self._nd + 1, self._nd + 2):
            raise ValueError(
                f"{type(self).__name__}: expected {self._nd + 1}D or {self._nd + 2}D input "
                f"(got {ndim}D input of shape {jax.numpy.shape(input)})"
            )
        return super().__call__(input)


class CircularPad1d(_CircularPadNd):
    """Wraps ``(C, W)`` / ``(N, C, W)`` around: the left pad copies the last elements.

    >>> CircularPad1d(1)(jnp.arange(3.0).reshape(1, 3))
    Array([[2., 0., 1., 2., 0.]], dtype=float32)
    """

    _nd = 1


class CircularPad2d(_CircularPadNd):
    """Circular padding of ``(C, H, W)`` / ``(N, C, H, W)``."""

    _nd = 2


class CircularPad3d(_CircularPadNd):
    """Circular padding of ``(C, D, H, W)`` / ``(N, C, D, H, W)``."""

    _nd = 3
