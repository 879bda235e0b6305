"""torch.nn.init's initialisers as pure functions: a key and a shape in, a new array out.

torch fills a tensor in place (``nn.init.kaiming_uniform_(w, a=math.sqrt(5))``);
JAX arrays are immutable, so each function here takes the PRNG key and the shape
(or an existing array, whose shape and dtype are used) and returns the array:

    w = jaxnn.init.kaiming_uniform_(key, (out_features, in_features), a=math.sqrt(5))

The names keep torch's trailing underscore so ported code reads the same. Fans
(``fan_in = shape[1] * prod(shape[2:])``, ``fan_out = shape[0] * prod(shape[2:])``)
and gains (:func:`calculate_gain`) are torch's, so the distributions are
torch's; the random draws themselves are JAX's, not torch's bit-for-bit.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Optional, Sequence, Union, cast

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
]

Shape = Union[Sequence[int], ArrayLike]

_UNIT_GAIN = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """torch's recommended gain for ``nonlinearity``.

    linear / conv* / sigmoid: 1; tanh: 5/3; relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + slope**2)) with ``param`` the slope (default 0.01);
    selu: 3/4.

    Raises:
      ValueError: an unknown nonlinearity, or a non-numeric leaky_relu slope.
    """
    if nonlinearity in _UNIT_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _shape_dtype(shape: Shape, dtype: Any) -> tuple[tuple[int, ...], Any]:
    """A shape tuple and dtype from a shape or from an existing array (torch's ``tensor``)."""
    if hasattr(shape, "shape") and hasattr(shape, "dtype"):
        return tuple(shape.shape), dtype or shape.dtype
    return tuple(int(s) for s in cast(Sequence[int], shape)), dtype or jnp.float32


def _calculate_fan_in_and_fan_out(shape: Sequence[int]) -> tuple[int, int]:
    """torch's fans: fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field."""
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(shape {tuple(shape)})"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(shape: Sequence[int], mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _bucket(n: int) -> int:
    """The length drawn for ``n`` elements: a power of two up to 2**16, then a multiple of 1/16 octave."""
    if n <= 1 << 12:
        return 1 << 12
    if n <= 1 << 16:
        return 1 << (n - 1).bit_length()
    step = 1 << (n.bit_length() - 5)
    return -(-n // step) * step


def _drawn(
    sample: Callable[[jax.Array, tuple[int, ...]], jax.Array], key: jax.Array, shape: tuple[int, ...]
) -> jax.Array:
    """``sample(key, shape)``, drawn as a flat bucket-length array cut to ``shape``.

    Outside ``jit`` every new shape compiles JAX's sampler (threefry and the
    transform: ~0.1-0.5 s on CPU), which made building a model cost seconds
    per distinct parameter shape; drawn at a few bucket lengths (at most 1/16
    longer than needed past 2**16 elements), a model compiles a handful of
    samplers and one cheap slice per shape. The values are the same bits:
    JAX's default (partitionable) threefry draws element ``i`` of a flat array
    from ``(key, i)`` alone, and the transforms are elementwise (with
    ``jax_threefry_partitionable`` off they are a prefix of a longer draw: the
    same distribution, other bits).

    >>> _bucket(10), _bucket(5000), _bucket(100_000)
    (4096, 8192, 102400)
    """
    n = math.prod(shape)
    return sample(key, (_bucket(n),))[:n].reshape(shape)


def uniform_(key: jax.Array, shape: Shape, a: float = 0.0, b: float = 1.0, dtype=None) -> jax.Array:
    """U(a, b)."""
    shape, dtype = _shape_dtype(shape, dtype)
    return _drawn(lambda k, s: jax.random.uniform(k, s, dtype, minval=a, maxval=b), key, shape)


def normal_(key: jax.Array, shape: Shape, mean: float = 0.0, std: float = 1.0, dtype=None) -> jax.Array:
    """N(mean, std**2)."""
    shape, dtype = _shape_dtype(shape, dtype)
    return _drawn(lambda k, s: mean + std * jax.random.normal(k, s, dtype), key, shape)


def trunc_normal_(
    key: jax.Array,
    shape: Shape,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    dtype=None,
) -> jax.Array:
    """N(mean, std**2) truncated to ``[a, b]``; as torch, ``a`` and ``b`` are absolute
    bounds, not multiples of ``std``."""
    shape, dtype = _shape_dtype(shape, dtype)
    lo, hi = (a - mean) / std, (b - mean) / std
    return _drawn(
        lambda k, s: jnp.clip(mean + std * jax.random.truncated_normal(k, lo, hi, s, dtype), a, b), key, shape
    )


def constant_(shape: Shape, val: float, dtype=None) -> jax.Array:
    """Every element equal to ``val``."""
    shape, dtype = _shape_dtype(shape, dtype)
    return jnp.full(shape, val, dtype)


def zeros_(shape: Shape, dtype=None) -> jax.Array:
    """All zeros."""
    return constant_(shape, 0.0, dtype)


def ones_(shape: Shape, dtype=None) -> jax.Array:
    """All ones."""
    return constant_(shape, 1.0, dtype)


def _empty_or_none(shape: tuple[int, ...], dtype) -> Optional[jax.Array]:
    """torch warns and leaves a zero-element tensor alone; its fans would divide by 0."""
    if math.prod(shape) == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return jnp.zeros(shape, dtype)
    return None


def xavier_uniform_(key: jax.Array, shape: Shape, gain: float = 1.0, dtype=None) -> jax.Array:
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot)."""
    shape, dtype = _shape_dtype(shape, dtype)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(key, shape, -bound, bound, dtype)


def xavier_normal_(key: jax.Array, shape: Shape, gain: float = 1.0, dtype=None) -> jax.Array:
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot)."""
    shape, dtype = _shape_dtype(shape, dtype)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    return normal_(key, shape, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), dtype)


