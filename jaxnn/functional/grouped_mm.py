"""``grouped_mm``: torch's grouped matrix multiply for mixture-of-experts layers."""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["grouped_mm"]


def _group_of(positions: jax.Array, offs: jax.Array) -> jax.Array:
    """The group each position belongs to: group ``g`` ends (exclusive) at ``offs[g]``;
    positions past ``offs[-1]`` get ``len(offs)``."""
    return jnp.searchsorted(offs, positions, side="right")


def _check(a: jax.Array, b: jax.Array, offs: Optional[jax.Array], bias: Any, out_dtype: Any) -> None:
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        raise ValueError(f"grouped_mm: mat_a and mat_b must be 2-D or 3-D, got shapes {a.shape} and {b.shape}")
    if (offs is None) != (a.ndim == 3 and b.ndim == 3):
        raise ValueError(
            "grouped_mm: have to provide offsets if there is a 2d matrix, or no offset if both matrices are 3d "
            f"(mat_a {a.shape}, mat_b {b.shape}, offs {None if offs is None else offs.shape})"
        )
    if offs is not None and (offs.ndim != 1 or offs.dtype != jnp.int32):
        raise ValueError(f"grouped_mm: offs must be a 1-D int32 array, got {offs.dtype} of shape {offs.shape}")
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0]:
        raise ValueError(f"grouped_mm: matrix batch sizes have to match, got {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"grouped_mm: contraction dimension of mat_a and mat_b must match, got {a.shape} and {b.shape}"
        )
    if bias is not None:
        raise NotImplementedError("grouped_mm: bias is not supported (torch 2.13: 'Bias not supported yet')")
    if out_dtype is not None and jnp.dtype(out_dtype) != a.dtype:
        raise ValueError(f"grouped_mm: out_dtype {jnp.dtype(out_dtype)} must match mat_a's dtype {a.dtype}")


def grouped_mm(
    mat_a: ArrayLike,
    mat_b: ArrayLike,
    *,
    offs: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    out_dtype: Any = None,
) -> jax.Array:
    """One matrix product per group, torch's ``F.grouped_mm``.

    With ``G = len(offs)`` groups, group ``g`` spanning ``[offs[g-1], offs[g])``:

    * ``(M, K) x (G, K, N) -> (M, N)``: rows of group ``g`` times ``mat_b[g]``
      (an MoE forward over tokens sorted by expert);
    * ``(G, M, K) x (K, N) -> (M, N)``: columns of group ``g`` from ``mat_a[g]``;
    * ``(M, K) x (K, N) -> (G, M, N)``: the product over the ``K`` slice of group
      ``g`` (an MoE weight gradient);
    * ``(G, M, K) x (G, K, N) -> (G, M, N)``: a batched product (no ``offs``).

    Products accumulate in float32 for half-precision input and return
    ``mat_a``'s dtype. Rows or columns past ``offs[-1]`` are 0 here (torch leaves
    them uninitialised); an empty group gives zeros, as in torch. Differentiable
    (torch's CPU backward of this op is not usable in 2.13).

    >>> import jax.numpy as jnp
    >>> a, b = jnp.ones((3, 2)), jnp.stack([jnp.eye(2), 2 * jnp.eye(2)])
    >>> grouped_mm(a, b, offs=jnp.array([1, 3], jnp.int32))[:, 0].tolist()
    [1.0, 2.0, 2.0]
    """
    a, b = jnp.asarray(mat_a), jnp.asarray(mat_b)
    offs = None if offs is None else jnp.asarray(offs)
    _check(a, b, offs, bias, out_dtype)
    acc = jnp.float32 if jnp.dtype(a.dtype).itemsize < 4 else None
    if offs is None:
        out = jnp.einsum("gmk,gkn->gmn", a, b, preferred_element_type=acc)
    elif a.ndim == 2 and b.ndim == 3:
        sizes = jnp.diff(offs, prepend=0)
        # one extra group of zero weights takes the rows past offs[-1]
        rest = jnp.asarray(a.shape[0], offs.dtype) - offs[-1]
        rhs = jnp.concatenate([b, jnp.zeros((1,) + b.shape[1:], b.dtype)])
        out = jax.lax.ragged_dot(a, rhs, jnp.concatenate([sizes, rest[None]]), preferred_element_type=acc)
    elif a.ndim == 3 and b.ndim == 2:
        full = jnp.einsum("gmk,kn->gmn", a, b, preferred_element_type=acc)
        group = _group_of(jnp.arange(b.shape[1]), offs)
        picked = jnp.take_along_axis(full, jnp.minimum(group, a.shape[0] - 1)[None, None, :], axis=0)[0]
        out = jnp.where(group < len(offs), picked, 0)
    else:
        group = _group_of(jnp.arange(a.shape[1]), offs)
        mask = (group[None, :] == jnp.arange(len(offs))[:, None]).astype(a.dtype)
        out = jnp.einsum("mk,kn,gk->gmn", a, b, mask, preferred_element_type=acc)
    return out.astype(a.dtype)
