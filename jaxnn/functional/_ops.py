"""Elementwise primitives whose gradients follow torch's autograd, not JAX's.

JAX and torch pick different subgradients at kinks: d|x|/dx at 0 is 1 in JAX
(``jnp.abs``) and 0 in torch; ``jnp.maximum(x, 0)`` splits the gradient 0.5/0.5
at a tie where torch's relu gives 0 and torch's ``clamp`` passes it through.
Losses build on these so that ``jax.grad`` returns torch's numbers at the kinks.
They also keep torch's nan propagation (``clamp(nan) = nan``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

__all__ = ["abs", "relu", "clamp_min", "clamp_max", "sign", "div", "vector_norm"]


@jax.custom_jvp
def abs(x: jax.Array) -> jax.Array:  # noqa: A001 - mirrors torch.abs
    """|x| with torch's gradient sgn(x): 0 at x == 0, and 0 at nan (torch's sgn(nan) is 0)."""
    return jnp.abs(x)


@abs.defjvp
def _abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    slope = jnp.where(x > 0, 1, jnp.where(x < 0, -1, 0)).astype(t.dtype)
    return jnp.abs(x), slope * t


def sign(x: jax.Array) -> jax.Array:
    """torch.sign: 0 at 0, gradient 0 everywhere."""
    return jax.lax.stop_gradient(jnp.sign(x))


def relu(x: jax.Array) -> jax.Array:
    """max(x, 0) with torch's gradient: 0 at x == 0 (threshold_backward), nan kept."""
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


def clamp_min(x: jax.Array, min: jax.typing.ArrayLike) -> jax.Array:  # noqa: A002
    """torch.clamp(x, min=min): the gradient flows to x where x >= min (ties included).

    nan stays nan with gradient 0, as torch's backward mask ``x >= min`` is false there.
    """
    lo = jnp.asarray(min, x.dtype)
    return jnp.where(x >= lo, x, jnp.where(x < lo, lo, jax.lax.stop_gradient(x)))


def clamp_max(x: jax.Array, max: jax.typing.ArrayLike) -> jax.Array:  # noqa: A002
    """torch.clamp(x, max=max): the gradient flows to x where x <= max (ties included).

    nan stays nan with gradient 0, as torch's backward mask ``x <= max`` is false there.
    """
    hi = jnp.asarray(max, x.dtype)
    return jnp.where(x <= hi, x, jnp.where(x > hi, hi, jax.lax.stop_gradient(x)))


@jax.custom_jvp
def div(a: jax.Array, b: jax.Array) -> jax.Array:
    """a / b with torch's backward for the divisor, ``-g * ((a / b) / b)``.

    JAX differentiates ``a / b`` w.r.t. ``b`` as ``-g * a * b**-2``: once ``b**2``
    overflows (|b| > 1.8e19 in float32) that is ``inf * 0 = nan`` where torch's
    order of operations gives a finite number or the signed infinity.
    """
    return a / b


@div.defjvp
def _div_jvp(primals, tangents):
    (a, b), (ta, tb) = primals, tangents
    out = a / b
    return out, ta / b - tb * (out / b)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3, 4))
def vector_norm(
    x: jax.Array,
    ord: float = 2.0,  # noqa: A002
    axis: int = -1,
    keepdims: bool = False,
    one_element_is_abs: bool = True,
) -> jax.Array:
    """torch.linalg.vector_norm over one axis, with torch's gradient (``norm_backward``).

    ``ord`` is any real number or +-inf: 0 counts non-zeros, +-inf is the max/min
    of ``|x|``, otherwise ``sum(|x|**ord) ** (1/ord)``. The gradient is torch's:
    0 where the norm is 0 (ord > 1), ``sign(x)`` for ord 1, the max entries
    sharing it evenly for +-inf, 0 for ord 0, and 0 at zero entries for ord < 1.

    Over an axis of size 1 the norm (ord != 0) is ``|x|`` exactly, as torch's
    ``linalg_vector_norm`` returns it without the power round trip (which is an
    ulp off, and overflows for ord 2 at 1e200); ``one_element_is_abs=False``
    for torch kernels that have no such shortcut (``pdist``).
    """
    a = jnp.abs(x)
    if one_element_is_abs and x.shape[axis] == 1 and ord != 0:
        return a if keepdims else jnp.squeeze(a, axis)
    if ord == 0:
        return jnp.sum(x != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
    if ord == math.inf:
        return jnp.max(a, axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return jnp.min(a, axis=axis, keepdims=keepdims)
    if ord == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    if ord == 2:
        return jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=keepdims))
    return jnp.sum(a**ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _norm_coefficient(x: jax.Array, norm: jax.Array, ord: float, axis: int) -> jax.Array:
    """d norm / d x elementwise, as torch's ``norm_backward`` computes it (``norm`` kept dims)."""
    zero = jnp.zeros((), x.dtype)
    if ord == 0:
        return jnp.zeros_like(x)
    if ord == 1:
        return jnp.sign(x)
    if math.isinf(ord):
        a = jnp.abs(x)
        mask = (a == norm) | jnp.isnan(a)
        return jnp.where(mask, jnp.sign(x), zero) / jnp.sum(mask, axis=axis, keepdims=True).astype(x.dtype)
    a = jnp.abs(x)
    if ord < 1:
        # torch zeroes |x|**(ord-1) at x == 0 (it would be inf) and never masks the norm
        scaled = jnp.sign(x) * jnp.where(x == 0, zero, a ** (ord - 1))
        return scaled * norm ** (1 - ord)
    # 1 < ord: torch returns the subgradient 0 where the norm is 0; dividing on the
    # primal side keeps the transposed (VJP) computation free of 0/0
    safe = jnp.where(norm == 0, jnp.ones_like(norm), norm)
    inv = jnp.where(norm == 0, zero, 1 / safe ** (ord - 1))
    scaled = x if ord == 2 else (jnp.sign(x) * a ** (ord - 1) if ord < 2 else x * a ** (ord - 2))
    return scaled * inv


@vector_norm.defjvp
def _vector_norm_jvp(ord, axis, keepdims, one_element_is_abs, primals, tangents):
    (x,), (t,) = primals, tangents
    norm = vector_norm(x, ord, axis, True, one_element_is_abs)
    coef = _norm_coefficient(x, norm, ord, axis)
    out = norm if keepdims else jnp.squeeze(norm, axis)
    return out, jnp.sum(coef * t, axis=axis, keepdims=keepdims)
