"""Linear, Bilinear and the shape-only layers Identity, Flatten, Unflatten."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module
from ..parameter import Parameter
from ._common import float_dtype, require_rngs, sizes, uniform_fan_in

__all__ = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input; accepts and ignores any arguments, as torch's does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        del args, kwargs

    def __call__(self, input: ArrayLike) -> jax.Array:
        return jnp.asarray(input)


class Linear(Module):
    """y = x W^T + b with torch's layout and initialisation.

    Args:
      in_features, out_features: sizes of the last axis in and out.
      bias: learn an additive bias.
      rngs: ``nnx.Rngs`` for the initial draw.
      dtype: parameter dtype (float32 by default).

    Parameters: ``weight`` ``(out_features, in_features)`` and ``bias``
    ``(out_features,)``, both U(-1/sqrt(in_features), 1/sqrt(in_features)) as
    torch's kaiming-uniform(a=sqrt(5)) default. Input ``(*, in_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        rngs = require_rngs(rngs, "Linear")
        sizes("Linear", in_features=in_features, out_features=out_features)
        dtype = float_dtype(dtype)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(uniform_fan_in(rngs, (out_features, in_features), in_features, dtype))
        self.bias = Parameter(uniform_fan_in(rngs, (out_features,), in_features, dtype)) if bias else None

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: input shape {x.shape} does not end in in_features={self.in_features}"
            )
        return F.linear(x, self.weight[...], self.bias[...] if self.bias is not None else None)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x1^T A_k x2 + b_k.

    Parameters: ``weight`` ``(out_features, in1_features, in2_features)`` and
    ``bias`` ``(out_features,)``, both U(-1/sqrt(in1_features), 1/sqrt(in1_features))
    as torch. Inputs ``(*, in1_features)`` and ``(*, in2_features)`` with the same
    leading shape.
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        rngs = require_rngs(rngs, "Bilinear")
        sizes("Bilinear", in1_features=in1_features, in2_features=in2_features, out_features=out_features)
        dtype = float_dtype(dtype)
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        shape = (out_features, in1_features, in2_features)
        self.weight = Parameter(uniform_fan_in(rngs, shape, in1_features, dtype))
        self.bias = Parameter(uniform_fan_in(rngs, (out_features,), in1_features, dtype)) if bias else None

    def __call__(self, input1: ArrayLike, input2: ArrayLike) -> jax.Array:
        x1, x2 = jnp.asarray(input1), jnp.asarray(input2)
        if x1.shape[:-1] != x2.shape[:-1] or x1.shape[-1:] != (self.in1_features,) or x2.shape[-1:] != (
            self.in2_features,
        ):
            raise ValueError(
                f"Bilinear: input1 {x1.shape} and input2 {x2.shape} must share leading dims and end in "
                f"({self.in1_features},) and ({self.in2_features},)"
            )
        return F.bilinear(x1, x2, self.weight[...], self.bias[...] if self.bias is not None else None)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


def _dim(dim: int, ndim: int, name: str) -> int:
    if not -ndim <= dim < ndim:
        raise ValueError(f"{name}: dim {dim} is out of range for an input with {ndim} dimensions")
    return dim % ndim


class Flatten(Module):
    """Flattens dims ``start_dim..end_dim`` into one (torch's default keeps the batch dim 0)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1, *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        ndim = max(x.ndim, 1)
        start, end = _dim(self.start_dim, ndim, "Flatten"), _dim(self.end_dim, ndim, "Flatten")
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} cannot come after end_dim {self.end_dim}")
        shape = x.shape if x.ndim else (1,)
        return x.reshape(shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size`` (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int], *, rngs: Optional[nnx.Rngs] = None) -> None:
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def __call__(self, input: ArrayLike) -> jax.Array:
        x = jnp.asarray(input)
        dim = _dim(self.dim, x.ndim, "Unflatten")
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
