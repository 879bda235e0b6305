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
celu, selu     x == 0                      the negative branch's (1; scale * alpha)
threshold      x == threshold              0 (the ``value`` branch)
hardshrink     x == +-lambd                0 (the zero branch)
softshrink     x == +-lambd                0 (the zero branch)
hardsigmoid    x == +-3                    0 at both (open interval)
hardswish      x == -3, x == 3             0 at -3, 1 at 3
rrelu          x == 0                      the slope (drawn in training, else mean)
=============  ==========================  =========================================

In-place forms: torch's ``relu_``, ``elu_``, ``celu_``, ``selu_``,
``leaky_relu_``, ``hardtanh_``, ``rrelu_`` and ``threshold_`` mutate their
argument. JAX arrays are immutable, so these names are deliberately not
provided: code that relies on the mutation fails loudly with an
``AttributeError`` instead of silently computing on a stale array. The
``inplace=`` arguments are accepted and ignored; the result is returned.

Random activations (``rrelu`` in training, ``gumbel_softmax``) take an explicit
``key`` keyword (a ``jax.random`` key), JAX's replacement for torch's global RNG.

The unselected branch of every ``where`` is fed a safe input, so a large ``x``
never turns its zero cotangent into ``0 * inf = nan``.
"""

from __future__ import annotations

import warnings
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from . import _ops
from ._shape_checks import as_array, check_static_value
from ._reduction import accumulation_dtype

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
    "threshold",
    "celu",
    "selu",
    "glu",
    "hardshrink",
    "softshrink",
    "hardsigmoid",
    "hardswish",
    "logsigmoid",
    "mish",
    "rrelu",
    "softmin",
    "softsign",
    "tanhshrink",
    "gumbel_softmax",
    "normalize",
    "one_hot",
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


def _elu(x: jax.Array, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> jax.Array:
    """torch's ``elu`` kernel: ``x * scale`` if x > 0 else ``expm1(x * input_scale) * (alpha * scale)``.

    The coefficients are multiplied in Python (double) before meeting ``x``, as
    torch does, so celu/selu round the same way.
    """
    negative = jnp.where(x > 0, jnp.zeros_like(x), x)
    positive = x if scale == 1.0 else x * scale
    return jnp.where(x > 0, positive, jnp.expm1(negative * input_scale) * (alpha * scale))


def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """x if x > 0 else alpha * (exp(x) - 1); at x == 0 the gradient is ``alpha`` (torch)."""
    return _elu(as_array(input, "input"), alpha)


def celu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); gradient 1 at x == 0.

    >>> jnp.round(celu(jnp.array([-1.0, 2.0]), alpha=2.0), 4)  # [2 * (exp(-0.5) - 1), 2]
    Array([-0.7869,  2.    ], dtype=float32)

    Raises:
      ValueError: ``alpha == 0`` (torch: "alpha cannot be 0 for CELU").
    """
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0 for CELU")
    return _elu(as_array(input, "input"), alpha, 1.0, 1.0 / alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with Klambauer et al.'s
    alpha = 1.6732632423543772 and scale = 1.0507009873554805; the gradient at
    x == 0 is ``scale * alpha`` (the negative branch, as torch).

    >>> jnp.round(selu(jnp.array([0.0, 1.0])), 4)  # [0, scale]
    Array([0.    , 1.0507], dtype=float32)
    """
    return _elu(as_array(input, "input"), _SELU_ALPHA, _SELU_SCALE)


def threshold(input: ArrayLike, threshold: float, value: float, inplace: bool = False) -> jax.Array:
    """x if x > threshold else value; the gradient at x == threshold is 0; nan stays nan.

    >>> threshold(jnp.array([0.1, 0.5, 2.0]), 0.5, -1.0)
    Array([-1., -1.,  2.], dtype=float32)
    """
    x = as_array(input, "input")
    return jnp.where(x <= threshold, jnp.asarray(value, x.dtype), x)


def glu(input: ArrayLike, dim: int = -1) -> jax.Array:
    """a * sigmoid(b), where ``a`` and ``b`` are the first and second halves of ``input`` along ``dim``.

    Args:
      input: ``(*, 2N, *)``: ``dim``'s size must be even.
      dim: the axis to halve.

    Returns:
      ``(*, N, *)``.

    >>> glu(jnp.array([1.0, 2.0, 0.0, 0.0]))  # [1, 2] * sigmoid([0, 0])
    Array([0.5, 1. ], dtype=float32)

    Raises:
      ValueError: 0-d input, ``dim`` out of range, or an odd size along ``dim``.
    """
    x = as_array(input, "input")
    if x.ndim == 0:
        raise ValueError("glu does not support scalars because halving size must be even")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"glu: dim {dim} is out of range for an input with {x.ndim} dimensions")
    dim %= x.ndim
    if x.shape[dim] % 2:
        raise ValueError(
            f"glu: Halving dimension must be even, but dimension {dim} is size {x.shape[dim]} "
            f"(input shape {tuple(x.shape)})"
        )
    a, b = jnp.split(x, 2, axis=dim)
    return a * jax.nn.sigmoid(b)


def _check_lambd(name: str, lambd: float) -> None:
    if lambd < 0:
        raise ValueError(f"{name}: lambd must be greater or equal to 0, but got {lambd}")


def hardshrink(input: ArrayLike, lambd: float = 0.5) -> jax.Array:
    """x if |x| > lambd else 0; the gradient at x == +-lambd is 0 (torch).

    >>> hardshrink(jnp.array([-1.0, 0.5, 0.7]))
    Array([-1. ,  0. ,  0.7], dtype=float32)
    """
    x = as_array(input, "input")
    inside = (x >= -lambd) & (x <= lambd)
    return jnp.where(inside, jnp.zeros_like(x), x)


def softshrink(input: ArrayLike, lambd: float = 0.5) -> jax.Array:
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0; gradient 0 at +-lambd.

    >>> softshrink(jnp.array([-1.0, 0.25, 0.75]))
    Array([-0.5 ,  0.  ,  0.25], dtype=float32)

    Raises:
      ValueError: ``lambd < 0`` (torch refuses it).
    """
    _check_lambd("softshrink", lambd)
    x = as_array(input, "input")
    # x * 0 (not a literal 0) keeps nan as torch's kernel does
    return jnp.where(x > lambd, x - lambd, jnp.where(x < -lambd, x + lambd, x * 0))


# torch's hardsigmoid_backward multiplies by the float literal 1.0f / 6.0f, in float64 too
_ONE_SIXTH_F32 = float(np.float32(1.0) / np.float32(6.0))


def hardsigmoid(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """relu6(x + 3) / 6: 0 for x <= -3, 1 for x >= 3; the gradient is 1/6 strictly inside, 0 at +-3.

    The gradient's 1/6 is float32's, in float64 too, as torch's kernel.

    >>> hardsigmoid(jnp.array([-4.0, 0.0, 4.0]))
    Array([0. , 0.5, 1. ], dtype=float32)
    """
    x = as_array(input, "input")
    zero, one = jnp.zeros((), x.dtype), jnp.ones((), x.dtype)
    ramp = jax.lax.stop_gradient((x + 3) / 6) + (x - jax.lax.stop_gradient(x)) * _ONE_SIXTH_F32
    return jnp.where(x <= -3, zero, jnp.where(x >= 3, one, ramp))


def hardswish(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """x * relu6(x + 3) / 6; the gradient is 0 at x == -3 and 1 at x == 3 (torch's kernel).

    >>> hardswish(jnp.array([-4.0, 1.5, 4.0]))  # -4 * 0 is -0; 1.5 * 4.5 / 6
    Array([-0.   ,  1.125,  4.   ], dtype=float32)
    """
    x = as_array(input, "input")
    # x * 0, not 0: torch's x * relu6(x + 3) / 6 is nan at -inf
    return jnp.where(x <= -3, x * 0, jnp.where(x < 3, x * (x + 3) / 6, x))


def logsigmoid(input: ArrayLike) -> jax.Array:
    """log(1 / (1 + exp(-x))) = -softplus(-x), stable for large |x|.

    >>> jnp.round(logsigmoid(jnp.array([0.0])), 4)  # -log(2)
    Array([-0.6931], dtype=float32)
    """
    return jax.nn.log_sigmoid(as_array(input, "input"))


def mish(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """x * tanh(softplus(x)) (Misra 2019), softplus without a threshold as torch's kernel.

    >>> jnp.round(mish(jnp.array([0.0, 2.0])), 4)
    Array([0.   , 1.944], dtype=float32)
    """
    x = as_array(input, "input")
    return x * jnp.tanh(jnp.logaddexp(x, 0.0))


def _check_rrelu_bounds(lower: float, upper: float) -> None:
    if lower > upper:
        raise ValueError(
            f"rrelu: Lower bound should be less than or equal to the upper bound, got lower={lower}, upper={upper}"
        )


def rrelu(
    input: ArrayLike,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    key: Optional[jax.Array] = None,
) -> jax.Array:
    """Randomized leaky ReLU: x if x > 0 else a * x.

    In training ``a ~ U(lower, upper)`` is drawn per element from ``key`` (where
    x <= 0, so x == 0 gets the drawn slope as its gradient); in eval
    ``a = (lower + upper) / 2`` and this is :func:`leaky_relu`.

    Args:
      input: any shape.
      lower, upper: the slope's range.
      training: draw the slopes (needs ``key``).
      key: a ``jax.random`` key, keyword-only (torch draws from its global RNG).

    >>> rrelu(jnp.array([-48.0, 2.0]))  # eval: slope (1/8 + 1/3) / 2 = 11/48
    Array([-11.,   2.], dtype=float32)

    Raises:
      ValueError: ``lower > upper``, or ``training`` without ``key``.
    """
    _check_rrelu_bounds(lower, upper)
    x = as_array(input, "input")
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    if key is None:
        raise ValueError("rrelu: training=True draws random slopes; pass key=jax.random.key(seed)")
    slope = jax.random.uniform(key, x.shape, x.dtype, lower, upper)
    return jnp.where(x > 0, x, x * slope)


def softmin(input: ArrayLike, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None) -> jax.Array:
    """softmax(-x) along ``dim`` (see :func:`softmax` for ``dim`` and ``dtype``).

    >>> jnp.round(softmin(jnp.array([0.0, 1.0, 2.0]), dim=0), 4)
    Array([0.6652, 0.2447, 0.09  ], dtype=float32)
    """
    x = -as_array(input, "input")
    if dtype is not None:
        x = x.astype(dtype)
    if x.ndim == 0:
        return jax.nn.softmax(x.reshape(1)).reshape(())
    return jax.nn.softmax(x, axis=_softmax_dim("softmin", x.ndim, dim))


def softsign(input: ArrayLike) -> jax.Array:
    """x / (1 + |x|); gradient 1 / (1 + |x|)**2 (1 at x == 0).

    >>> softsign(jnp.array([-1.0, 3.0]))
    Array([-0.5 ,  0.75], dtype=float32)
    """
    x = as_array(input, "input")
    return x / (_ops.abs(x) + 1)


def tanhshrink(input: ArrayLike) -> jax.Array:
    """x - tanh(x).

    >>> jnp.round(tanhshrink(jnp.array([0.0, 1.0])), 4)
    Array([0.    , 0.2384], dtype=float32)
    """
    x = as_array(input, "input")
    return x - jnp.tanh(x)


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


def softmax(input: ArrayLike, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None) -> jax.Array:
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


def log_softmax(input: ArrayLike, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None) -> jax.Array:
    """x_i - logsumexp_j(x_j) along ``dim`` (see :func:`softmax` for ``dim`` and ``dtype``)."""
    x = _softmax_input(input, dtype)
    if x.ndim == 0:
        return jax.nn.log_softmax(x.reshape(1)).reshape(())
    return jax.nn.log_softmax(x, axis=_softmax_dim("log_softmax", x.ndim, dim))


def gumbel_softmax(
    logits: ArrayLike,
    tau: float = 1,
    hard: bool = False,
    eps: float = 1e-10,
    dim: int = -1,
    *,
    key: jax.Array,
) -> jax.Array:
    """softmax((logits + g) / tau) along ``dim`` with Gumbel(0, 1) noise ``g`` drawn from ``key``.

    Args:
      logits: unnormalised log-probabilities, any shape.
      tau: the temperature (> 0).
      hard: return the one-hot of the argmax (first on ties) in the forward pass,
        with the soft sample's gradient (straight-through), as torch.
      eps: deprecated in torch and unused; a value other than 1e-10 warns as torch does.
      dim: the axis holding the categories.
      key: a ``jax.random`` key, keyword-only (torch draws from its global RNG).
        The noise is ``-log(E)``, ``E ~ Exponential(1)``, torch's construction;
        the draws are JAX's, so only the distribution matches torch.

    >>> y = gumbel_softmax(jnp.zeros(4), hard=True, key=jax.random.key(0))
    >>> jnp.sort(y)  # one-hot; which category the key picks is JAX's draw
    Array([0., 0., 0., 1.], dtype=float32)
    """
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", UserWarning, stacklevel=2)
    x = as_array(logits, "logits")
    rank = max(x.ndim, 1)
    if not -rank <= dim < rank:
        raise ValueError(f"gumbel_softmax: dim {dim} is out of range for logits with {x.ndim} dimensions")
    gumbels = -jnp.log(jax.random.exponential(key, x.shape, x.dtype))
    y_soft = jax.nn.softmax((x + gumbels) / tau, axis=dim)
    if not hard:
        return y_soft
    index = jnp.argmax(y_soft, axis=dim, keepdims=True)
    positions = jax.lax.broadcasted_iota(jnp.int32, x.shape, dim % rank)
    y_hard = (positions == index).astype(y_soft.dtype)
    return y_hard - jax.lax.stop_gradient(y_soft) + y_soft


def normalize(input: ArrayLike, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: None = None) -> jax.Array:
    """x / max(||x||_p, eps) along ``dim``.

    Args:
      input: any shape with at least ``dim + 1`` dimensions (0-d behaves as 1-element).
      p: the norm's order (any real, +-inf).
      dim: the axis to normalise.
      eps: the floor of the denominator.
      out: torch writes into it; JAX cannot, so only ``None`` is accepted.

    The gradient is torch's: through the norm (0 where it is 0) and through
    ``clamp_min`` (passing at the tie, 0 where the norm is below ``eps``).
    Half precision is computed in float32 and rounded once.

    >>> normalize(jnp.array([[3.0, 4.0]]))
    Array([[0.6, 0.8]], dtype=float32)

    Raises:
      TypeError: ``out`` given. ValueError: ``dim`` out of range.
    """
    if out is not None:
        raise TypeError("normalize: out= cannot be written in JAX (arrays are immutable); use the return value")
    x = as_array(input, "input")
    if x.ndim == 0:
        return normalize(x.reshape(1), p, 0 if dim in (0, -1) else dim, eps).reshape(())
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"normalize: dim {dim} is out of range for an input with {x.ndim} dimensions")
    wide = x.astype(accumulation_dtype(x.dtype))
    norm = _ops.vector_norm(wide, float(p), dim % x.ndim, True)
    # torch clamps a norm of the input's dtype: eps is rounded to it (1e-12 is 0 in float16)
    floor = float(np.asarray(eps, x.dtype))
    return (wide / _ops.clamp_min(norm, floor)).astype(x.dtype)


def one_hot(tensor: ArrayLike, num_classes: int = -1) -> jax.Array:
    """``(*)`` integer class indices -> ``(*, num_classes)`` of 0/1 in the default integer dtype.

    torch returns int64; here that is int64 with ``jax_enable_x64`` and int32
    otherwise. ``num_classes=-1`` means ``max(tensor) + 1`` and needs concrete
    indices (it fixes the output shape), so under ``jax.jit`` pass it explicitly.

    >>> one_hot(jnp.array([0, 2]))
    Array([[1, 0, 0],
           [0, 0, 1]], dtype=int32)

    Raises:
      TypeError: non-integer indices.
      ValueError: a negative index or one >= ``num_classes`` (when concrete);
        ``num_classes=-1`` under tracing; ``num_classes < -1``.
    """
    idx = as_array(tensor, "tensor")
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"one_hot is only applicable to integer index arrays, got dtype {idx.dtype}")
    if num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    if num_classes == -1:
        if isinstance(idx, jax.core.Tracer):
            raise ValueError("one_hot: num_classes=-1 infers the size from the values; under jit pass num_classes")
        if idx.size == 0:
            raise ValueError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(jnp.max(idx)) + 1
    check_static_value(lambda i: i >= 0, idx, "one_hot: Class values must be non-negative.")
    check_static_value(
        lambda i: i < num_classes, idx, f"one_hot: Class values must be smaller than num_classes ({num_classes})."
    )
    dtype = jax.dtypes.canonicalize_dtype(jnp.int64)
    return (idx[..., None] == jnp.arange(num_classes, dtype=idx.dtype)).astype(dtype)
