"""LayerNorm, GroupNorm and BatchNorm with torch's defaults, statistics and buffers.

Differences from flax's norms that these layers undo: eps 1e-5 (flax LayerNorm
1e-6); BatchNorm ``momentum`` is the weight of the NEW batch (flax's 0.99 is the
weight of the old one); the running variance is updated with the UNBIASED batch
variance while the batch is normalised with the biased one; channels on axis 1.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ..module import Module
from ..parameter import Buffer, Parameter
from ._common import float_dtype, sizes

__all__ = ["LayerNorm", "GroupNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


def _upcast(x: jax.Array) -> jax.Array:
    """float16/bfloat16 input is normalised in float32 and cast back, as torch's kernels
    compute the statistics and the affine transform in float32 (``opmath``)."""
    return x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype.itemsize < 4 else x


def _normalise(x: jax.Array, axes: tuple[int, ...], eps: float) -> jax.Array:
    """(x - mean) / sqrt(var + eps) with the biased variance over ``axes``."""
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


def _affine(shape: tuple[int, ...], weight: bool, bias: bool, dtype: Any):
    """torch's affine parameters: weight ones, bias zeros (``None`` where absent)."""
    dtype = float_dtype(dtype)
    return (
        Parameter(jnp.ones(shape, dtype)) if weight else None,
        Parameter(jnp.zeros(shape, dtype)) if bias else None,
    )


def _scale_shift(y: jax.Array, weight, bias, shape: tuple[int, ...]) -> jax.Array:
    if weight is not None:
        y = y * weight[...].reshape(shape)
    if bias is not None:
        y = y + bias[...].reshape(shape)
    return y


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dims (biased variance).

    Args:
      normalized_shape: int or tuple, the trailing dims of the input.
      eps: added to the variance (1e-5, torch's default; flax uses 1e-6).
      elementwise_affine: learn ``weight`` (ones) and ``bias`` (zeros) of shape
        ``normalized_shape``; ``False`` gives no parameters (no state_dict keys).
      bias: with ``False`` only ``weight`` is learned.
    """

    def __init__(
        self,
        normalized_shape: Union[int, Sequence[int]],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        sizes("LayerNorm", normalized_shape=shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight, self.bias = _affine(shape, elementwise_affine, elementwise_affine and bias, dtype)

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k :] != self.normalized_shape or x.ndim < k:
            raise ValueError(
                f"LayerNorm: given normalized_shape={list(self.normalized_shape)}, expected input with "
                f"shape [*, {', '.join(map(str, self.normalized_shape))}], but got input of size {x.shape}"
            )
        y = _normalise(_upcast(x), tuple(range(x.ndim - k, x.ndim)), self.eps)
        return _scale_shift(y, self.weight, self.bias, self.normalized_shape).astype(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalises each of ``num_groups`` channel groups of ``(N, C, *)`` input over (C/G, *).

    ``weight`` (ones) and ``bias`` (zeros) are per channel, ``(num_channels,)``.
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight, self.bias = _affine((num_channels,), affine, affine, dtype)

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected input (N, {self.num_channels}, *), got shape {x.shape}"
            )
        grouped = _upcast(x).reshape((x.shape[0], self.num_groups, -1))
        y = _normalise(grouped, (2,), self.eps).reshape(x.shape)
        return _scale_shift(y, self.weight, self.bias, (-1,) + (1,) * (x.ndim - 2)).astype(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _BatchNorm(Module):
    """Shared BatchNorm: statistics over every axis but the channel axis 1.

    In training mode (the default for a fresh module, ``model.train()``), the
    batch is normalised with its mean and BIASED variance, and when
    ``track_running_stats`` the buffers are updated in place:
    ``running = (1 - f) * running + f * batch_stat`` with the UNBIASED variance
    (n / (n - 1)) for ``running_var``, ``f = momentum``, or ``f = 1 /
    num_batches_tracked`` (a cumulative average) when ``momentum is None``;
    ``num_batches_tracked`` counts training calls. In eval mode the running
    statistics are used; with ``track_running_stats=False`` there are none and
    batch statistics are used in both modes. The updated buffers are module
    state: ``nnx.split(model)`` after the forward pass returns them, which is how
    ``jaxnn.training.make_train_step`` carries them between steps.

    Buffers: ``running_mean`` (zeros), ``running_var`` (ones),
    ``num_batches_tracked`` (0-d int; int64 in torch, exported as int64 by
    :func:`jaxnn.state_dict`). Parameters: ``weight`` (ones), ``bias`` (zeros).
    """

    _input_ndims: tuple[int, ...]

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: Optional[float] = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        sizes(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight, self.bias = _affine((num_features,), affine, affine, dtype)
        if track_running_stats:
            dtype = float_dtype(dtype)
            self.running_mean = Buffer(jnp.zeros((num_features,), dtype))
            self.running_var = Buffer(jnp.ones((num_features,), dtype))
            self.num_batches_tracked = Buffer(jnp.zeros((), int), torch_dtype="int64")
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )

    def _check(self, x: jax.Array) -> None:
        name = type(self).__name__
        if x.ndim not in self._input_ndims:
            expected = " or ".join(f"{n}D" for n in self._input_ndims)
            raise ValueError(f"{name}: expected {expected} input (got {x.ndim}D input of shape {x.shape})")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: running_mean should contain {x.shape[1]} elements not {self.num_features} "
                f"(input shape {x.shape}, num_features={self.num_features})"
            )

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        self._check(x)
        dtype, x = x.dtype, _upcast(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training or self.running_mean is None:
            n = x.size // x.shape[1]
            if n <= 1:
                raise ValueError(
                    f"{type(self).__name__}: expected more than 1 value per channel when training, "
                    f"got input size {x.shape}"
                )
            y = _normalise(x, axes, self.eps)
            if self.training and self.running_mean is not None:
                self._update_running_stats(x, axes, n)
        else:
            mean = self.running_mean[...].reshape(bshape)
            var = self.running_var[...].reshape(bshape)
            y = (x - mean) * jax.lax.rsqrt(var + self.eps)
        return _scale_shift(y, self.weight, self.bias, bshape).astype(dtype)

    def _update_running_stats(self, x: jax.Array, axes: tuple[int, ...], n: int) -> None:
        x = jax.lax.stop_gradient(x)
        mean = jnp.mean(x, axis=axes)
        unbiased_var = jnp.sum(jnp.square(x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))), axis=axes) / (n - 1)
        count = self.num_batches_tracked[...] + 1
        self.num_batches_tracked[...] = count
        rm, rv = self.running_mean[...], self.running_var[...]
        factor = self.momentum if self.momentum is not None else 1.0 / count.astype(rm.dtype)
        self.running_mean[...] = (1 - factor) * rm + factor * mean.astype(rm.dtype)
        self.running_var[...] = (1 - factor) * rv + factor * unbiased_var.astype(rv.dtype)


class BatchNorm1d(_BatchNorm):
    """torch.nn.BatchNorm1d over ``(N, C)`` or ``(N, C, L)``; see :class:`_BatchNorm`."""

    _input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """torch.nn.BatchNorm2d over ``(N, C, H, W)``; see :class:`_BatchNorm`."""

    _input_ndims = (4,)


class BatchNorm3d(_BatchNorm):
    """torch.nn.BatchNorm3d over ``(N, C, D, H, W)``; see :class:`_BatchNorm`."""

    _input_ndims = (5,)
