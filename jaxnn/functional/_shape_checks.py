"""Shape and dtype validation shared by the functional forms.

Everything here runs on static shapes and dtypes, so it raises at trace time
under ``jax.jit`` with a message naming the argument and the shapes or dtypes.
Checks of array *values* (class indices in range, probabilities in [0, 1])
are :mod:`jaxnn.checks`, public because users switch them on under jit;
:func:`check_static_value`, for the values of options and index arguments,
raises where they are concrete and hands traced ones to that module.
"""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks

__all__ = [
    "as_array",
    "float_input",
    "class_target",
    "broadcast_pair",
    "same_shape",
    "check_static_value",
    "same_ndim",
    "broadcast_all",
    "class_weight",
    "broadcasts_to",
    "describe",
    "float_result_dtype",
]


def as_array(x: jax.typing.ArrayLike, name: str) -> jax.Array:
    """``jnp.asarray`` with an error naming ``name`` for things that are not arrays.

    torch tensors are accepted through numpy (``detach().cpu().numpy()``), so a
    user porting code can pass them directly.
    """
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach().cpu().numpy()
    try:
        return jnp.asarray(x)
    except TypeError as e:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}") from e


def float_input(x: jax.typing.ArrayLike, name: str = "input") -> jax.Array:
    """An array of floating dtype; integer or boolean input is rejected, as torch does."""
    x = as_array(x, name)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{name} must have a floating dtype, got {x.dtype} with shape {tuple(x.shape)}"
        )
    return x


def class_target(target: jax.typing.ArrayLike, name: str = "target") -> jax.Array:
    """Integer class indices; a floating or boolean target is rejected with its dtype."""
    target = as_array(target, name)
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise TypeError(
            f"{name} must hold integer class indices, got dtype {target.dtype} "
            f"with shape {tuple(target.shape)}"
        )
    return target


def broadcast_pair(
    input: jax.Array, target: jax.Array, *, names: Sequence[str] = ("input", "target"), warn: bool = True
) -> tuple[jax.Array, jax.Array]:
    """Broadcasts input and target as torch's pointwise losses do.

    Different but broadcastable shapes give torch's ``UserWarning`` (when
    ``warn``); shapes that do not broadcast raise ``ValueError`` naming both.
    Both come back in the promoted floating dtype.
    """
    a, b = names
    if input.shape != target.shape:
        try:
            shape = np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(
                f"{a} shape {tuple(input.shape)} and {b} shape {tuple(target.shape)} "
                "cannot be broadcast together"
            ) from None
        if warn:
            warnings.warn(
                f"Using a target size ({tuple(target.shape)}) that is different to the input "
                f"size ({tuple(input.shape)}). This will likely lead to incorrect results due "
                "to broadcasting. Please ensure they have the same size.",
                UserWarning,
                stacklevel=3,
            )
        input = jnp.broadcast_to(input, shape)
        target = jnp.broadcast_to(target, shape)
    dtype = jnp.result_type(input.dtype, target.dtype)
    return input.astype(dtype), target.astype(dtype)


def same_shape(x: jax.Array, y: jax.Array, names: Sequence[str], what: str = "") -> None:
    """Raises ``ValueError`` naming both arguments and shapes unless they are equal."""
    if tuple(x.shape) != tuple(y.shape):
        extra = f" {what}" if what else ""
        raise ValueError(
            f"{names[0]} shape {tuple(x.shape)} must equal {names[1]} shape "
            f"{tuple(y.shape)}{extra}"
        )


def check_static_value(condition_fn, value, message: str, error: type[Exception] = ValueError) -> None:
    """Raises ``error(message)`` if ``value`` is concrete and fails ``condition_fn``.

    For an array the message goes on with the first failing value and its
    position. Under ``jax.jit`` a traced value cannot be inspected; the check
    is then skipped, or staged for ``checkify`` when ``jaxnn.checks`` is on.
    """
    if isinstance(value, jax.core.Tracer):
        if checks.enabled():
            checks.staged(condition_fn(value), message)
        return
    host = np.asarray(value)
    ok = np.asarray(condition_fn(host))
    if bool(np.all(ok)):
        return
    if host.ndim:
        position = tuple(int(i) for i in np.argwhere(~ok)[0])
        message = f"{message}; found {host[position]} at position {position}"
    raise error(message)


def same_ndim(arrays: Sequence[jax.Array], names: Sequence[str], what: str = "") -> None:
    """Raises ``ValueError`` listing every shape unless all arrays have the same number of dimensions.

    torch's multi-input losses (margin_ranking, triplet) require equal ranks even
    where the shapes would broadcast; ``what`` prefixes the message (the loss name).
    """
    if len({a.ndim for a in arrays}) > 1:
        shapes = ", ".join(f"{n} {tuple(a.shape)}" for n, a in zip(names, arrays))
        prefix = f"{what}: " if what else ""
        raise ValueError(
            f"{prefix}expected {', '.join(names)} to have the same number of dimensions, got {shapes}"
        )


def broadcast_all(arrays: Sequence[jax.Array], names: Sequence[str]) -> tuple[jax.Array, ...]:
    """Broadcasts the arrays to their common shape, silently as torch's ternary ops do.

    Raises ``ValueError`` naming every argument and shape when they do not broadcast.
    """
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(f"{n} shape {tuple(a.shape)}" for n, a in zip(names, arrays))
        raise ValueError(f"{shapes} cannot be broadcast together") from None
    return tuple(jnp.broadcast_to(a, shape) for a in arrays)


def class_weight(
    weight: Optional[jax.typing.ArrayLike], num_classes: int, what: str = ""
) -> Optional[jax.Array]:
    """A per-class rescaling weight: ``None``, or 1-D of length ``num_classes`` (torch's rule).

    ``what`` prefixes the message (torch says "cross_entropy: " on some paths).
    """
    if weight is None:
        return None
    weight = float_input(weight, "weight")
    if weight.ndim != 1 or weight.shape[0] != num_classes:
        raise ValueError(
            f"{what}weight tensor should be defined either for all {num_classes} classes or no "
            f"classes but got weight tensor of shape: {tuple(weight.shape)}"
        )
    return weight


def broadcasts_to(x: jax.Array, shape: Sequence[int], name: str, target_name: str = "input") -> jax.Array:
    """``x`` broadcast to ``shape``; ``ValueError`` naming both shapes unless it broadcasts *to* it.

    torch's elementwise losses write into an output of the input's shape, so an
    argument that would enlarge the result is an error there too.
    """
    shape = tuple(shape)
    try:
        ok = np.broadcast_shapes(tuple(x.shape), shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} shape {tuple(x.shape)} does not broadcast to {target_name} shape {shape}"
        )
    return jnp.broadcast_to(x, shape)


def describe(x: jax.Array) -> str:
    """``shape (N, C) and dtype float32``: how error messages name an argument."""
    return f"shape {tuple(x.shape)} and dtype {x.dtype}"


def float_result_dtype(*arrays: jax.Array) -> jnp.dtype:
    """torch's result dtype of arithmetic on the arrays: the promotion of the floating ones.

    Integer (or boolean) targets do not widen it.
    """
    return jnp.result_type(*(a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)))