def _kaiming_std(shape, a, mode, nonlinearity) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(shape, mode))


def kaiming_uniform_(
    key: jax.Array,
    shape: Shape,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype=None,
) -> jax.Array:
    """U(-b, b) with b = sqrt(3) * gain(nonlinearity, a) / sqrt(fan) (He).

    torch's layers use ``a=sqrt(5)``, which gives b = 1 / sqrt(fan_in).
    A zero-element shape warns and returns an empty array, as torch does.
    """
    shape, dtype = _shape_dtype(shape, dtype)
    empty = _empty_or_none(shape, dtype)
    if empty is not None:
        return empty
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return uniform_(key, shape, -bound, bound, dtype)


def kaiming_normal_(
    key: jax.Array,
    shape: Shape,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype=None,
) -> jax.Array:
    """N(0, std**2) with std = gain(nonlinearity, a) / sqrt(fan) (He)."""
    shape, dtype = _shape_dtype(shape, dtype)
    empty = _empty_or_none(shape, dtype)
    if empty is not None:
        return empty
    return normal_(key, shape, 0.0, _kaiming_std(shape, a, mode, nonlinearity), dtype)


def orthogonal_(key: jax.Array, shape: Shape, gain: float = 1.0, dtype=None) -> jax.Array:
    """A (semi-)orthogonal matrix, torch's construction: QR of a Gaussian
    ``(shape[0], prod(shape[1:]))`` matrix with Q's columns signed by diag(R), times ``gain``.

    Raises:
      ValueError: fewer than 2 dimensions.
    """
    shape, dtype = _shape_dtype(shape, dtype)
    if len(shape) < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported, got shape {shape}")
    if math.prod(shape) == 0:
        return jnp.zeros(shape, dtype)
    rows = shape[0]
    cols = math.prod(shape) // rows
    flat = _drawn(lambda k, s: jax.random.normal(k, s, dtype), key, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = jnp.linalg.qr(flat)
    q = q * jnp.sign(jnp.diagonal(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)
