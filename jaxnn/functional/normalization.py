"""torch.nn.functional's normalisation functions as pure JAX with torch's numbers.

Statistics follow torch's CPU kernels: the mean first, then the variance as the
mean of squared deviations from it (two passes), with the BIASED estimator for
normalising. The mean is taken around a pivot (the first element of each
reduced slice, gradient-free), so a constant slice has a mean equal to its
value and a variance of exactly 0, as torch's kernels give: a one-pass or
un-pivoted mean leaves ~1e-16 there, which the 1/sqrt(eps) of the
normalisation turns into nonzero weight gradients where torch's are 0.

float16/bfloat16 input is normalised in float32 and cast back once, as torch's
kernels compute in their ``opmath`` type.

Running statistics cannot be updated in place on immutable arrays: the public
:func:`batch_norm` and :func:`instance_norm` return the output only, as torch's
do, and leave the given running statistics alone. The private
:func:`_batch_norm_train` and :func:`_instance_norm_train` return
``(output, new_running_mean, new_running_var)``; the layers use those.
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._shape_checks import as_array

__all__ = [
    "batch_norm",
    "instance_norm",
    "layer_norm",
    "rms_norm",
    "group_norm",
    "local_response_norm",
]

Stats = tuple[jax.Array, Optional[jax.Array], Optional[jax.Array]]
Stats3 = tuple[jax.Array, jax.Array, jax.Array]
AxisName = Union[None, str, tuple[str, ...]]


def _opmath(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype.itemsize < 4 else x


def _float_input(input: ArrayLike, fn: str) -> jax.Array:
    x = as_array(input, "input")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{fn}: input must be a floating-point array, got dtype {x.dtype}")
    return x


def _optional(value: Optional[ArrayLike], name: str) -> Optional[jax.Array]:
    return None if value is None else as_array(value, name)


def _moments(x: jax.Array, axes: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """Mean and biased variance over ``axes`` (kept as size-1 dims), pivoted two-pass."""
    if math.prod(x.shape[a] for a in axes) == 0:
        mean = jnp.mean(x, axis=axes, keepdims=True)
        return mean, mean
    pivot = jax.lax.stop_gradient(x[tuple(slice(0, 1) if a in axes else slice(None) for a in range(x.ndim))])
    mean = pivot + jnp.mean(x - pivot, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    return mean, var


def _standardize(x: jax.Array, axes: tuple[int, ...], eps: Union[float, jax.Array]) -> Stats3:
    """``(xhat, mean, var)``: ``xhat = (x - mean) / sqrt(var + eps)`` over ``axes``.

    Differentiated by its closed form (a ``custom_jvp``), as torch's backward kernels
    are: with ``r = 1 / sqrt(var + eps)`` and ``u = r * t`` the tangent of ``xhat`` is
    ``u - mean(u) - xhat * mean(xhat * u)``, a symmetric map, so reverse mode gives
    ``dx = v - mean(v) - xhat * mean(xhat * v)`` with ``v = r * g``: two reductions
    over the input, fewer passes than autodiff of the pivoted two-pass moments
    (BatchNorm2d forward+backward at 64x16x28x28: 0.81 -> 0.64 ms). Forward mode
    and higher orders still work.

    >>> import jax.numpy as jnp
    >>> _standardize(jnp.array([1.0, 3.0]), (0,), 0.0)[0].tolist()
    [-1.0, 1.0]
    """
    if isinstance(eps, jax.core.Tracer):  # a traced eps (layer_norm, group_norm allow one): plain autodiff
        return _standardized(x, axes, eps)
    return _standardize_closed(x, axes, float(eps))


def _standardized(x: jax.Array, axes: tuple[int, ...], eps: Union[float, jax.Array]) -> Stats3:
    mean, var = _moments(x, axes)
    return (x - mean) * jax.lax.rsqrt(var + eps), mean, var


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _standardize_closed(x: jax.Array, axes: tuple[int, ...], eps: float) -> Stats3:
    return _standardized(x, axes, eps)


@_standardize_closed.defjvp
def _standardize_jvp(axes: tuple[int, ...], eps: float, primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    xhat, mean, var = _standardize_closed(x, axes, eps)
    t_mean = jnp.mean(t, axis=axes, keepdims=True)
    rt = jax.lax.rsqrt(var + eps) * t  # scaled first: its transpose fuses into 2 passes (25% faster)
    t_xhat = rt - jnp.mean(rt, axis=axes, keepdims=True) - xhat * jnp.mean(xhat * rt, axis=axes, keepdims=True)
    t_var = 2 * jnp.mean((x - mean) * t, axis=axes, keepdims=True)
    return (xhat, mean, var), (t_xhat, t_mean, t_var)


def _affine(y: jax.Array, weight: Optional[jax.Array], bias: Optional[jax.Array], shape) -> jax.Array:
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _channel_vector(value: Optional[jax.Array], name: str, channels: int, fn: str) -> None:
    if value is not None and value.shape != (channels,):
        raise ValueError(
            f"{fn}: {name} should contain {channels} elements (the input's dim 1) not "
            f"{value.size} (got {name} of shape {value.shape})"
        )


def _verify_batch_size(shape: tuple[int, ...], fn: str) -> None:
    """torch's ``_verify_batch_size``: exactly one value per channel cannot be normalised
    (an empty batch passes and gives an empty output)."""
    if shape[0] * math.prod(shape[2:]) == 1:
        raise ValueError(
            f"{fn}: expected more than 1 value per channel when training, got input size {tuple(shape)}"
        )


def _check_eps(eps: float, training: bool, fn: str) -> None:
    if training and eps <= 0.0:
        raise ValueError(f"{fn}: eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"{fn}: eps must be non-negative, but got {eps}")


def _batch_norm(
    x: jax.Array,
    running_mean: Optional[jax.Array],
    running_var: Optional[jax.Array],
    weight: Optional[jax.Array],
    bias: Optional[jax.Array],
    training: bool,
    momentum: Union[float, jax.Array],
    eps: float,
    fn: str,
    axis_name: AxisName = None,
) -> Stats:
    if x.ndim < 2:
        raise ValueError(f"{fn}: expected input of at least 2 dims (N, C, *), got shape {x.shape}")
    channels = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        _channel_vector(value, name, channels, fn)
    if training:
        if axis_name is None:
            _verify_batch_size(x.shape, fn)
    elif running_mean is None or running_var is None:
        raise ValueError(f"{fn}: running_mean and running_var must be given in evaluation mode (training=False)")
    _check_eps(eps, training, fn)
    dtype, x = x.dtype, _opmath(x)
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, channels) + (1,) * (x.ndim - 2)
    if not training:
        assert running_mean is not None and running_var is not None  # checked above
        mean, var = running_mean.reshape(bshape), running_var.reshape(bshape)
        y = (x - mean) * jax.lax.rsqrt(var + eps)
        return _affine(y, weight, bias, bshape).astype(dtype), running_mean, running_var
    n = x.size // channels if channels else 0
    if n == 0:
        # torch: an empty batch gives an empty output and leaves the running statistics as they were
        return x.astype(dtype), running_mean, running_var
    if axis_name is None:
        xhat, mean, var = _standardize(x, axes, eps)
    else:
        # every shard holds n values per channel: the global mean is the mean of the local ones
        mean = jax.lax.pmean(_moments(x, axes)[0], axis_name)
        var = jax.lax.pmean(jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True), axis_name)
        n = n * jax.lax.axis_size(axis_name)
        xhat = (x - mean) * jax.lax.rsqrt(var + eps)
    y = _affine(xhat, weight, bias, bshape).astype(dtype)
    if running_mean is not None:
        batch_mean = jax.lax.stop_gradient(mean).reshape(channels)
        running_mean = (1 - momentum) * running_mean + momentum * batch_mean.astype(running_mean.dtype)
    if running_var is not None:
        unbiased = jax.lax.stop_gradient(var).reshape(channels) * (n / (n - 1))
        running_var = (1 - momentum) * running_var + momentum * unbiased.astype(running_var.dtype)
    return y, running_mean, running_var


def batch_norm(
    input: ArrayLike,
    running_mean: Optional[ArrayLike],
    running_var: Optional[ArrayLike],
    weight: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """Batch normalisation of ``(N, C, *)`` input per channel (dim 1), torch's ``F.batch_norm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the batch's mean and
    biased variance over every dim but 1 when ``training``, else
    ``running_mean`` / ``running_var`` (both required then, shape ``(C,)``).

    torch updates the running statistics in place when ``training``; JAX arrays
    cannot be, so here they are left alone and only the output is returned
    (``momentum`` is unused). :class:`jaxnn.BatchNorm1d` and the other layers
    keep and update them.

    Raises ``ValueError`` as torch: one value per channel when training
    (``(1, C)`` input), ``eps <= 0`` when training or ``eps < 0``, statistics
    or affine vectors not of size ``C``. An empty batch gives an empty output.

    >>> import jax.numpy as jnp
    >>> batch_norm(jnp.array([[1.0], [3.0]]), None, None, training=True).round(4).tolist()
    [[-1.0], [1.0]]
    """
    x = _float_input(input, "batch_norm")
    out, _, _ = _batch_norm(
        x, _optional(running_mean, "running_mean"), _optional(running_var, "running_var"),
        _optional(weight, "weight"), _optional(bias, "bias"), training, momentum, eps, "batch_norm",
    )
    return out


def _batch_norm_train(
    input: ArrayLike,
    running_mean: Optional[ArrayLike],
    running_var: Optional[ArrayLike],
    weight: Optional[ArrayLike],
    bias: Optional[ArrayLike],
    momentum: Union[float, jax.Array],
    eps: float,
    fn: str = "batch_norm",
    axis_name: AxisName = None,
) -> Stats:
    """Training-mode :func:`batch_norm` returning ``(output, new_running_mean, new_running_var)``.

    ``new = (1 - momentum) * running + momentum * batch_stat`` with the UNBIASED
    batch variance (``n / (n - 1)``) for ``running_var``; ``None`` statistics
    stay ``None``. ``momentum`` may be a traced scalar (the cumulative average's
    ``1 / num_batches_tracked``). No gradient flows into the new statistics.
    With ``axis_name`` (inside ``shard_map`` / ``pmap`` / ``vmap`` over that
    named axis) the statistics are those of all the shards' batches together,
    every shard holding the same number of samples.
    """
    x = _float_input(input, fn)
    return _batch_norm(
        x, _optional(running_mean, "running_mean"), _optional(running_var, "running_var"),
        _optional(weight, "weight"), _optional(bias, "bias"), True, momentum, eps, fn, axis_name,
    )


def _instance_norm(
    x: jax.Array,
    running_mean: Optional[jax.Array],
    running_var: Optional[jax.Array],
    weight: Optional[jax.Array],
    bias: Optional[jax.Array],
    use_input_stats: bool,
    momentum: float,
    eps: float,
    fn: str,
) -> Stats:
    if x.ndim < 2:
        raise ValueError(f"{fn}: expected input of at least 2 dims (N, C, *), got shape {x.shape}")
    n, channels = x.shape[0], x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        _channel_vector(value, name, channels, fn)
    if use_input_stats:
        if math.prod(x.shape[2:]) == 1:
            raise ValueError(
                f"{fn}: expected more than 1 spatial element when training, got input size {x.shape}"
            )
    elif running_mean is None or running_var is None:
        raise ValueError(f"{fn}: running_mean and running_var must be given when use_input_stats=False")
    _check_eps(eps, use_input_stats, fn)
    dtype, x = x.dtype, _opmath(x)
    axes = tuple(range(2, x.ndim))
    cshape = (1, channels) + (1,) * (x.ndim - 2)
    if not use_input_stats:
        assert running_mean is not None and running_var is not None  # checked above
        mean, var = running_mean.reshape(cshape), running_var.reshape(cshape)
        y = (x - mean) * jax.lax.rsqrt(var + eps)
        return _affine(y, weight, bias, cshape).astype(dtype), running_mean, running_var
    xhat, mean, var = _standardize(x, axes, eps)
    y = _affine(xhat, weight, bias, cshape).astype(dtype)
    # torch runs batch_norm on (1, N*C, *) with the statistics repeated N times, then
    # averages the N updated copies: the per-instance update comes before the mean.
    spatial = math.prod(x.shape[2:])
    if running_mean is not None:
        batch_mean = jax.lax.stop_gradient(mean).reshape(n, channels).astype(running_mean.dtype)
        running_mean = jnp.mean((1 - momentum) * running_mean + momentum * batch_mean, axis=0)
    if running_var is not None:
        unbiased = jax.lax.stop_gradient(var).reshape(n, channels) * (spatial / (spatial - 1))
        running_var = jnp.mean((1 - momentum) * running_var + momentum * unbiased.astype(running_var.dtype), axis=0)
    return y, running_mean, running_var


def instance_norm(
    input: ArrayLike,
    running_mean: Optional[ArrayLike] = None,
    running_var: Optional[ArrayLike] = None,
    weight: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """Instance normalisation: each channel of each sample of ``(N, C, *)`` over its own ``*`` dims.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the sample's mean
    and biased variance when ``use_input_stats``, else the given running
    statistics of shape ``(C,)``. As in :func:`batch_norm`, torch's in-place
    update of the running statistics has no place in an immutable world: the
    output alone is returned (:class:`jaxnn.InstanceNorm1d` keeps the state).

    Raises ``ValueError`` as torch does for one spatial element with
    ``use_input_stats`` (``(N, C, 1)``), missing running statistics without it,
    and vectors not of size ``C``.

    >>> import jax.numpy as jnp
    >>> instance_norm(jnp.array([[[1.0, 3.0]]])).round(4).tolist()
    [[[-1.0, 1.0]]]
    """
    x = _float_input(input, "instance_norm")
    out, _, _ = _instance_norm(
        x, _optional(running_mean, "running_mean"), _optional(running_var, "running_var"),
        _optional(weight, "weight"), _optional(bias, "bias"), use_input_stats, momentum, eps, "instance_norm",
    )
    return out


def _instance_norm_train(
    input: ArrayLike,
    running_mean: Optional[ArrayLike],
    running_var: Optional[ArrayLike],
    weight: Optional[ArrayLike],
    bias: Optional[ArrayLike],
    momentum: float,
    eps: float,
    fn: str = "instance_norm",
) -> Stats:
    """:func:`instance_norm` with input statistics, returning ``(output, new_running_mean,
    new_running_var)``: each sample's update ``(1 - momentum) * running + momentum *
    stat`` (unbiased variance over the spatial dims), averaged over the batch, as torch."""
    x = _float_input(input, fn)
    return _instance_norm(
        x, _optional(running_mean, "running_mean"), _optional(running_var, "running_var"),
        _optional(weight, "weight"), _optional(bias, "bias"), True, momentum, eps, fn,
    )


def _normalized_shape(normalized_shape: Sequence[int], fn: str) -> tuple[int, ...]:
    if isinstance(normalized_shape, int) or not isinstance(normalized_shape, (tuple, list)):
        raise TypeError(
            f"{fn}: normalized_shape must be a list or tuple of ints, got {type(normalized_shape).__name__}"
        )
    return tuple(int(s) for s in normalized_shape)


def _trailing(x: jax.Array, shape: tuple[int, ...], fn: str) -> tuple[int, ...]:
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(
            f"{fn}: given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {x.shape}"
        )
    return tuple(range(x.ndim - k, x.ndim))


def _same_shape(value: Optional[jax.Array], name: str, shape: tuple[int, ...], fn: str) -> None:
    if value is not None and value.shape != shape:
        raise ValueError(
            f"{fn}: expected {name} to be of same shape as normalized_shape, but got {name} of shape "
            f"{value.shape} and normalized_shape = {list(shape)}"
        )


def layer_norm(
    input: ArrayLike,
    normalized_shape: Sequence[int],
    weight: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    eps: float = 1e-5,
) -> jax.Array:
    """Layer normalisation over the trailing ``normalized_shape`` dims, torch's ``F.layer_norm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, biased variance over the
    last ``len(normalized_shape)`` dims; ``weight`` / ``bias`` of shape
    ``normalized_shape`` (either may be ``None``). ``normalized_shape`` must be a
    list or tuple (torch refuses a bare int here, though ``nn.LayerNorm``
    takes one); a mismatching trailing shape is a ``ValueError``.

    >>> import jax.numpy as jnp
    >>> layer_norm(jnp.array([[1.0, 3.0]]), [2]).round(4).tolist()
    [[-1.0, 1.0]]
    """
    x = _float_input(input, "layer_norm")
    shape = _normalized_shape(normalized_shape, "layer_norm")
    axes = _trailing(x, shape, "layer_norm")
    weight, bias = _optional(weight, "weight"), _optional(bias, "bias")
    _same_shape(weight, "weight", shape, "layer_norm")
    _same_shape(bias, "bias", shape, "layer_norm")
    dtype, x = x.dtype, _opmath(x)
    return _affine(_standardize(x, axes, eps)[0], weight, bias, shape).astype(dtype)


def rms_norm(
    input: ArrayLike,
    normalized_shape: Sequence[int],
    weight: Optional[ArrayLike] = None,
    eps: Optional[float] = None,
) -> jax.Array:
    """Root-mean-square normalisation over the trailing dims, torch's ``F.rms_norm``.

    ``y = x / sqrt(mean(x**2) + eps) * weight``. ``eps=None`` is the machine
    epsilon of the computation type, as torch: ``finfo(float32).eps`` for
    float16/bfloat16/float32 input, ``finfo(float64).eps`` for float64. Half
    precision input is normalised and scaled by ``weight`` in float32 and
    rounded once, as torch's fused kernel.

    >>> import jax.numpy as jnp
    >>> rms_norm(jnp.array([[2.0, -2.0]]), [2], eps=0.0)
    Array([[ 1., -1.]], dtype=float32)
    """
    x = _float_input(input, "rms_norm")
    shape = _normalized_shape(normalized_shape, "rms_norm")
    axes = _trailing(x, shape, "rms_norm")
    weight = _optional(weight, "weight")
    _same_shape(weight, "weight", shape, "rms_norm")
    dtype, x = x.dtype, _opmath(x)
    if eps is None:
        eps = float(jnp.finfo(x.dtype).eps)
    y = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axes, keepdims=True) + eps)
    return _affine(y, weight, None, shape).astype(dtype)


def group_norm(
    input: ArrayLike,
    num_groups: int,
    weight: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    eps: float = 1e-5,
) -> jax.Array:
    """Group normalisation of ``(N, C, *)``: each of ``num_groups`` channel groups of a
    sample over its ``C / num_groups`` channels and the ``*`` dims, then the
    per-channel ``weight`` / ``bias`` of shape ``(C,)``.

    Raises ``ValueError`` as torch does for input under 2 dims, ``C`` not
    divisible by ``num_groups``, vectors not of size ``C``, and a single value
    to normalise (torch's ``_verify_batch_size`` on ``[N*C/G, G, *]``).

    >>> import jax.numpy as jnp
    >>> group_norm(jnp.array([[[1.0], [3.0]]]), 1).round(4).tolist()
    [[[-1.0], [1.0]]]
    """
    x = _float_input(input, "group_norm")
    if x.ndim < 2:
        raise ValueError(
            f"group_norm: expected at least 2 dimensions for input but received {x.ndim} (shape {x.shape})"
        )
    n, channels = x.shape[0], x.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise ValueError(
            f"group_norm: expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {x.shape} and num_groups={num_groups}"
        )
    weight, bias = _optional(weight, "weight"), _optional(bias, "bias")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and value.shape != (channels,):
            raise ValueError(
                f"group_norm: expected {name} to be a vector of size equal to the number of channels in input, "
                f"but got {name} of shape {value.shape} and input of shape {x.shape}"
            )
    _verify_batch_size((n * channels // num_groups, num_groups) + x.shape[2:], "group_norm")
    dtype, x = x.dtype, _opmath(x)
    y = _standardize(x.reshape(n, num_groups, -1), (2,), eps)[0].reshape(x.shape)
    return _affine(y, weight, bias, (1, channels) + (1,) * (x.ndim - 2)).astype(dtype)


def local_response_norm(
    input: ArrayLike, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> jax.Array:
    """Local response normalisation across channels (dim 1) of ``(N, C, *)``, torch's formula:

    ``y_c = x_c / (k + alpha / size * sum_{c' in window(c)} x_{c'}**2) ** beta``,
    the window being ``size`` channels from ``c - size // 2`` to
    ``c + (size - 1) // 2``, zero-padded at the ends (the sum is always divided
    by ``size``). Input under 3 dims is a ``ValueError``; an empty input is
    returned as it is.

    >>> import jax.numpy as jnp
    >>> local_response_norm(jnp.ones((1, 2, 1)), 2, alpha=1.0, beta=1.0, k=1.0) * 6
    Array([[[4.],
            [3.]]], dtype=float32)
    """
    x = _float_input(input, "local_response_norm")
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher dimensionality input (got {x.ndim} dimensions)")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"local_response_norm: size must be a positive integer, got {size!r}")
    if x.size == 0:
        return x
    dtype, x = x.dtype, _opmath(x)
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    window = (1, size) + (1,) * (x.ndim - 2)
    summed = jax.lax.reduce_window(jnp.square(x), 0.0, jax.lax.add, window, (1,) * x.ndim, pad)
    div = jnp.power((summed / size) * alpha + k, beta)
    return (x / div).astype(dtype)


def _cross_map_window(channels: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The 0/1 channel-mixing matrices of torch's legacy ``CrossMapLRN2d`` (forward, backward).

    torch's Python port of the Lua kernel keeps two 1-based bounds unchanged: the
    forward window of channel ``c`` is ``[c - h, c + h]`` (``h = (size - 1) // 2``
    computed as ``int((size - 1) / 2 + 1) - 1``) plus channel 0 always; its
    handwritten backward sums the ratios over ``[c - p, c - p + size - 1]``,
    ``p = int(size - (size - 1) / 2)``. Both are reproduced as torch computes them.
    """
    pre_pad = int((size - 1) / 2 + 1)
    c = np.arange(channels)
    fwd = np.abs(c[:, None] - c[None, :]) <= pre_pad - 1
    fwd[:, 0] = True
    inverse_pre_pad = int(size - (size - 1) / 2)
    offset = c[None, :] - (c[:, None] - inverse_pre_pad)
    bwd = (offset >= 0) & (offset <= size - 1)
    return fwd.astype(np.float64), bwd.astype(np.float64)


