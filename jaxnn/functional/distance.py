"""Distances: pairwise_distance, cosine_similarity and pdist (torch.nn.functional's names).

Each follows torch's ATen composite (``aten/src/ATen/native/Distance.cpp``) so
values and gradients agree with torch's autograd, at zero distance included:
the p-norms use torch's ``norm_backward`` (0 where the norm is 0), and
``cosine_similarity`` clamps the norms at ``eps`` without a gradient, as torch
does under ``no_grad``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from . import _ops
from ._shape_checks import as_array, broadcast_all, float_input
from ._reduction import accumulation_dtype

__all__ = ["pairwise_distance", "cosine_similarity", "pdist"]


def pairwise_distance(
    x1: ArrayLike, x2: ArrayLike, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> jax.Array:
    """``||x1 - x2 + eps||_p`` over the last dimension, as ``torch.nn.functional.pairwise_distance``.

    Args:
      x1, x2: (..., D) arrays that broadcast together; the norm runs over the
        last dimension of the broadcast shape (a 0-d pair is one 1-element vector).
      p: the norm's order, any real number or +-inf (0 counts non-zeros).
      eps: added to the difference before the norm (torch's convention, so the
        distance of equal vectors is ``eps * D**(1/p)``, not 0).
      keepdim: keep the reduced dimension.

    Returns:
      The distances, shape (...) (or (..., 1) with ``keepdim``).

    The absolute value is taken inside the norm, so odd ``p`` is a true norm
    (optax's ``triplet_margin_loss`` drops it). Gradients follow torch's
    ``norm_backward`` (0 where the norm is 0).

    >>> jnp.round(pairwise_distance(jnp.array([[0.0, 0.0]]), jnp.array([[3.0, 4.0]])), 4)  # 5 - 1.4e-6
    Array([5.], dtype=float32)
    """
    x1 = float_input(x1, "x1")
    x2 = float_input(x2, "x2")
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        return _ops.vector_norm(diff[None], float(p), -1, False)
    return _ops.vector_norm(diff, float(p), -1, keepdim)


def _no_grad_clamp_min(x: jax.Array, lo: float) -> jax.Array:
    """max(x, lo) whose gradient is the identity: torch clamps in place under ``no_grad``."""
    return jax.lax.stop_gradient(jnp.maximum(x, lo)) + (x - jax.lax.stop_gradient(x))


def cosine_similarity(x1: ArrayLike, x2: ArrayLike, dim: int = 1, eps: float = 1e-8) -> jax.Array:
    """``sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)))`` along ``dim``.

    Args:
      x1, x2: arrays that broadcast together (integer inputs are promoted, but at
        least one must be floating, as torch requires).
      dim: the axis of the vectors, in the broadcast shape.
      eps: the floor of each norm; a zero vector has similarity 0 (nan in float16,
        where torch's default 1e-8 rounds to 0).

    Returns:
      The broadcast shape without ``dim``. Half precision is computed in float32
      and rounded once.

    Each vector is divided by its own norm before the product (torch's order,
    which keeps the result in [-1, 1]). The clamp at ``eps`` passes the gradient
    straight through, so the gradient w.r.t. a zero vector is
    ``(x2 / ||x2||) / eps``, large but finite, as torch's.

    >>> jnp.round(cosine_similarity(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]])), 4)  # cos(45 degrees)
    Array([0.7071], dtype=float32)

    Raises:
      TypeError: both inputs integer. ValueError: shapes that do not broadcast, ``dim`` out of range.
    """
    a, b = as_array(x1, "x1"), as_array(x2, "x2")
    dtype = jnp.result_type(a.dtype, b.dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"cosine_similarity: expected common dtype to be floating point, yet common dtype is {dtype}")
    a, b = broadcast_all((a.astype(dtype), b.astype(dtype)), ("x1", "x2"))
    rank = max(a.ndim, 1)
    if not -rank <= dim < rank:
        raise ValueError(f"cosine_similarity: dim {dim} is out of range for inputs broadcast to shape {tuple(a.shape)}")
    if a.ndim == 0:
        a, b = a[None], b[None]
    dim %= rank
    acc = accumulation_dtype(dtype)
    a, b = a.astype(acc), b.astype(acc)
    # torch clamps a tensor of the input's dtype: eps is rounded to it (1e-8 is 0 in float16)
    eps = float(np.asarray(eps, dtype))
    n1 = _no_grad_clamp_min(_ops.vector_norm(a, 2.0, dim, True), eps)
    n2 = _no_grad_clamp_min(_ops.vector_norm(b, 2.0, dim, True), eps)
    return jnp.sum((a / n1) * (b / n2), axis=dim).astype(dtype)


def _pdist_inf(diff: jax.Array) -> jax.Array:
    """max |diff| over the last axis with torch's ``_pdist_backward`` gradient for p = inf:
    every entry attaining the max gets the whole ``sign(diff) * grad`` (not a share)."""
    a = _ops.abs(diff)
    dist = jax.lax.stop_gradient(jnp.max(a, axis=-1))
    at_max = jax.lax.stop_gradient(a == dist[..., None])
    return dist + jnp.sum(jnp.where(at_max, a - jax.lax.stop_gradient(a), 0), axis=-1)


def pdist(input: ArrayLike, p: float = 2) -> jax.Array:
    """The p-norm distance between every pair of rows ``i < j`` of an ``(N, M)`` input.

    Args:
      input: ``(N, M)``.
      p: the norm's order in [0, inf].

    Returns:
      ``(N * (N - 1) / 2,)``, the upper triangle of the distance matrix row by row
      (``(0,1), (0,2), ..., (1,2), ...``), as torch. Half precision accumulates in float32.

    Unlike :func:`pairwise_distance` there is no ``eps``: equal rows are at
    distance 0, where the gradient is 0 (torch's ``_pdist_backward``); with
    ``p = inf`` every tied maximal coordinate gets the whole gradient.

    >>> jnp.round(pdist(jnp.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])), 4)  # [5, 1, sqrt(18)]
    Array([5.    , 1.    , 4.2426], dtype=float32)

    Raises:
      ValueError: input not 2-D, ``p < 0``.
    """
    x = float_input(input, "input")
    if x.ndim != 2:
        raise ValueError(f"pdist only supports 2D tensors, got: {x.ndim}D (shape {tuple(x.shape)})")
    if p < 0:
        raise ValueError(f"pdist only supports non-negative p values, got {p}")
    i, j = np.triu_indices(x.shape[0], 1)
    diff = (x[i] - x[j]).astype(accumulation_dtype(x.dtype))
    # torch's pdist kernel sums |d|**p and takes the root even for one-column inputs
    dist = _pdist_inf(diff) if p == math.inf else _ops.vector_norm(diff, float(p), -1, False, False)
    return dist.astype(x.dtype)
