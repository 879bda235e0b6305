"""Convolution layers in torch's channels-first layout (NCL / NCHW / NCDHW) with torch's weight layout.

``Conv{1,2,3}d`` weights are ``(out_channels, in_channels // groups, *kernel_size)``,
``ConvTranspose{1,2,3}d`` weights ``(in_channels, out_channels // groups, *kernel_size)``,
as in torch, so a torch checkpoint loads without transposes. The layers hold
options and parameters; the numbers are :mod:`jaxnn.functional.conv`'s.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ..functional import conv as F
from ..module import Module
from ..parameter import Parameter
from ._common import IntOrTuple, float_dtype, ntuple, require_rngs, sizes, uniform_fan_in

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class _ConvNd(Module):
    """Shared option handling, parameters and input checks of every convolution."""

    _nd: int
    _transposed: bool = False

    def _setup(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple,
        padding: Union[str, IntOrTuple],
        dilation: IntOrTuple,
        groups: int,
        bias: bool,
        padding_mode: str,
        rngs: Optional[nnx.Rngs],
        dtype: Any,
    ) -> None:
        name, nd = type(self).__name__, self._nd
        rngs = require_rngs(rngs, name)
        sizes(name, in_channels=in_channels, out_channels=out_channels)
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros" and padding_mode not in _PAD_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
                f"got {padding_mode!r}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size")
        sizes(name, kernel_size=self.kernel_size)
        self.stride = ntuple(stride, nd, "stride")
        self.dilation = ntuple(dilation, nd, "dilation")
        self.padding: Union[str, tuple[int, ...]]  # 'same' / 'valid', or one int per spatial dim
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, nd, "padding")
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        # torch's fan_in is weight.size(1) * receptive field, for the transposed layout too.
        fan_in = shape[1] * math.prod(self.kernel_size)
        dtype = float_dtype(dtype)
        self.weight = Parameter(uniform_fan_in(rngs, shape, fan_in, dtype))
        self.bias = Parameter(uniform_fan_in(rngs, (out_channels,), fan_in, dtype)) if bias else None

    def _checked(self, input: ArrayLike) -> jax.Array:
        """The input, its rank and channels checked against the layer (torch's layer messages)."""
        x = jnp.asarray(input)
        name, nd = type(self).__name__, self._nd
        if x.ndim not in (nd + 1, nd + 2):
            raise ValueError(
                f"{name}: expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, got shape {x.shape}"
            )
        channels = x.shape[0 if x.ndim == nd + 1 else 1]
        if channels != self.in_channels:
            # A JAX/flax habit: channels-last input, whose last axis holds the channels.
            hint = (
                f"; jaxnn follows torch's channels-first layout (N, C, *spatial): the last axis "
                f"has {self.in_channels}, so for channels-last input move it first with "
                f"jnp.moveaxis(x, -1, 1)"
                if x.shape[-1] == self.in_channels
                else ""
            )
            raise ValueError(
                f"{name}: expected input {x.shape} to have {self.in_channels} channels, "
                f"got {channels} channels instead{hint}"
            )
        return x

    def _bias(self) -> Optional[jax.Array]:
        return None if self.bias is None else self.bias[...]

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        output_padding = getattr(self, "output_padding", (0,))
        if output_padding != (0,) * len(output_padding):
            s += f", output_padding={output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def _padding_pairs(self) -> list[tuple[int, int]]:
        padding = self.padding
        if padding == "valid":
            return [(0, 0)] * self._nd
        if padding == "same":
            # torch puts the odd pad of an even effective kernel on the right.
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return [(t // 2, t - t // 2) for t in totals]
        assert not isinstance(padding, str)  # __init__ takes 'valid' and 'same' only
        return [(p, p) for p in padding]

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = self._checked(input)
        conv = (F.conv1d, F.conv2d, F.conv3d)[self._nd - 1]
        if self.padding_mode == "zeros":
            return conv(x, self.weight[...], self._bias(), self.stride, self.padding, self.dilation, self.groups)
        pads = self._padding_pairs()
        spatial = x.shape[-self._nd :]
        if self.padding_mode == "reflect" and any(max(p) >= n for p, n in zip(pads, spatial)):
            raise ValueError(
                f"{type(self).__name__}: reflect padding {pads} must be smaller than the "
                f"input's spatial size {spatial}"
            )
        x = jnp.pad(x, [(0, 0)] * (x.ndim - self._nd) + pads, mode=_PAD_MODES[self.padding_mode])
        return conv(x, self.weight[...], self._bias(), self.stride, 0, self.dilation, self.groups)


class Conv1d(_Conv):
    """torch.nn.Conv1d: input ``(N, C_in, L)`` or ``(C_in, L)``.

    Args:
      in_channels, out_channels, kernel_size, stride, dilation, groups, bias: as torch.
      padding: an int, a tuple, ``'valid'`` or ``'same'``, as torch.
      padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``, as torch.
      rngs: ``nnx.Rngs`` for the initial draw; dtype: parameter dtype.

    Weight ``(out_channels, in_channels // groups, kL)`` and bias, both
    U(+-1/sqrt(fan_in)) with fan_in = in_channels // groups * kL.
    """

    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: Union[str, IntOrTuple] = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        self._setup(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, rngs, dtype
        )


class Conv2d(Conv1d):
    """torch.nn.Conv2d: input ``(N, C_in, H, W)`` or ``(C_in, H, W)``; arguments as :class:`Conv1d`.

    Weight ``(out_channels, in_channels // groups, kH, kW)``.
    """

    _nd = 2


class Conv3d(Conv1d):
    """torch.nn.Conv3d: input ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``; arguments as :class:`Conv1d`.

    Weight ``(out_channels, in_channels // groups, kD, kH, kW)``, fan_in =
    in_channels // groups * kD * kH * kW.

    >>> Conv3d(2, 4, 3, padding=1, rngs=nnx.Rngs(0))(jnp.ones((1, 2, 4, 5, 6))).shape
    (1, 4, 4, 5, 6)
    """

    _nd = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrTuple = 1,
        padding_mode: str = "zeros",
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding_mode is supported, got {padding_mode!r}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        self._setup(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, rngs, dtype
        )
        self.output_padding = ntuple(output_padding, self._nd, "output_padding")
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(
                    f"{name}: output padding {self.output_padding} must be smaller than either "
                    f"stride {self.stride} or dilation {self.dilation}"
                )

    def _int_padding(self) -> tuple[int, ...]:
        padding = self.padding
        assert not isinstance(padding, str)  # __init__ refuses string padding here
        return padding

    def _output_padding(self, input_shape: tuple[int, ...], output_size: Optional[Sequence[int]]) -> tuple[int, ...]:
        """torch's ``_output_padding``: the padding that makes the output ``output_size`` (spatial, or full)."""
        if output_size is None:
            return self.output_padding
        nd, name = self._nd, type(self).__name__
        non_spatial = len(input_shape) - nd
        size = [int(v) for v in output_size]
        if len(size) == non_spatial + nd:
            size = size[non_spatial:]
        if len(size) != nd:
            raise ValueError(
                f"{name}: for {len(input_shape)}D input, output_size must have {nd} or {non_spatial + nd} "
                f"elements (got {len(size)})"
            )
        spatial = input_shape[non_spatial:]
        low = [
            (n - 1) * s - 2 * p + d * (k - 1) + 1
            for n, s, p, d, k in zip(spatial, self.stride, self._int_padding(), self.dilation, self.kernel_size)
        ]
        high = [m + s - 1 for m, s in zip(low, self.stride)]
        if any(not lo <= n <= hi for n, lo, hi in zip(size, low, high)):
            raise ValueError(
                f"{name}: requested an output size of {size}, but valid sizes range from {low} to {high} "
                f"(for an input of {list(spatial)})"
            )
        return tuple(n - lo for n, lo in zip(size, low))

    def __call__(self, input: ArrayLike, output_size: Optional[Sequence[int]] = None) -> jax.Array:
        """``output_size`` (torch's forward argument) picks among the sizes a strided transpose can give."""
        output_padding = self._output_padding(jnp.shape(input), output_size)
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._nd - 1]
        return conv(
            self._checked(input),
            self.weight[...],
            self._bias(),
            self.stride,
            self._int_padding(),
            output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTranspose):
    """torch.nn.ConvTranspose1d: input ``(N, C_in, L)`` or ``(C_in, L)``.

    Arguments as torch (``padding`` ints only, ``padding_mode='zeros'`` only);
    weight ``(in_channels, out_channels // groups, kL)`` and bias, both
    U(+-1/sqrt(fan_in)) with torch's fan_in = out_channels // groups * kL.
    Output length ``(L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    """

    _nd = 1


class ConvTranspose2d(ConvTranspose1d):
    """torch.nn.ConvTranspose2d: input ``(N, C_in, H, W)`` or ``(C_in, H, W)``; see :class:`ConvTranspose1d`."""

    _nd = 2


class ConvTranspose3d(ConvTranspose1d):
    """torch.nn.ConvTranspose3d: input ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``; see :class:`ConvTranspose1d`.

    Weight ``(in_channels, out_channels // groups, kD, kH, kW)``.

    >>> ConvTranspose3d(2, 4, 2, stride=2, rngs=nnx.Rngs(0))(jnp.ones((1, 2, 2, 3, 3))).shape
    (1, 4, 4, 6, 6)
    """

    _nd = 3
