"""torch.nn.functional's ``linear`` and ``bilinear``: the affine maps the layers call."""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["linear", "bilinear"]


def linear(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None) -> jax.Array:
    """y = x W^T + b, torch's ``F.linear``.

    Args:
      input: ``(*, in_features)``.
      weight: ``(out_features, in_features)``, or ``(in_features,)`` which gives
        ``(*)`` (torch's 1-D weight: a dot product with the last axis).
      bias: ``(out_features,)`` or anything that broadcasts against the output;
        ``None`` for none.

    Returns ``(*, out_features)`` in the promoted dtype of the operands.

    >>> linear(jnp.ones((2, 3)), jnp.ones((4, 3)), jnp.zeros(4)).shape
    (2, 4)
    """
    x, w = jnp.asarray(input), jnp.asarray(weight)
    if w.ndim not in (1, 2):
        raise ValueError(f"linear: weight must be 1-D or 2-D, got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"linear: input shape {x.shape} cannot be multiplied by weight shape {w.shape} "
            f"(the last dims must agree)"
        )
    y = x @ w.T if w.ndim == 2 else x @ w
    if bias is None:
        return y
    b = jnp.asarray(bias)
    try:
        jnp.broadcast_shapes(b.shape, y.shape)
    except ValueError:
        raise ValueError(f"linear: bias shape {b.shape} does not broadcast to the output shape {y.shape}") from None
    return y + b


def bilinear(
    input1: ArrayLike, input2: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None
) -> jax.Array:
    """y_k = x1^T A_k x2 + b_k, torch's ``F.bilinear``.

    Args:
      input1: ``(*, in1_features)``; input2: ``(*, in2_features)`` with the same
        leading dims.
      weight: ``(out_features, in1_features, in2_features)``.
      bias: ``(out_features,)`` or ``None``.

    Returns ``(*, out_features)``.

    >>> bilinear(jnp.ones((2, 3)), jnp.ones((2, 5)), jnp.ones((4, 3, 5))).shape
    (2, 4)
    """
    x1, x2, w = jnp.asarray(input1), jnp.asarray(input2), jnp.asarray(weight)
    if w.ndim != 3:
        raise ValueError(f"bilinear: weight must be 3-D (out, in1, in2), got shape {w.shape}")
    if x1.ndim == 0 or x1.shape[:-1] != x2.shape[:-1] or x1.shape[-1] != w.shape[1] or x2.shape[-1:] != w.shape[2:]:
        raise ValueError(
            f"bilinear: input1 {x1.shape} and input2 {x2.shape} must share leading dims and end in "
            f"({w.shape[1]},) and ({w.shape[2]},) for weight shape {w.shape}"
        )
    y = jnp.einsum("...i,oij,...j->...o", x1, w, x2)
    if bias is None:
        return y
    b = jnp.asarray(bias)
    if b.shape != (w.shape[0],):
        raise ValueError(f"bilinear: bias shape {b.shape} must be ({w.shape[0]},) for weight shape {w.shape}")
    return y + b
