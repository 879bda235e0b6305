"""Probabilistic losses: gaussian_nll, poisson_nll, kl_div (torch.nn.functional's names)."""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from typing import Optional, Union

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy
from jax.typing import ArrayLike

from . import _ops
from ._shape_checks import broadcast_pair, check_static_value, float_input
from ._reduction import REDUCTIONS, accumulation_dtype, apply_reduction, resolve

__all__ = ["gaussian_nll_loss", "poisson_nll_loss", "kl_div"]

_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _clamp_min_straight_through(x: jax.Array, lo: float) -> jax.Array:
    """max(x, lo) (nan kept) whose gradient passes to x everywhere."""
    return jnp.where(x < lo, jnp.asarray(lo, x.dtype), x)


@_clamp_min_straight_through.defjvp
def _clamp_min_straight_through_jvp(lo, primals, tangents):
    # torch clamps var in place under no_grad: autograd never sees the clamp.
    (x,), (t,) = primals, tangents
    return _clamp_min_straight_through(x, lo), t


def _gaussian_var(var, input: jax.Array) -> jax.Array:
    """``var`` validated and shaped as torch's gaussian_nll_loss does, before the clamp."""
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"var has negative entry/entries: var={var}")
        return jnp.asarray(var, input.dtype)
    var = float_input(var, "var")
    check_static_value(
        lambda v: ~(v < 0), var, f"var has negative entry/entries (var shape {tuple(var.shape)})"
    )
    in_shape, var_shape = tuple(input.shape), tuple(var.shape)
    if var_shape == in_shape:
        return var
    if in_shape[:-1] == var_shape:
        return var[..., None]
    if len(in_shape) == len(var_shape) and sum(v for i, v in zip(in_shape, var_shape) if i != v) == 1:
        return var
    raise ValueError(
        f"var is of incorrect size: var shape {var_shape}, input shape {in_shape}; expected "
        "input's shape, input's shape without its last dimension, or input's shape with "
        "one dimension of size 1"
    )


def gaussian_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    var: Union[ArrayLike, float],
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> jax.Array:
    """Gaussian negative log likelihood, ``0.5 * (log(v) + (input - target)**2 / v)``.

    ``v = max(var, eps)``, with the clamp invisible to the gradient (torch clamps
    under ``no_grad``): d/dvar is the derivative at ``v``, passed straight to
    ``var`` even where the clamp is active. ``full=True`` adds
    ``0.5 * log(2 * pi)`` to every element.

    Args:
      input: the Gaussian's means, any shape.
      target: samples; broadcast against ``input`` (no warning, as torch).
      var: the variances, one of
        - a Python float (homoscedastic, no gradient), negative rejected;
        - an array of ``input``'s shape (heteroscedastic);
        - an array of ``input``'s shape without its last dimension
          (unsqueezed to a trailing 1);
        - an array of ``input``'s rank where exactly one dimension differs
          and is 1 in ``var`` (e.g. (N, 1) for (N, D), (B, 1, H, W) for
          (B, C, H, W)).
        Any other shape raises torch's "var is of incorrect size" (a 0-d
        array counts as a shape, as a 0-d tensor does in torch).
      full: add the constant ``0.5 * log(2 * pi)``.
      eps: lower clamp of ``var`` (static).
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      The loss: a scalar, or the broadcast shape of input, target and var with
      ``reduction='none'``. The mean of an empty input is nan.

    Raises:
      ValueError: negative entries in ``var`` when its value is concrete
        (under ``jax.jit``/``jax.grad`` a traced ``var`` cannot be inspected
        and is only clamped), a ``var`` shape torch rejects, a bad
        ``reduction``, shapes that do not broadcast.
      TypeError: integer ``input``/``target``/``var`` arrays.

    Reference: ``torch.nn.functional.gaussian_nll_loss``.

    Example:
      >>> F.gaussian_nll_loss(jnp.zeros(3), jnp.ones(3), var=jnp.ones(3))
      Array(0.5, dtype=float32)
    """
    reduction = resolve(reduction)
    input = float_input(input, "input")
    target = float_input(target, "target")
    var = _gaussian_var(var, input)
    input, target = broadcast_pair(input, target, warn=False)
    var = _clamp_min_straight_through(var, eps)
    loss = 0.5 * (jnp.log(var) + _ops.div((input - target) ** 2, var))
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return apply_reduction(loss, reduction)


