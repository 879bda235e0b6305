"""Activation layers: thin shells over :mod:`jaxnn.functional.activation`.

Each stores its options and calls the functional form, so values and the
gradients at the kinks are torch's (see that module's table). ``inplace`` is
accepted for torch compatibility and has no effect (JAX arrays are immutable).
Only :class:`PReLU` has a parameter.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module
from ..parameter import Parameter
from ._common import float_dtype

__all__ = [
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "Hardtanh",
    "PReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Softplus",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
]


class _Activation(Module):
    """Calls ``_fn(input, **options)`` with the options the subclass stores."""

    _options: tuple[str, ...] = ()

    def __call__(self, input: ArrayLike) -> jax.Array:
        fn = getattr(F, type(self)._fn)
        return fn(input, **{name: getattr(self, name) for name in self._options})


class ReLU(_Activation):
    """max(x, 0); gradient 0 at 0."""

    _fn = "relu"

    def __init__(self, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.inplace = inplace


class ReLU6(ReLU):
    """min(max(x, 0), 6); gradient 0 at 0 and 6."""

    _fn = "relu6"


class SiLU(ReLU):
    """x * sigmoid(x)."""

    _fn = "silu"


class LeakyReLU(_Activation):
    """x if x > 0 else negative_slope * x; gradient ``negative_slope`` at 0."""

    _fn, _options = "leaky_relu", ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.negative_slope, self.inplace = negative_slope, inplace


class Hardtanh(_Activation):
    """clamp(x, min_val, max_val); gradient 1 strictly inside, 0 at the bounds."""

    _fn, _options = "hardtanh", ("min_val", "max_val")

    def __init__(
        self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        if max_val < min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) cannot be less than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace


class ELU(_Activation):
    """x if x > 0 else alpha * (exp(x) - 1); gradient ``alpha`` at 0."""

    _fn, _options = "elu", ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.alpha, self.inplace = alpha, inplace


class GELU(_Activation):
    """x * Phi(x), exact erf by default (torch), ``approximate='tanh'`` for the tanh form."""

    _fn, _options = "gelu", ("approximate",)

    def __init__(self, approximate: str = "none", *, rngs: Optional[nnx.Rngs] = None) -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate


class Softplus(_Activation):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""

    _fn, _options = "softplus", ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.beta, self.threshold = beta, threshold


class Sigmoid(_Activation):
    """1 / (1 + exp(-x))."""

    _fn = "sigmoid"

    def __init__(self, *, rngs: Optional[nnx.Rngs] = None) -> None:
        pass


class Tanh(Sigmoid):
    """tanh(x)."""

    _fn = "tanh"


class Softmax(_Activation):
    """softmax along ``dim`` (``None``: torch's deprecated implicit dim, with a warning)."""

    _fn, _options = "softmax", ("dim",)

    def __init__(self, dim: Optional[int] = None, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.dim = dim


class LogSoftmax(Softmax):
    """log_softmax along ``dim``."""

    _fn = "log_softmax"


class PReLU(Module):
    """x if x > 0 else a * x with a learned ``weight`` a of shape ``(num_parameters,)``,
    initialised to ``init`` (0.25); ``num_parameters`` is 1 or the channel count (dim 1)."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, *, rngs: Optional[nnx.Rngs] = None, dtype: Any = None
    ) -> None:
        self.num_parameters = num_parameters
        self.weight = Parameter(jnp.full((num_parameters,), init, float_dtype(dtype)))

    def __call__(self, input: ArrayLike) -> jax.Array:
        return F.prelu(input, self.weight[...])
