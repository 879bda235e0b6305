"""``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` on gradient pytrees, and as optax steps."""

from __future__ import annotations

import math
from typing import Any, Iterator, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grad_norm",
    "clip_grad_value",
    "get_total_norm",
    "clip_grads_with_norm_",
]


def _vector_norm(x: jax.Array, ord: float) -> jax.Array:
    """``torch.linalg.vector_norm(x, ord)`` of a flattened array."""
    x = jnp.abs(jnp.ravel(x))
    if ord == math.inf:
        return jnp.max(x, initial=0.0)
    if ord == -math.inf:
        return jnp.min(x)
    if ord == 0:
        return jnp.sum(x != 0).astype(x.dtype)
    if ord == 1:
        return jnp.sum(x)
    if ord == 2:
        return jnp.sqrt(jnp.sum(x * x))
    return jnp.sum(x**ord) ** (1.0 / ord)


def _total_norm(grads: Any, norm_type: float, error_if_nonfinite: bool) -> jax.Array:
    leaves = jax.tree.leaves(grads)
    if not leaves:
        return jnp.zeros([], jnp.float32)
    norms = [_vector_norm(jnp.asarray(g), norm_type) for g in leaves]
    total = _vector_norm(jnp.stack([n.astype(norms[0].dtype) for n in norms]), norm_type)
    if error_if_nonfinite:
        if isinstance(total, jax.core.Tracer):
            raise ValueError(
                "error_if_nonfinite=True needs concrete gradients to raise; it cannot be "
                "checked under jit. Call clip_grad_norm_ outside jit, or test the returned "
                "total norm with jnp.isfinite yourself."
            )
        if not bool(jnp.isfinite(total)):
            raise RuntimeError(
                f"The total norm of order {float(norm_type)} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
            )
    return total


def clip_grad_norm_(
    grads: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Optional[bool] = None,
) -> tuple[Any, jax.Array]:
    """Scales the gradients so their joint ``norm_type``-norm is at most ``max_norm``.

    ``total_norm`` is the norm of the per-leaf norms (torch's order of
    reduction); every leaf is multiplied by ``min(max_norm / (total_norm +
    1e-6), 1)``. A non-finite total norm scales by nan/0 as in torch unless
    ``error_if_nonfinite``.

    Args:
      grads: a pytree of gradient arrays (torch: the parameters' ``.grad``).
      max_norm: the largest allowed norm.
      norm_type: p of the p-norm; ``float('inf')`` for the max-abs norm (also
        ``-inf`` and ``0`` as ``torch.linalg.vector_norm`` defines them).
      error_if_nonfinite: raise ``RuntimeError`` (torch's message) if the total
        norm is nan or inf. Only possible eagerly: under ``jit`` it raises
        ``ValueError`` at trace time instead of silently not checking.
      foreach: accepted for torch compatibility.

    Returns:
      ``(clipped_grads, total_norm)``: torch modifies ``.grad`` in place and
      returns the total norm; JAX arrays are immutable, so the clipped pytree
      comes back too. With no leaves the norm is 0.0, as in torch.

    Reference: ``torch.nn.utils.clip_grad_norm_``.

    Example:
      >>> clipped, total_norm = clip_grad_norm_({"w": jnp.array([3.0, 4.0])}, max_norm=1.0)
      >>> total_norm
      Array(5., dtype=float32)
      >>> clipped["w"].round(4)
      Array([0.59999996, 0.79999995], dtype=float32)
    """
    norm_type = float(norm_type)
    total = _total_norm(grads, norm_type, error_if_nonfinite)
    coef = jnp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    return jax.tree.map(lambda g: (g * coef).astype(g.dtype), grads), total


def get_total_norm(
    tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: Optional[bool] = None
) -> jax.Array:
    """The ``norm_type``-norm of all the arrays as one vector (torch's ``get_total_norm``):
    the norm of the per-array norms, torch's order of reduction.

    Args:
      tensors: a pytree of arrays (gradients), an iterable of them, or one array.
      norm_type: p of the p-norm; ``float('inf')`` for max-abs.
      error_if_nonfinite: raise ``RuntimeError`` on a nan/inf total (eagerly only;
        under ``jit`` a ``ValueError`` at trace time, see :func:`clip_grad_norm_`).
      foreach: accepted for torch compatibility.

    Returns:
      A 0-d array; 0.0 for no arrays, as torch.

    >>> float(get_total_norm([jnp.full(4, 3.0), jnp.full(9, 4.0)]))
    13.416...
    """
    if isinstance(tensors, Iterator):
        tensors = list(tensors)
    return _total_norm(tensors, float(norm_type), error_if_nonfinite)


def clip_grads_with_norm_(
    parameters: Any, max_norm: float, total_norm: jax.Array, foreach: Optional[bool] = None
) -> Any:
    """Scales the arrays by ``min(max_norm / (total_norm + 1e-6), 1)`` with a total norm
    computed beforehand (torch's ``clip_grads_with_norm_``, the second half of
    :func:`clip_grad_norm_`; e.g. with :func:`get_total_norm` of gradients summed
    across devices). torch scales ``.grad`` in place and returns ``None``; here the
    scaled pytree is returned, each leaf in its own dtype.
    """
    if isinstance(parameters, Iterator):
        parameters = list(parameters)
    coef = jnp.minimum(float(max_norm) / (jnp.asarray(total_norm) + 1e-6), 1.0)
    return jax.tree.map(lambda g: (g * coef).astype(g.dtype), parameters)


def clip_grad_value_(grads: Any, clip_value: float, foreach: Optional[bool] = None) -> Any:
    """Clamps every gradient element to ``[-clip_value, clip_value]``; returns the clipped pytree.

    Reference: ``torch.nn.utils.clip_grad_value_`` (in place there; returns None).

    Example:
      >>> clip_grad_value_({"w": jnp.array([-3.0, 0.5])}, clip_value=1.0)
      {'w': Array([-1. ,  0.5], dtype=float32)}
    """
    clip_value = float(clip_value)
    return jax.tree.map(lambda g: jnp.clip(g, -clip_value, clip_value), grads)


class ClipGradNormState(NamedTuple):
    """Keeps the last step's total gradient norm (what torch's ``clip_grad_norm_`` returned)."""

    total_norm: jax.Array


def clip_grad_norm(
    max_norm: float, norm_type: float = 2.0
) -> optax.GradientTransformation:
    """:func:`clip_grad_norm_` as an optax transformation, to chain before an optimizer.

    ``optax.chain(clip_grad_norm(1.0), jaxnn.optim.Adam(...))`` is torch's
    ``clip_grad_norm_(model.parameters(), 1.0); opt.step()``. The state holds
    the last total norm. Unlike ``optax.clip_by_global_norm`` it adds torch's
    1e-6 to the norm and supports any ``norm_type``.
    """

    def init_fn(params):
        leaves = jax.tree.leaves(params)
        dtype = jnp.asarray(leaves[0]).dtype if leaves else jnp.float32
        return ClipGradNormState(jnp.zeros([], dtype))

    def update_fn(updates, state, params=None):
        del params, state
        clipped, total = clip_grad_norm_(updates, max_norm, norm_type)
        return clipped, ClipGradNormState(total)

    return optax.GradientTransformation(init_fn, update_fn)


def clip_grad_value(clip_value: float) -> optax.GradientTransformation:
    """:func:`clip_grad_value_` as a stateless optax transformation."""

    def update_fn(updates, state, params=None):
        del params
        return clip_grad_value_(updates, clip_value), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)