def poisson_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    size_average: Optional[bool] = None,
    eps: float = 1e-8,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Poisson negative log likelihood of ``target`` under rate ``input``.

    ``exp(input) - target * input`` with ``log_input=True`` (input is the log
    rate), else ``input - target * log(input + eps)``. ``full=True`` adds the
    Stirling term ``target * log(target) - target + 0.5 * log(2 * pi * target)``
    only where ``target > 1`` (0 elsewhere).

    Args:
      input: log rates (``log_input``) or rates, any shape.
      target: counts; broadcast against ``input`` (no warning, as torch).
      log_input: how ``input`` is read.
      full: add the Stirling approximation of ``log(target!)``.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      eps: added inside the log when ``log_input=False`` (unused otherwise).
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      The loss: a scalar, or the broadcast shape with ``reduction='none'``.
      The mean of an empty input is nan.

    As in torch, with ``full=True`` the gradient w.r.t. ``target`` is nan where
    ``target <= 0`` (the masked Stirling term's ``0 * log(0)``).

    Reference: ``torch.nn.functional.poisson_nll_loss``.

    Example:
      >>> F.poisson_nll_loss(jnp.zeros(2), jnp.ones(2))
      Array(1., dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    x, y = broadcast_pair(float_input(input, "input"), float_input(target, "target"), warn=False)
    if log_input:
        loss = jnp.exp(x) - y * x
    else:
        loss = x - y * jnp.log(x + eps)
    if full:
        stirling = y * jnp.log(y) - y + 0.5 * jnp.log(2 * math.pi * y)
        loss = loss + jnp.where(y <= 1, jnp.zeros_like(stirling), stirling)
    return apply_reduction(loss, reduction)


def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> jax.Array:
    """Pointwise KL divergence ``target * (log(target) - input)``, input in log space.

    With ``log_target=True`` the target is a log-probability too and the
    element is ``exp(target) * (target - input)``. Otherwise the element is
    ``xlogy(target, target) - target * input``, so ``target == 0`` contributes
    exactly 0 and a 0 gradient w.r.t. ``input``; a negative target gives nan.

    Args:
      input: log-probabilities, any shape (batch first for 'batchmean').
      target: probabilities (or log-probabilities), broadcast against
        ``input`` (no warning, as torch).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'batchmean' | 'sum' | 'mean'. 'mean' averages over
        ALL elements (not the KL divergence; torch's ``UserWarning`` is
        repeated); 'batchmean' is the sum divided by ``input.shape[0]``
        (no division for a 0-d input), the true KL per sample.
      log_target: whether ``target`` is given as log-probabilities.

    Returns:
      The loss: a scalar, or the broadcast shape with ``reduction='none'``.
      'mean' of an empty input and 'batchmean' of a zero-size batch are nan.

    The gradient w.r.t. ``target`` where ``target == 0`` is nan, as in torch
    (``d/dt t*log(t)`` is ``-inf`` there; xlogy's rule gives ``-inf + 0/0``).
    When the legacy ``size_average``/``reduce`` are given they pick the
    reduction, and ``reduction='batchmean'`` still divides by the batch size
    afterwards -- torch's quirk, kept.

    Reference: ``torch.nn.functional.kl_div``.

    Example:
      >>> F.kl_div(jnp.log(jnp.array([0.25, 0.75])), jnp.array([0.5, 0.5]), reduction="sum").round(4)
      Array(0.14379999, dtype=float32)
    """
    if size_average is None and reduce is None and reduction == "mean":
        warnings.warn(_KL_MEAN_WARNING, UserWarning, stacklevel=2)
    effective = resolve(reduction, size_average, reduce, allowed=(*REDUCTIONS, "batchmean"))
    if effective == "batchmean":
        effective = "sum"
    input = float_input(input, "input")
    x, y = broadcast_pair(input, float_input(target, "target"), warn=False)
    if log_target:
        loss = jnp.exp(y) * (y - x)
    else:
        loss = xlogy(y, y) - y * x
    out = apply_reduction(loss, effective)
    if reduction == "batchmean" and input.ndim != 0:
        # divide by the exact batch size: in bf16 the size itself could round
        acc = accumulation_dtype(out.dtype)
        out = (out.astype(acc) / input.shape[0]).astype(out.dtype)
    return out
