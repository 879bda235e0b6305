"""torch.nn.utils.fusion: fold an eval-mode BatchNorm into the convolution or linear layer before it.

With running statistics ``mean``, ``var``, affine ``gamma``, ``beta``:
``s = gamma / sqrt(var + eps)``, ``W' = W * s`` (per output channel) and
``b' = (b - mean) * s + beta``, so ``bn(conv(x)) == conv'(x)`` in eval mode.
"""

from __future__ import annotations

from typing import Any, Optional, TypeVar, overload

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ...parameter import FrozenParameter, Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]

M = TypeVar("M", bound=nnx.Module)


@overload
def _array(value: None) -> None: ...
@overload
def _array(value: Any) -> jax.Array: ...
def _array(value: Any) -> Optional[jax.Array]:
    if value is None:
        return None
    return jnp.asarray(value[...] if isinstance(value, nnx.Variable) else value)


def _parameter(source: Any, value: jax.Array) -> nnx.Variable:
    """A parameter holding ``value``, frozen when ``source`` was (torch keeps ``requires_grad``)."""
    return FrozenParameter(value) if isinstance(source, FrozenParameter) else Parameter(value)


def fuse_conv_bn_weights(
    conv_w: ArrayLike,
    conv_b: Optional[ArrayLike],
    bn_rm: ArrayLike,
    bn_rv: ArrayLike,
    bn_eps: float,
    bn_w: Optional[ArrayLike],
    bn_b: Optional[ArrayLike],
    transpose: bool = False,
) -> tuple[nnx.Variable, nnx.Variable]:
    """The fused convolution's ``(weight, bias)`` as parameters (torch's ``fuse_conv_bn_weights``).

    ``conv_w``: ``(out, in/groups, *k)``, or ``(in, out/groups, *k)`` with
    ``transpose=True``; ``conv_b`` ``None`` counts as zeros, ``bn_w`` / ``bn_b``
    ``None`` as ones / zeros. Results keep the conv weight's and bias's dtypes.
    Arrays or variables are accepted.
    """
    w, b, rm, rv = _array(conv_w), _array(conv_b), _array(bn_rm), _array(bn_rv)
    gamma, beta = _array(bn_w), _array(bn_b)
    bias_dtype = b.dtype if b is not None else w.dtype
    b = jnp.zeros_like(rm) if b is None else b
    gamma = jnp.ones_like(rm) if gamma is None else gamma
    beta = jnp.zeros_like(rm) if beta is None else beta
    rsqrt = jax.lax.rsqrt(rv + bn_eps)
    shape = ((1, -1) if transpose else (-1, 1)) + (1,) * (w.ndim - 2)
    fused_w = (w * (gamma * rsqrt).reshape(shape)).astype(w.dtype)
    fused_b = ((b - rm) * rsqrt * gamma + beta).astype(bias_dtype)
    return _parameter(conv_w, fused_w), _parameter(conv_b, fused_b)


def fuse_linear_bn_weights(
    linear_w: ArrayLike,
    linear_b: Optional[ArrayLike],
    bn_rm: ArrayLike,
    bn_rv: ArrayLike,
    bn_eps: float,
    bn_w: ArrayLike,
    bn_b: ArrayLike,
) -> tuple[nnx.Variable, nnx.Variable]:
    """The fused linear layer's ``(weight, bias)`` (torch's ``fuse_linear_bn_weights``);
    ``linear_w`` ``(out, in)``, statistics ``(out,)`` or ``(1,)``."""
    w, b, rm, rv = _array(linear_w), _array(linear_b), _array(bn_rm), _array(bn_rv)
    bias_dtype = b.dtype if b is not None else w.dtype
    b = jnp.zeros_like(rm) if b is None else b
    scale = _array(bn_w) * jax.lax.rsqrt(rv + bn_eps)
    fused_w = w * scale[:, None].astype(w.dtype)
    fused_b = ((b - rm) * scale + _array(bn_b)).astype(bias_dtype)
    return _parameter(linear_w, fused_w), _parameter(linear_b, fused_b)


def _check_eval(layer: Any, bn: Any) -> None:
    if layer.training or bn.training:
        raise ValueError("Fusion only for eval! Call .eval() on both modules first")
    if getattr(bn, "running_mean", None) is None or getattr(bn, "running_var", None) is None:
        raise ValueError("bn.running_mean and bn.running_var must not be None (track_running_stats=True)")


def fuse_conv_bn_eval(conv: M, bn: nnx.Module, transpose: bool = False) -> M:
    """A copy of ``conv`` (eval mode) whose output equals ``bn(conv(x))`` with ``bn`` in
    eval mode (torch's ``fuse_conv_bn_eval``); ``transpose=True`` for a transposed
    convolution. The fused copy always has a bias. Neither input is changed.

    Raises:
      ValueError: either module is in training mode, or ``bn`` keeps no running statistics.
    """
    _check_eval(conv, bn)
    # Duck-typed: any module with torch's attribute names (weight, bias; running_mean, ...).
    layer: Any = conv
    norm: Any = bn
    fused: Any = nnx.clone(conv)
    weight, bias = fuse_conv_bn_weights(
        layer.weight, layer.bias, norm.running_mean, norm.running_var, norm.eps, norm.weight, norm.bias, transpose
    )
    # nnx.data: a conv built with bias=False holds a static None there.
    fused.weight, fused.bias = weight, nnx.data(bias)
    return fused


def fuse_linear_bn_eval(linear: M, bn: nnx.Module) -> M:
    """A copy of ``linear`` (eval mode) whose output equals ``bn(linear(x))`` with ``bn``
    in eval mode (torch's ``fuse_linear_bn_eval``). ``bn.num_features`` must equal
    ``linear.out_features`` or be 1.

    Raises:
      ValueError: training mode, no running statistics, or mismatched features.
    """
    _check_eval(linear, bn)
    # Duck-typed, as in fuse_conv_bn_eval.
    layer: Any = linear
    norm: Any = bn
    if layer.out_features != norm.num_features and norm.num_features != 1:
        raise ValueError(
            "To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
            f"linear.out_features={layer.out_features} and bn.num_features={norm.num_features}"
        )
    fused: Any = nnx.clone(linear)
    weight, bias = fuse_linear_bn_weights(
        layer.weight, layer.bias, norm.running_mean, norm.running_var, norm.eps, norm.weight, norm.bias
    )
    fused.weight, fused.bias = weight, nnx.data(bias)
    return fused
