"""torch.nn.functional's activations with torch's values and autograd subgradients.

Where an activation has a kink, torch's backward picks a side; these functions
are written with ``jnp.where`` so that ``jax.grad`` picks the same one:

=============  ==========================  =========================================
function       kink                        torch's gradient there
=============  ==========================  =========================================
relu           x == 0                      0
relu6          x == 0, x == 6              0 at both (hardtanh: open interval)
hardtanh       x == min_val, x == max_val  0 at both
leaky_relu     x == 0                      negative_slope
prelu          x == 0                      weight
elu            x == 0                      alpha (the negative branch)
softplus       beta * x == threshold       sigmoid(beta * x) (the log branch)
=============  ==========================  =========================================

The unselected branch of every ``where`` is fed a safe input, so a large ``x``
never turns its zero cotangent into ``0 * inf = nan``.
"""

from __future__ import annotations

import warnings
from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _ops
from ._checks import as_array

__all__ = [
    "relu",
    "relu6",
    "leaky_relu",
    "hardtanh",
    "prelu",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
]


def relu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """max(x, 0), gradient 0 at x == 0 (torch's ``threshold_backward``); nan propagates.

    ``inplace`` is accepted for torch compatibility; JAX arrays are immutable.
    """
    return _ops.relu(as_array(input, "input"))


def hardtanh(
    input: ArrayLike, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> jax.Array:
    """clamp(x, min_val, max_val); the gradient is 1 only for min_val < x < max_val (torch).

    Raises:
      ValueError: ``max_val < min_val`` (torch: "max_val cannot be less than min_val").
    """
    if max_val < min_val:
        raise ValueError(f"hardtanh: max_val ({max_val}) cannot be less than min_val ({min_val})")
    x = as_array(input, "input")
    inside = (x > min_val) & (x < max_val)
    clipped = jnp.where(x <= min_val, jnp.asarray(min_val, x.dtype), jnp.asarray(max_val, x.dtype))
    return jnp.where(inside | jnp.isnan(x), x, jax.lax.stop_gradient(clipped))


def relu6(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6), gradient 0 at 0 and at 6 as in torch."""
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input: ArrayLike, negative_slope: float = 0.01, inplace: bool = False) -> jax.Array:
    """x if x > 0 else negative_slope * x; the gradient at 0 is ``negative_slope`` (torch)."""
    x = as_array(input, "input")
    return jnp.where(x > 0, x, x * negative_slope)


def prelu(input: ArrayLike, weight: ArrayLike) -> jax.Array:
    """x if x > 0 else weight * x, ``weight`` shared (1 element) or one per channel (dim 1).

    Args:
      input: ``(N, C, *)``; 0- and 1-D input has one channel (torch).
      weight: 1 element, or ``C`` elements broadcast along dim 1 of ``input``.

    The gradient at x == 0 is ``weight`` w.r.t. x and ``x = 0`` w.r.t. weight, as torch.

    Raises:
      ValueError: ``weight`` has neither 1 nor ``C`` elements.
    """
    x, w = as_array(input, "input"), as_array(weight, "weight")
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be 1-D or a scalar, got shape {w.shape}")
    if w.size != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if w.size != channels:
            raise ValueError(
                f"prelu: weight has {w.size} elements, expected 1 or the number of channels "
                f"{channels} of input shape {x.shape}"
            )
        if x.ndim >= 2:
            w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    else:
        w = w.reshape(())
    return jnp.where(x > 0, x, w * x)


def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """x if x > 0 else alpha * (exp(x) - 1); at x == 0 the gradient is ``alpha`` (torch)."""
    x = as_array(input, "input")
    negative = jnp.where(x > 0, jnp.zeros_like(x), x)
    return jnp.where(x > 0, x, alpha * jnp.expm1(negative))


def gelu(input: ArrayLike, approximate: str = "none") -> jax.Array:
    """x * Phi(x) with the exact erf form (torch's default) or ``approximate='tanh'``.

    Note ``jax.nn.gelu`` defaults to the tanh form; torch defaults to erf.

    Raises:
      ValueError: ``approximate`` not in {'none', 'tanh'}.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return jax.nn.gelu(as_array(input, "input"), approximate=approximate == "tanh")


def silu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """x * sigmoid(x) (swish)."""
    return jax.nn.silu(as_array(input, "input"))


def softplus(input: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (torch).

    The log branch is evaluated as ``logaddexp(beta * x, 0)``, which neither
    overflows nor loses the tail for very negative inputs.
    """
    x = as_array(input, "input")
    scaled = x * beta
    linear = scaled > threshold
    safe = jnp.where(linear, jnp.zeros_like(scaled), scaled)
    return jnp.where(linear, x, jnp.logaddexp(safe, 0.0) / beta)


def sigmoid(input: ArrayLike) -> jax.Array:
    """1 / (1 + exp(-x)); gradient y * (1 - y) as torch's ``sigmoid_backward``."""
    return jax.nn.sigmoid(as_array(input, "input"))


def tanh(input: ArrayLike) -> jax.Array:
    """tanh(x); gradient 1 - y**2 as torch's ``tanh_backward``."""
    return jnp.tanh(as_array(input, "input"))


def _softmax_dim(name: str, ndim: int, dim: Optional[int]) -> int:
    """torch's ``_get_softmax_dim``: an implicit dim is 0 for 0-, 1- and 3-D input, else 1."""
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
        dim = 0 if ndim in (0, 1, 3) else 1
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise ValueError(f"{name}: dim {dim} is out of range for an input with {ndim} dimensions")
    return dim % rank


def _softmax_input(input: ArrayLike, dtype) -> jax.Array:
    x = as_array(input, "input")
    return x.astype(dtype) if dtype is not None else x


def softmax(
    input: ArrayLike, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None
) -> jax.Array:
    """exp(x_i) / sum_j exp(x_j) along ``dim``.

    Args:
      input: any shape.
      dim: the axis to normalise; ``None`` picks torch's deprecated implicit dim
        (0 for 0-, 1- and 3-D input, else 1) and warns.
      dtype: cast the input to this dtype first (torch's ``dtype``).
    """
    x = _softmax_input(input, dtype)
    if x.ndim == 0:
        return jax.nn.softmax(x.reshape(1)).reshape(())
    return jax.nn.softmax(x, axis=_softmax_dim("softmax", x.ndim, dim))


def log_softmax(
    input: ArrayLike, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None
) -> jax.Array:
    """x_i - logsumexp_j(x_j) along ``dim`` (see :func:`softmax` for ``dim`` and ``dtype``)."""
    x = _softmax_input(input, dtype)
    if x.ndim == 0:
        return jax.nn.log_softmax(x.reshape(1)).reshape(())
    return jax.nn.log_softmax(x, axis=_softmax_dim("log_softmax", x.ndim, dim))
