"""Pooling layers in torch's channels-first layout: max, average, adaptive, power-average,
fractional max and max-unpool, each in 1, 2 and 3 spatial dimensions where torch has it.

The layers hold torch's options and call :mod:`jaxnn.functional.pooling`, where the
window geometry, ``ceil_mode``, divisors and torch's indices are documented.
Indices are int64 when ``jax_enable_x64`` is on and int32 otherwise (torch: int64).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import jax
from flax import nnx
from jax.typing import ArrayLike

from ..functional import pooling as F
from ..module import Module
from ..parameter import Buffer
from ._common import IntOrTuple

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "FractionalMaxPool2d",
    "FractionalMaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
]

MaybeIndices = Union[jax.Array, tuple[jax.Array, jax.Array]]


def _static(value):
    """Options as hashable module data (a list would become an nnx pytree node)."""
    return tuple(value) if isinstance(value, list) else value


def _torch_tuple(value, n: int):
    """torch's ``_ntuple`` as its reprs show it: a sequence as a tuple, anything else repeated."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


class MaxPool1d(Module):
    """torch.nn.MaxPool1d over ``(N, C, L)`` or ``(C, L)``, padding with -inf.

    Args as torch: kernel_size, stride (default kernel_size), padding (at most
    half the effective kernel), dilation, return_indices, ceil_mode; see
    :func:`jaxnn.functional.max_pool1d`. ``return_indices=True`` returns
    ``(output, indices)``. Gradient: each window's first maximum, as torch.

    >>> MaxPool1d(2)(jnp.asarray([[1., 3., 2., 0.]]))
    Array([[3., 2.]], dtype=float32)
    """

    _pool = staticmethod(F.max_pool1d)
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
        self.kernel_size = _static(kernel_size)
        self.stride = _static(stride) if stride is not None else self.kernel_size
        self.padding, self.dilation = _static(padding), _static(dilation)
        self.return_indices, self.ceil_mode = return_indices, ceil_mode
        # Bad geometry fails here already (torch waits for the first call).
        F._window(type(self).__name__, self._nd, self.kernel_size, self.stride, self.padding, self.dilation, True)

    def __call__(self, input: ArrayLike) -> MaybeIndices:
        return self._pool(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(MaxPool1d):
    """torch.nn.MaxPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :class:`MaxPool1d`."""

    _pool = staticmethod(F.max_pool2d)
    _nd = 2


class MaxPool3d(MaxPool1d):
    """torch.nn.MaxPool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`MaxPool1d`."""

    _pool = staticmethod(F.max_pool3d)
    _nd = 3


class AvgPool1d(Module):
    """torch.nn.AvgPool1d over ``(N, C, L)`` or ``(C, L)``.

    Args as torch: kernel_size, stride (default kernel_size), padding (at most
    half the kernel, zeros), ceil_mode, count_include_pad (default True); see
    :func:`jaxnn.functional.avg_pool1d` for the divisors.

    >>> AvgPool1d(2)(jnp.asarray([[1., 3., 2., 0.]]))
    Array([[2., 1.]], dtype=float32)
    """

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
        self.kernel_size = _static(kernel_size)
        self.stride = _static(stride) if stride is not None else self.kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = _static(padding), ceil_mode, count_include_pad
        F._window(type(self).__name__, 1, self.kernel_size, self.stride, self.padding, 1, False)

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        # torch stores AvgPool1d's options as 1-tuples (AvgPool2d/3d's as given)
        return (
            f"kernel_size={_torch_tuple(self.kernel_size, 1)}, stride={_torch_tuple(self.stride, 1)}, "
            f"padding={_torch_tuple(self.padding, 1)}"
        )


class AvgPool2d(Module):
    """torch.nn.AvgPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :class:`AvgPool1d`.

    ``divisor_override``: divide every window's sum by this instead.
    """

    _pool = staticmethod(F.avg_pool2d)
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
        if divisor_override is not None and divisor_override == 0:
            raise ValueError(f"{type(self).__name__}: divisor_override must be non-zero, got {divisor_override}")
        self.kernel_size = _static(kernel_size)
        self.stride = _static(stride) if stride is not None else self.kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = _static(padding), ceil_mode, count_include_pad
        self.divisor_override = divisor_override
        F._window(type(self).__name__, self._nd, self.kernel_size, self.stride, self.padding, 1, False)

    def __call__(self, input: ArrayLike) -> jax.Array:
        return self._pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    """torch.nn.AvgPool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`AvgPool2d`."""

    _pool = staticmethod(F.avg_pool3d)
    _nd = 3


OutputSize = Union[Optional[int], Sequence[Optional[int]]]


class AdaptiveAvgPool1d(Module):
    """torch.nn.AdaptiveAvgPool1d: output ``output_size`` whatever the input length.

    Output i averages input ``[floor(i * L / out), ceil((i + 1) * L / out))``, torch's bins.

    >>> AdaptiveAvgPool1d(2)(jnp.asarray([[1., 3., 2., 0.]]))
    Array([[2., 1.]], dtype=float32)
    """

    _pool = staticmethod(F.adaptive_avg_pool1d)

    def __init__(self, output_size: OutputSize, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.output_size = _static(output_size)

    def __call__(self, input: ArrayLike) -> jax.Array:
        return self._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """torch.nn.AdaptiveAvgPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; ``output_size``
    an int, a pair, or ``None`` entries to keep that input size."""

    _pool = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(AdaptiveAvgPool1d):
    """torch.nn.AdaptiveAvgPool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`AdaptiveAvgPool2d`."""

    _pool = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool1d(Module):
    """torch.nn.AdaptiveMaxPool1d: the maximum of each of torch's adaptive bins (see
    :class:`AdaptiveAvgPool1d`); ``return_indices=True`` returns ``(output, indices)``.

    >>> AdaptiveMaxPool1d(2)(jnp.asarray([[1., 3., 2., 0.]]))
    Array([[3., 2.]], dtype=float32)
    """

    _pool = staticmethod(F.adaptive_max_pool1d)

    def __init__(
        self, output_size: OutputSize, return_indices: bool = False, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        self.output_size, self.return_indices = _static(output_size), return_indices

    def __call__(self, input: ArrayLike) -> MaybeIndices:
        return self._pool(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveMaxPool1d):
    """torch.nn.AdaptiveMaxPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :class:`AdaptiveMaxPool1d`."""

    _pool = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(AdaptiveMaxPool1d):
    """torch.nn.AdaptiveMaxPool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`AdaptiveMaxPool1d`."""

    _pool = staticmethod(F.adaptive_max_pool3d)


class LPPool1d(Module):
    """torch.nn.LPPool1d: ``(sum over the window of x ** norm_type) ** (1 / norm_type)``.

    Args as torch: norm_type, kernel_size, stride (default kernel_size), ceil_mode;
    see :func:`jaxnn.functional.lp_pool1d` for torch's formula at the edges.

    >>> LPPool1d(2, 2)(jnp.asarray([[3., 4.]]))
    Array([[5.]], dtype=float32)
    """

    _pool = staticmethod(F.lp_pool1d)

    def __init__(
        self,
        norm_type: float,
        kernel_size: IntOrTuple,
        stride: Optional[IntOrTuple] = None,
        ceil_mode: bool = False,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        self.norm_type, self.kernel_size = norm_type, _static(kernel_size)
        self.stride, self.ceil_mode = _static(stride), ceil_mode

    def __call__(self, input: ArrayLike) -> jax.Array:
        return self._pool(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"ceil_mode={self.ceil_mode}"
        )


class LPPool2d(LPPool1d):
    """torch.nn.LPPool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :class:`LPPool1d`."""

    _pool = staticmethod(F.lp_pool2d)


class LPPool3d(LPPool1d):
    """torch.nn.LPPool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`LPPool1d`."""

    _pool = staticmethod(F.lp_pool3d)


class FractionalMaxPool2d(Module):
    """torch.nn.FractionalMaxPool2d: max over ``kernel_size`` windows at pseudo-random starts.

    Args:
      kernel_size: the window (an int or a pair).
      output_size: the output's spatial size; give this or ``output_ratio``, not both.
      output_ratio: the output's size as a fraction in (0, 1) of the input's.
      return_indices: also return each maximum's flat position in its input plane.
      _random_samples: ``(N, C, 2)`` samples in [0, 1) used on every call (torch's
        buffer of that name, so it is in the state_dict when given); with them the
        result equals torch's. See :func:`jaxnn.functional.fractional_max_pool2d`.
      rngs: ``nnx.Rngs`` (its ``dropout`` stream, else ``default``) or an
        ``nnx.RngStream``, forked and kept as :class:`~jaxnn.Dropout` does; each call
        without ``_random_samples`` draws fresh samples from it. As in torch the draw
        happens in eval mode too.

    >>> pool = FractionalMaxPool2d(2, output_ratio=0.5, rngs=nnx.Rngs(0))
    >>> pool(jnp.ones((1, 3, 8, 8))).shape
    (1, 3, 4, 4)
    """

    _pool = staticmethod(F.fractional_max_pool2d)
    _nd = 2

    def __init__(
        self,
        kernel_size: IntOrTuple,
        output_size: Optional[IntOrTuple] = None,
        output_ratio: Optional[Union[float, Sequence[float]]] = None,
        return_indices: bool = False,
        _random_samples: Optional[ArrayLike] = None,
        *,
        rngs: Optional[Union[nnx.Rngs, nnx.RngStream]] = None,
    ) -> None:
        name, nd = type(self).__name__, self._nd
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError(f"{name}: only one of output_size and output_ratio may be specified")
        if output_ratio is not None:
            ratio = (output_ratio,) * nd if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
            if len(ratio) != nd or not all(0 < r < 1 for r in ratio):
                raise ValueError(f"{name}: output_ratio must be between 0 and 1 (got {output_ratio})")
            output_ratio = ratio
        self.kernel_size, self.output_size, self.output_ratio = _static(kernel_size), _static(output_size), output_ratio
        self.return_indices = return_indices
        self._random_samples = None if _random_samples is None else Buffer(_random_samples)
        if isinstance(rngs, nnx.Rngs):
            rngs = rngs.dropout
        self.rngs = rngs.fork() if rngs is not None else None

    def __call__(self, input: ArrayLike) -> MaybeIndices:
        samples, key = None, None
        if self._random_samples is not None:
            samples = self._random_samples[...]
        elif self.rngs is None:
            raise ValueError(
                f"{type(self).__name__} draws random samples: construct it with rngs=nnx.Rngs(seed) "
                "or pass _random_samples"
            )
        else:
            key = self.rngs()
        return self._pool(
            input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices, samples, key=key
        )


class FractionalMaxPool3d(FractionalMaxPool2d):
    """torch.nn.FractionalMaxPool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; ``_random_samples``
    ``(N, C, 3)``; see :class:`FractionalMaxPool2d`."""

    _pool = staticmethod(F.fractional_max_pool3d)
    _nd = 3


class MaxUnpool1d(Module):
    """torch.nn.MaxUnpool1d: writes each input element at its index (from MaxPool1d's
    ``return_indices``) in a zero output; called as ``unpool(input, indices, output_size=None)``.

    Args as torch: kernel_size, stride (default kernel_size), padding; see
    :func:`jaxnn.functional.max_unpool1d`.

    >>> y, i = MaxPool1d(2, return_indices=True)(jnp.asarray([[1., 3., 2., 0.]]))
    >>> MaxUnpool1d(2)(y, i)
    Array([[0., 3., 2., 0.]], dtype=float32)
    """

    _unpool = staticmethod(F.max_unpool1d)
    _nd = 1

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: Optional[IntOrTuple] = None,
        padding: IntOrTuple = 0,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        self.kernel_size = _static(kernel_size)
        self.stride = _static(stride) if stride is not None else self.kernel_size
        self.padding = _static(padding)

    def __call__(self, input: ArrayLike, indices: ArrayLike, output_size: Optional[Sequence[int]] = None) -> jax.Array:
        return self._unpool(input, indices, self.kernel_size, self.stride, self.padding, _static(output_size))

    def extra_repr(self) -> str:
        # torch stores these as n-tuples (its _single/_pair/_triple)
        nd = self._nd
        return (
            f"kernel_size={_torch_tuple(self.kernel_size, nd)}, stride={_torch_tuple(self.stride, nd)}, "
            f"padding={_torch_tuple(self.padding, nd)}"
        )


class MaxUnpool2d(MaxUnpool1d):
    """torch.nn.MaxUnpool2d over ``(N, C, H, W)`` or ``(C, H, W)``; see :class:`MaxUnpool1d`."""

    _unpool = staticmethod(F.max_unpool2d)
    _nd = 2


class MaxUnpool3d(MaxUnpool1d):
    """torch.nn.MaxUnpool3d over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`MaxUnpool1d`."""

    _unpool = staticmethod(F.max_unpool3d)
    _nd = 3
