"""Elementwise primitives whose gradients follow torch's autograd, not JAX's.

JAX and torch pick different subgradients at kinks: d|x|/dx at 0 is 1 in JAX
(``jnp.abs``) and 0 in torch; ``jnp.maximum(x, 0)`` splits the gradient 0.5/0.5
at a tie where torch's relu gives 0 and torch's ``clamp`` passes it through.
Losses build on these so that ``jax.grad`` returns torch's numbers at the kinks.
They also keep torch's nan propagation (``clamp(nan) = nan``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["abs", "relu", "clamp_min", "clamp_max", "sign", "div"]


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
    """torch.clamp(x, min=min): the gradient flows to x where x >= min (ties included)."""
    return jnp.where(x < min, jnp.asarray(min, x.dtype), x)


def clamp_max(x: jax.Array, max: jax.typing.ArrayLike) -> jax.Array:  # noqa: A002
    """torch.clamp(x, max=max): the gradient flows to x where x <= max (ties included)."""
    return jnp.where(x > max, jnp.asarray(max, x.dtype), x)


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