def _mix(matrix: np.ndarray, x: jax.Array) -> jax.Array:
    return jnp.einsum("cd,nd...->nc...", jnp.asarray(matrix, x.dtype), x, precision=jax.lax.Precision.HIGHEST)


def _cross_map_lrn2d(input: ArrayLike, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> jax.Array:
    """torch's ``nn.CrossMapLRN2d`` forward and its handwritten backward, on ``(N, C, H, W)``.

    ``scale_c = k + alpha / size * sum_{c' in W(c)} x_{c'}**2`` and
    ``y = x * scale**-beta``; see :func:`_cross_map_window` for ``W`` (torch's
    window, which always includes channel 0). The gradient is torch's
    handwritten one, ``g * scale**-beta - 2 alpha beta / size * x * sum_{B(c)}
    g * y / scale``, which is not the derivative of its own forward.
    """
    x = _float_input(input, "CrossMapLRN2d")
    if x.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: expected input to be 4D, got {x.ndim}D instead (shape {x.shape})")
    fwd, bwd = _cross_map_window(x.shape[1], size)

    def scale_of(v):
        return _mix(fwd, jnp.square(v)) * (alpha / size) + k

    @jax.custom_vjp
    def lrn(v):
        return v * jnp.power(scale_of(v), -beta)

    def lrn_fwd(v):
        scale = scale_of(v)
        out = v * jnp.power(scale, -beta)
        return out, (v, out, scale)

    def lrn_bwd(res, g):
        v, out, scale = res
        ratio = _mix(bwd, g * out / scale)
        return (jnp.power(scale, -beta) * g - (2 * alpha * beta / size) * v * ratio,)

    lrn.defvjp(lrn_fwd, lrn_bwd)
    return lrn(x)
