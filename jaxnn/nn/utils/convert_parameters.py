"""torch.nn.utils.parameters_to_vector / vector_to_parameters on parameter pytrees."""

from __future__ import annotations

from typing import Any, Iterator

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _tree(parameters: Any) -> Any:
    """A generator (``model.parameters()``) as a list; any other pytree as it is."""
    if hasattr(parameters, "shape") and hasattr(parameters, "dtype"):
        raise TypeError(f"expected an iterable or pytree of arrays, got a single array of shape {parameters.shape}")
    return list(parameters) if isinstance(parameters, Iterator) else parameters


def parameters_to_vector(parameters: Any) -> jax.Array:
    """All parameters flattened and concatenated into one vector, in order (torch's
    ``parameters_to_vector(model.parameters())``).

    Args:
      parameters: an iterable of arrays (``model.parameters()``) or any pytree of
        arrays (``nnx.state(model, nnx.Param)``, in its leaf order).

    Returns:
      A 1-D array; mixed dtypes are promoted as ``jnp.concatenate`` does (torch's
      ``cat``). No parameters is an error, as in torch.

    >>> parameters_to_vector([jnp.ones((2, 2)), jnp.zeros(3)]).shape
    (7,)
    """
    leaves = jax.tree.leaves(_tree(parameters))
    if not leaves:
        raise ValueError("parameters_to_vector: expected a non-empty list of arrays")
    return jnp.concatenate([jnp.ravel(jnp.asarray(p)) for p in leaves])


def vector_to_parameters(vec: ArrayLike, parameters: Any) -> Any:
    """Slices ``vec`` into arrays shaped like ``parameters`` (torch's
    ``vector_to_parameters``, which copies into the parameters in place; here the new
    arrays come back, in the structure given: a list for a generator such as
    ``model.parameters()``, the same pytree for a pytree). Each piece takes its parameter's dtype.

    Raises:
      TypeError: ``vec`` is not 1-D (torch: "expected torch.Tensor").
      ValueError: ``vec``'s length differs from the total number of elements.
    """
    vec = jnp.asarray(vec)
    if vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected vec to be a 1-D array, got shape {vec.shape}")
    leaves, treedef = jax.tree.flatten(_tree(parameters))
    total = sum(int(jnp.size(p)) for p in leaves)
    if vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements, the parameters {total}")
    pieces, offset = [], 0
    for p in leaves:
        p = jnp.asarray(p)
        pieces.append(vec[offset : offset + p.size].reshape(p.shape).astype(p.dtype))
        offset += p.size
    return jax.tree.unflatten(treedef, pieces)
