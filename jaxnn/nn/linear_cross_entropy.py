"""LinearCrossEntropyLoss: torch 2.13's LLM-head loss module (its own ``linear``)."""

from __future__ import annotations

import math
from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ..functional.linear_cross_entropy import LinearCrossEntropyOptions, linear_cross_entropy
from ..module import Module
from ..parameter import Buffer
from .linear import Linear

__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]


class LinearCrossEntropyLoss(Module):
    """``cross_entropy(linear(input), target)`` with the projection as a parameter,
    torch's ``nn.LinearCrossEntropyLoss``; see :func:`jaxnn.functional.linear_cross_entropy`.

    Args (torch's): ``in_features``, ``num_classes``, keyword-only
    ``out_features=()`` (a K-dimensional loss), ``bias=False``,
    ``reduction='mean'``, ``weight=None`` (class weights ``(num_classes,)``, a
    buffer with key ``weight``), ``ignore_index=None`` (-100),
    ``label_smoothing=0.0``, ``options=None`` (a
    :class:`LinearCrossEntropyOptions` selects the chunked path); ``rngs``.

    Parameters: ``linear.weight`` ``(num_classes * prod(out_features),
    in_features)`` (and ``linear.bias``), ``Linear``'s default initialisation.

    >>> loss = LinearCrossEntropyLoss(8, 100, rngs=nnx.Rngs(0))
    >>> loss(jnp.ones((4, 8)), jnp.array([1, 2, 3, 4])).shape
    ()
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        reduction: str = "mean",
        weight: Optional[ArrayLike] = None,
        ignore_index: Optional[int] = None,
        label_smoothing: float = 0.0,
        options: Optional[LinearCrossEntropyOptions] = None,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        if weight is not None and tuple(jnp.shape(weight)) != (num_classes,):
            raise ValueError(f"expected weight shape to be {(num_classes,)}, got {tuple(jnp.shape(weight))}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.weight = Buffer(weight) if weight is not None else None
        self.reduction, self.num_classes, self.out_features = reduction, num_classes, tuple(out_features)
        self.ignore_index, self.label_smoothing, self.options = ignore_index, label_smoothing, options
        self.linear = Linear(in_features, math.prod(self.out_features, start=num_classes), bias=bias, rngs=rngs,
                             dtype=dtype)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        w = self.linear.weight[...].reshape(self.num_classes, *self.out_features, self.linear.in_features)
        b = None if self.linear.bias is None else self.linear.bias[...].reshape(self.num_classes, *self.out_features)
        return linear_cross_entropy(
            input,
            w,
            target,
            linear_bias=b,
            weight=None if self.weight is None else self.weight[...],
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
            f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
            f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}, options={self.options}"
        )
