"""InstanceNorm1d/2d/3d with torch's defaults, unbatched input, running statistics and
buffers; the numbers are in :func:`jaxnn.functional.instance_norm`."""

from __future__ import annotations

import warnings
from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ..functional import normalization as _norm
from ..module import Module
from ..parameter import Buffer, Parameter
from ._common import float_dtype, sizes

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(Module):
    """Shared InstanceNorm: each channel of each sample normalised over its spatial dims.

    Defaults differ from BatchNorm's, as torch's: ``affine=False`` and
    ``track_running_stats=False`` (no parameters, no buffers, instance
    statistics in training and eval).

    With ``track_running_stats=True`` the buffers ``running_mean`` (zeros),
    ``running_var`` (ones) and ``num_batches_tracked`` (0, int64 in torch) exist;
    training updates the running statistics with ``momentum`` (each sample's
    ``(1 - momentum) * running + momentum * stat``, unbiased variance, averaged
    over the batch) and eval mode normalises with them. torch never increments
    ``num_batches_tracked`` here, and ``momentum=None`` passes 0 to its kernel,
    so the statistics then never move: both reproduced.

    Edges, as torch: unbatched input (one dim fewer) is normalised as a batch
    of one; a channel count different from ``num_features`` is a ``ValueError``
    with ``affine=True``, with running statistics too, and only a warning
    otherwise (``num_features`` is unused then); one spatial element per
    channel in training or without running statistics is a ``ValueError``.
    """

    _batched_ndim: int

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: Optional[float] = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        *,
        bias: bool = True,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        sizes(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = float_dtype(dtype)
        self.weight = Parameter(jnp.ones((num_features,), dtype)) if affine else None
        self.bias = Parameter(jnp.zeros((num_features,), dtype)) if affine and bias else None
        self.running_mean: Optional[Buffer]
        self.running_var: Optional[Buffer]
        self.num_batches_tracked: Optional[Buffer]
        if track_running_stats:
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

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        name, batched = type(self).__name__, self._batched_ndim
        if x.ndim not in (batched - 1, batched):
            raise ValueError(
                f"{name}: expected {batched - 1}D or {batched}D input (got {x.ndim}D input of shape {x.shape})"
            )
        feature_dim = x.ndim - (batched - 1)
        if x.shape[feature_dim] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(
                    f"{name}: expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {x.shape[feature_dim]} (input shape {x.shape})"
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can silence this warning "
                "by not passing in num_features, which is not used because affine=False",
                stacklevel=2,
            )
        unbatched = x.ndim == batched - 1
        if unbatched:
            x = x[None]
        weight = None if self.weight is None else self.weight[...]
        bias = None if self.bias is None else self.bias[...]
        running_mean, running_var = self.running_mean, self.running_var  # both Buffers, or both None
        if running_mean is None or self.training:
            momentum = self.momentum if self.momentum is not None else 0.0
            y, mean, var = _norm._instance_norm_train(
                x,
                None if running_mean is None else running_mean[...],
                None if running_var is None else running_var[...],
                weight,
                bias,
                momentum,
                self.eps,
                name,
            )
            if running_mean is not None and running_var is not None:
                running_mean[...], running_var[...] = mean, var
        else:
            assert running_var is not None
            y = _norm.instance_norm(x, running_mean[...], running_var[...], weight, bias, False, 0.0, self.eps)
        return y[0] if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """torch.nn.InstanceNorm1d over ``(N, C, L)`` or unbatched ``(C, L)``; see :class:`_InstanceNorm`.

    >>> InstanceNorm1d(3)(jnp.arange(12.0).reshape(3, 4)).shape
    (3, 4)
    """

    _batched_ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """torch.nn.InstanceNorm2d over ``(N, C, H, W)`` or unbatched ``(C, H, W)``; see :class:`_InstanceNorm`.

    >>> InstanceNorm2d(3)(jnp.arange(24.0).reshape(2, 3, 2, 2)).shape
    (2, 3, 2, 2)
    """

    _batched_ndim = 4


class InstanceNorm3d(_InstanceNorm):
    """torch.nn.InstanceNorm3d over ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``; see :class:`_InstanceNorm`.

    >>> InstanceNorm3d(3)(jnp.arange(24.0).reshape(3, 2, 2, 2)).shape
    (3, 2, 2, 2)
    """

    _batched_ndim = 5
