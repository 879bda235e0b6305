"""The arithmetic shared by weight and spectral normalisation, new and legacy APIs.

Power iteration runs on a gradient-free copy of the weight, as torch runs it
under ``no_grad``: only ``sigma = u . (W v)`` carries the gradient to ``W``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def norm_except_dim(v: jax.Array, dim: int) -> jax.Array:
    """``torch.norm_except_dim(v, 2, dim)``: the 2-norm over every axis but ``dim``, kept
    as size-1 axes; ``dim == -1`` is torch's code for the norm of the whole tensor (0-d)."""
    if dim == -1:
        return jnp.sqrt(jnp.sum(jnp.square(v)))
    axis = dim % v.ndim
    axes = tuple(a for a in range(v.ndim) if a != axis)
    return jnp.sqrt(jnp.sum(jnp.square(v), axis=axes, keepdims=True))


def weight_norm(v: jax.Array, g: jax.Array, dim: int) -> jax.Array:
    """``torch._weight_norm(v, g, dim)``: ``v * g / norm_except_dim(v, dim)``."""
    return v * (g / norm_except_dim(v, dim))


def normalize(x: jax.Array, eps: float) -> jax.Array:
    """``F.normalize(x, dim=0, eps=eps)`` of a vector: ``x / max(||x||, eps)``."""
    return x / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(x))), eps)


def weight_matrix(weight: jax.Array, dim: int) -> jax.Array:
    """The weight as a matrix with axis ``dim`` as rows (torch's ``_reshape_weight_to_matrix``)."""
    if dim != 0:
        weight = jnp.moveaxis(weight, dim, 0)
    return weight.reshape(weight.shape[0], -1)


def power_iteration(
    weight_mat: jax.Array, u: jax.Array, v: jax.Array, n: int, eps: float, u_first: bool
) -> tuple[jax.Array, jax.Array]:
    """``n`` rounds of the power method for the top singular pair of ``weight_mat``.

    ``u_first``: the parametrization updates ``u = W v`` then ``v = W^T u`` (torch's
    ``_SpectralNorm``); the legacy hook updates ``v`` first (torch's ``SpectralNorm``).
    """
    w = jax.lax.stop_gradient(weight_mat)
    for _ in range(n):
        if u_first:
            u = normalize(w @ v, eps)
            v = normalize(jnp.conj(w).T @ u, eps)
        else:
            v = normalize(w.T @ u, eps)
            u = normalize(w @ v, eps)
    return u, v


def sigma(weight_mat: jax.Array, u: jax.Array, v: jax.Array) -> jax.Array:
    """``torch.vdot(u, W v)`` with ``u``, ``v`` held constant."""
    u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
    return jnp.vdot(u, weight_mat @ v)
