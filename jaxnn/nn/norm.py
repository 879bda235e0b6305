"""LayerNorm, GroupNorm, RMSNorm, BatchNorm, SyncBatchNorm and the local response norms,
with torch's defaults, statistics, parameters and buffers; the numbers are in
:mod:`jaxnn.functional.normalization`.

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

from .. import functional as F
from ..functional import normalization as _norm
from ..module import Module
from ..parameter import Buffer, Parameter
from ._common import float_dtype, sizes

__all__ = [
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "SyncBatchNorm",
    "LocalResponseNorm",
    "CrossMapLRN2d",
]


def _affine(shape: tuple[int, ...], weight: bool, bias: bool, dtype: Any):
    """torch's affine parameters: weight ones, bias zeros (``None`` where absent)."""
    dtype = float_dtype(dtype)
    return (
        Parameter(jnp.ones(shape, dtype)) if weight else None,
        Parameter(jnp.zeros(shape, dtype)) if bias else None,
    )


def _value(variable) -> Optional[jax.Array]:
    return None if variable is None else variable[...]


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dims (biased variance), torch's
    ``nn.LayerNorm``; see :func:`jaxnn.functional.layer_norm`.

    Args:
      normalized_shape: int or tuple, the trailing dims of the input.
      eps: added to the variance (1e-5, torch's default; flax uses 1e-6).
      elementwise_affine: learn ``weight`` (ones) and ``bias`` (zeros) of shape
        ``normalized_shape``; ``False`` gives no parameters (no state_dict keys).
      bias: with ``False`` only ``weight`` is learned.

    >>> LayerNorm(4)(jnp.ones((2, 4))).shape
    (2, 4)
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
        return F.layer_norm(input, self.normalized_shape, _value(self.weight), _value(self.bias), self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims, torch's
    ``nn.RMSNorm``: ``y = x / sqrt(mean(x**2) + eps) * weight``.

    Args:
      normalized_shape: int or tuple, the trailing dims of the input.
      eps: ``None`` (default) is the machine epsilon of the computation type as
        torch: ``finfo(float32).eps`` for half/single input, ``finfo(float64).eps``
        for double; see :func:`jaxnn.functional.rms_norm`.
      elementwise_affine: learn ``weight`` (ones) of shape ``normalized_shape``
        (key ``weight``); there is no bias.

    >>> RMSNorm(4)(jnp.ones((2, 4))).shape
    (2, 4)
    """

    def __init__(
        self,
        normalized_shape: Union[int, Sequence[int]],
        eps: Optional[float] = None,
        elementwise_affine: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        sizes("RMSNorm", normalized_shape=shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = _affine(shape, elementwise_affine, False, dtype)[0]

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.rms_norm(input, self.normalized_shape, _value(self.weight), self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalises each of ``num_groups`` channel groups of ``(N, C, *)`` input over (C/G, *),
    torch's ``nn.GroupNorm``; see :func:`jaxnn.functional.group_norm`.

    ``weight`` (ones) and ``bias`` (zeros) are per channel, ``(num_channels,)``;
    ``affine=False`` gives neither, ``bias=False`` (keyword-only, torch 2.13)
    the weight alone. As torch, only the affine vectors tie the input to
    ``num_channels``: without them any channel count divisible by
    ``num_groups`` is normalised.

    >>> GroupNorm(2, 4)(jnp.ones((3, 4, 5))).shape
    (3, 4, 5)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        bias: bool = True,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight, self.bias = _affine((num_channels,), affine, affine and bias, dtype)

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.group_norm(input, self.num_groups, _value(self.weight), _value(self.bias), self.eps)

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

    Edges, as torch: an empty batch ``(0, C, ...)`` in training gives an empty
    output, leaves the running statistics as they were and still counts the
    call in ``num_batches_tracked``; a single value per channel (``(1, C)``) in
    training is a ``ValueError``; ``eps <= 0`` in training is refused at call time.

    Under jaxnn's data-parallel step (``jax.jit`` over a batch sharded with
    :mod:`jaxnn.training.parallel`) the statistics are those of the WHOLE global
    batch: XLA's partitioner turns the batch mean into an all-reduce. That is
    what torch's :class:`SyncBatchNorm` does, not torch's BatchNorm under DDP
    (per-device statistics).

    Buffers: ``running_mean`` (zeros), ``running_var`` (ones),
    ``num_batches_tracked`` (0-d int; int64 in torch, exported as int64 by
    :func:`jaxnn.state_dict`). Parameters: ``weight`` (ones), ``bias`` (zeros);
    ``affine=False`` gives neither, ``bias=False`` (keyword-only, torch 2.13)
    the weight alone.
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
        bias: bool = True,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        sizes(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight, self.bias = _affine((num_features,), affine, affine and bias, dtype)
        self.running_mean: Optional[Buffer]
        self.running_var: Optional[Buffer]
        self.num_batches_tracked: Optional[Buffer]
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

    def _check_ndim(self, x: jax.Array) -> None:
        if x.ndim not in self._input_ndims:
            expected = " or ".join(f"{n}D" for n in self._input_ndims)
            raise ValueError(
                f"{type(self).__name__}: expected {expected} input (got {x.ndim}D input of shape {x.shape})"
            )

    def _check(self, x: jax.Array) -> None:
        name = type(self).__name__
        self._check_ndim(x)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: running_mean should contain {x.shape[1]} elements not {self.num_features} "
                f"(input shape {x.shape}, num_features={self.num_features})"
            )

    # the mesh axis the statistics are averaged over (SyncBatchNorm's process_group)
    _axis_name: Any = None

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        self._check(x)
        weight, bias, name = _value(self.weight), _value(self.bias), type(self).__name__
        running_mean, running_var, tracked = self.running_mean, self.running_var, self.num_batches_tracked
        if self.training and running_mean is not None:
            assert running_var is not None and tracked is not None  # __init__ sets all three or none
            count = tracked[...] + 1
            factor = self.momentum if self.momentum is not None else 1.0 / count.astype(running_mean.dtype)
            y, mean, var = _norm._batch_norm_train(
                x, running_mean[...], running_var[...], weight, bias, factor, self.eps, name,
                self._axis_name,
            )
            running_mean[...], running_var[...], tracked[...] = mean, var, count
            return y
        if self.training or running_mean is None:
            return _norm._batch_norm_train(x, None, None, weight, bias, 0.0, self.eps, name, self._axis_name)[0]
        assert running_var is not None
        return F.batch_norm(x, running_mean[...], running_var[...], weight, bias, False, 0.0, self.eps)


class BatchNorm1d(_BatchNorm):
    """torch.nn.BatchNorm1d over ``(N, C)`` or ``(N, C, L)``; see :class:`_BatchNorm`.

    >>> BatchNorm1d(3)(jnp.arange(6.0).reshape(2, 3)).shape
    (2, 3)
    """

    _input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """torch.nn.BatchNorm2d over ``(N, C, H, W)``; see :class:`_BatchNorm`.

    >>> BatchNorm2d(3)(jnp.ones((2, 3, 4, 4))).shape
    (2, 3, 4, 4)
    """

    _input_ndims = (4,)


class BatchNorm3d(_BatchNorm):
    """torch.nn.BatchNorm3d over ``(N, C, D, H, W)``; see :class:`_BatchNorm`.

    >>> BatchNorm3d(3)(jnp.ones((2, 3, 2, 2, 2))).shape
    (2, 3, 2, 2, 2)
    """

    _input_ndims = (5,)


class SyncBatchNorm(_BatchNorm):
    """torch.nn.SyncBatchNorm: BatchNorm over ``(N, C, *)`` (any ``*``) whose training
    statistics are those of the whole data-parallel batch; see :class:`_BatchNorm`.

    torch synchronises across the processes of ``process_group``. In JAX:

    * under jaxnn's data-parallel step (``jax.jit`` with the batch sharded over
      a mesh, :mod:`jaxnn.training.parallel`) the batch is one global array and
      its statistics are global already; ``process_group=None`` is that case
      (and the single-device one). Plain BatchNorm behaves the same there.
    * inside ``shard_map`` / ``pmap`` (each call sees its shard), pass the mesh
      axis name (or a tuple of names) as ``process_group``: mean and variance
      are then averaged across that axis (``lax.pmean``), every shard holding
      the same number of samples, and ``running_var``'s unbiased correction
      uses the global count.

    As torch, eval mode uses the running statistics without synchronising.

    >>> SyncBatchNorm(3)(jnp.ones((2, 3, 5))).shape
    (2, 3, 5)
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: Optional[float] = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Union[None, str, tuple[str, ...]] = None,
        *,
        bias: bool = True,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        if process_group is not None and not (
            isinstance(process_group, str)
            or (isinstance(process_group, tuple) and all(isinstance(a, str) for a in process_group))
        ):
            raise TypeError(
                "SyncBatchNorm: process_group must be None or a mesh axis name (str or tuple of str), "
                f"got {type(process_group).__name__}"
            )
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias, dtype=dtype)
        self.process_group = process_group

    @property
    def _axis_name(self) -> Union[None, str, tuple[str, ...]]:
        return self.process_group

    def _check_ndim(self, x: jax.Array) -> None:
        if x.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {x.ndim}D input of shape {x.shape})")
        if x.shape[1] == 0:
            raise ValueError("SyncBatchNorm: number of input channels should be non-zero")

    @classmethod
    def convert_sync_batchnorm(cls, module: Any, process_group: Union[None, str, tuple[str, ...]] = None) -> Any:
        """Every ``BatchNorm1d/2d/3d`` in ``module`` replaced by a :class:`SyncBatchNorm`
        sharing its parameters and buffers (torch's classmethod of the same name).

        Submodules are replaced in place, as torch does; a BatchNorm given as
        ``module`` itself returns the new SyncBatchNorm, in the same mode.
        """
        output = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            output = cls(
                module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                process_group, bias=module.bias is not None,
            )
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                setattr(output, name, getattr(module, name))
            return output.train(module.training)
        if isinstance(module, nnx.List):
            for i, item in enumerate(list(module)):
                module[i] = cls.convert_sync_batchnorm(item, process_group)
        elif isinstance(module, nnx.Module):
            for name, child in list(vars(module).items()):
                if isinstance(child, nnx.Module):
                    converted = cls.convert_sync_batchnorm(child, process_group)
                    if converted is not child:
                        setattr(module, name, converted)
        return output


class LocalResponseNorm(Module):
    """Local response normalisation across channels, torch's ``nn.LocalResponseNorm``;
    see :func:`jaxnn.functional.local_response_norm` (no parameters).

    >>> LocalResponseNorm(2)(jnp.ones((1, 3, 4))).shape
    (1, 3, 4)
    """

    def __init__(
        self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(Module):
    """torch's legacy ``nn.CrossMapLRN2d`` on ``(N, C, H, W)`` input, with torch's numbers.

    ``y = x * (k + alpha / size * sum_{c' in W(c)} x_{c'}**2) ** -beta``. torch's
    implementation (a port of Lua torch's) differs from
    :class:`LocalResponseNorm`: its window ``W(c)`` is ``[c - h, c + h]``,
    ``h = (size - 1) // 2``, plus channel 0 for every ``c``, and its handwritten
    gradient is not the derivative of that forward. Both are reproduced, so
    ported models train as they did in torch; prefer :class:`LocalResponseNorm`
    in new code.

    >>> CrossMapLRN2d(3)(jnp.ones((1, 4, 2, 2))).shape
    (1, 4, 2, 2)
    """

    def __init__(
        self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def __call__(self, input: ArrayLike) -> jax.Array:
        return _norm._cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
