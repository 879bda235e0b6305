"""Activation layers: thin shells over :mod:`jaxnn.functional.activation`.

Each stores its options and calls the functional form, so values and the
gradients at the kinks are torch's (see that module's table). ``inplace`` is
accepted for torch compatibility and has no effect (JAX arrays are immutable).
Only :class:`PReLU` has a parameter; only :class:`RReLU` is random in training
(its slopes come from the module's own ``rngs`` stream, as Dropout's masks).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..functional._shape_checks import as_array
from ..module import Module
from ..parameter import Parameter
from ._common import float_dtype, rng_stream

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
    "CELU",
    "SELU",
    "GLU",
    "Hardshrink",
    "Softshrink",
    "Hardsigmoid",
    "Hardswish",
    "LogSigmoid",
    "Mish",
    "RReLU",
    "Softmax2d",
    "Softmin",
    "Softsign",
    "Tanhshrink",
    "Threshold",
]


class _Activation(Module):
    """Calls ``_fn(input, **options)`` with the options the subclass stores."""

    _fn: str  # the name of the jaxnn.functional function, set by each subclass
    _options: tuple[str, ...] = ()

    def __call__(self, input: ArrayLike) -> jax.Array:
        fn = getattr(F, type(self)._fn)
        return fn(input, **{name: getattr(self, name) for name in self._options})


class _InplaceActivation(_Activation):
    """An activation whose only torch argument is ``inplace``."""

    def __init__(self, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _PlainActivation(_Activation):
    """An activation without arguments."""

    def __init__(self, *, rngs: Optional[nnx.Rngs] = None) -> None:
        pass


class _DimActivation(_Activation):
    """A normalisation along ``dim`` (``None``: torch's deprecated implicit dim, with a warning)."""

    _options = ("dim",)

    def __init__(self, dim: Optional[int] = None, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class ReLU(_InplaceActivation):
    """max(x, 0); gradient 0 at 0."""

    _fn = "relu"


class SiLU(_InplaceActivation):
    """x * sigmoid(x)."""

    _fn = "silu"


class LeakyReLU(_Activation):
    """x if x > 0 else negative_slope * x; gradient ``negative_slope`` at 0."""

    _fn, _options = "leaky_relu", ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.negative_slope, self.inplace = negative_slope, inplace

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace_str}"


class Hardtanh(_Activation):
    """clamp(x, min_val, max_val); gradient 1 strictly inside, 0 at the bounds."""

    _fn = "hardtanh"
    _options: tuple[str, ...] = ("min_val", "max_val")  # ReLU6 has none

    def __init__(
        self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        if max_val < min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) cannot be less than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace_str}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6), torch's Hardtanh(0, 6) subclass; gradient 0 at 0 and 6."""

    _fn, _options = "relu6", ()

    def __init__(self, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ELU(_Activation):
    """x if x > 0 else alpha * (exp(x) - 1); gradient ``alpha`` at 0."""

    _fn, _options = "elu", ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.alpha, self.inplace = alpha, inplace

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class GELU(_Activation):
    """x * Phi(x), exact erf by default (torch), ``approximate='tanh'`` for the tanh form."""

    _fn, _options = "gelu", ("approximate",)

    def __init__(self, approximate: str = "none", *, rngs: Optional[nnx.Rngs] = None) -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(_Activation):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""

    _fn, _options = "softplus", ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.beta, self.threshold = beta, threshold

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Sigmoid(_PlainActivation):
    """1 / (1 + exp(-x))."""

    _fn = "sigmoid"


class Tanh(_PlainActivation):
    """tanh(x)."""

    _fn = "tanh"


class Softmax(_DimActivation):
    """softmax along ``dim`` (``None``: torch's deprecated implicit dim, with a warning)."""

    _fn = "softmax"


class LogSoftmax(_DimActivation):
    """log_softmax along ``dim``."""

    _fn = "log_softmax"


class SELU(_InplaceActivation):
    """scale * elu(x, alpha) with Klambauer et al.'s constants; gradient ``scale * alpha`` at 0."""

    _fn = "selu"


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3), 0 at +-3."""

    _fn = "hardsigmoid"

    def extra_repr(self) -> str:
        # torch shows no options for this one, inplace or not
        return ""


class Hardswish(_InplaceActivation):
    """x * relu6(x + 3) / 6; gradient 0 at -3 and 1 at 3 (torch's kernel)."""

    _fn = "hardswish"

    def extra_repr(self) -> str:
        # torch shows no options for this one, inplace or not
        return ""


class Mish(_InplaceActivation):
    """x * tanh(softplus(x))."""

    _fn = "mish"


class LogSigmoid(_PlainActivation):
    """log(sigmoid(x)), computed as -softplus(-x)."""

    _fn = "logsigmoid"


class Softsign(_PlainActivation):
    """x / (1 + |x|)."""

    _fn = "softsign"


class Tanhshrink(_PlainActivation):
    """x - tanh(x)."""

    _fn = "tanhshrink"


class CELU(_Activation):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); gradient 1 at 0."""

    _fn, _options = "celu", ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None) -> None:
        if alpha == 0:
            raise ValueError("CELU: alpha cannot be 0")
        self.alpha, self.inplace = alpha, inplace

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class GLU(_Activation):
    """a * sigmoid(b) for the halves a, b of the input along ``dim`` (whose size must be even)."""

    _fn, _options = "glu", ("dim",)

    def __init__(self, dim: int = -1, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardshrink(_Activation):
    """x if |x| > lambd else 0; gradient 0 at +-lambd."""

    _fn, _options = "hardshrink", ("lambd",)

    def __init__(self, lambd: float = 0.5, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.lambd = lambd

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(_Activation):
    """x -+ lambd outside [-lambd, lambd], 0 inside; gradient 0 at +-lambd."""

    _fn, _options = "softshrink", ("lambd",)

    def __init__(self, lambd: float = 0.5, *, rngs: Optional[nnx.Rngs] = None) -> None:
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be greater or equal to 0, but got {lambd}")
        self.lambd = lambd

    def extra_repr(self) -> str:
        return str(self.lambd)


class Threshold(_Activation):
    """x if x > threshold else value; gradient 0 at the threshold."""

    _fn, _options = "threshold", ("threshold", "value")

    def __init__(
        self, threshold: float, value: float, inplace: bool = False, *, rngs: Optional[nnx.Rngs] = None
    ) -> None:
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace_str}"


class Softmin(_DimActivation):
    """softmax(-x) along ``dim``."""

    _fn = "softmin"


class Softmax2d(_PlainActivation):
    """softmax over the channels (dim -3) of ``(N, C, H, W)`` or ``(C, H, W)`` input."""

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = as_array(input, "input")
        if x.ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {x.ndim}D (shape {tuple(x.shape)}) instead"
            )
        return F.softmax(x, -3)


class RReLU(Module):
    """Randomized leaky ReLU: in training the negative slope is drawn per element
    from U(lower, upper) using the module's ``rngs`` stream (``dropout``, the
    stream flax's stochastic layers use, else ``default``); in eval it is the
    fixed ``(lower + upper) / 2``.

    Args:
      lower, upper: the slope's range (``lower <= upper``).
      inplace: accepted for torch compatibility.
      rngs: needed only to run in training mode; forked and kept as Dropout's.

    >>> RReLU(rngs=nnx.Rngs(0)).eval()(jnp.array([-48.0, 2.0]))  # eval: slope (1/8 + 1/3) / 2 = 11/48
    Array([-11.,   2.], dtype=float32)
    """

    def __init__(
        self,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        inplace: bool = False,
        *,
        rngs: Optional[Union[nnx.Rngs, nnx.RngStream]] = None,
    ) -> None:
        if lower > upper:
            raise ValueError(
                f"RReLU: Lower bound should be less than or equal to the upper bound, got lower={lower}, upper={upper}"
            )
        self.lower, self.upper, self.inplace = lower, upper, inplace
        self.rngs = rng_stream(rngs, "dropout")

    def __call__(self, input: ArrayLike) -> jax.Array:
        key = None
        if self.training:
            if self.rngs is None:
                raise ValueError("RReLU in training mode draws random slopes: construct it with rngs=nnx.Rngs(seed)")
            key = self.rngs()
        return F.rrelu(input, self.lower, self.upper, self.training, key=key)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"lower={self.lower}, upper={self.upper}{inplace_str}"


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

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
