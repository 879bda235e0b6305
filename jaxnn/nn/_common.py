"""Helpers shared by the layer files: torch's tuple expansion and default init."""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence, Union

import jax
import jax.numpy as jnp
from flax import nnx

from .. import init

IntOrTuple = Union[int, Sequence[int]]


def ntuple(value: IntOrTuple, n: int, name: str) -> tuple[int, ...]:
    """torch's ``_pair`` / ``_single``: an int repeated ``n`` times, or a length-``n`` sequence."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value}")
    return value


def sizes(layer: str, **named: Any) -> None:
    """Each named size must be an integer >= 0 (torch: "Trying to create tensor with negative dimension").

    Checked here so a bad size is named in the error instead of surfacing as an
    MLIR "invalid tensor dimension size" from the initialiser. numpy integers
    are integers; bools and floats are not.
    """
    for name, value in named.items():
        for v in value if isinstance(value, tuple) else (value,):
            try:
                ok = not isinstance(v, bool) and operator.index(v) >= 0
            except TypeError:
                ok = False
            if not ok:
                kind = "non-negative integers" if isinstance(value, tuple) else "a non-negative integer"
                raise ValueError(f"{layer}: {name} must be {kind}, got {value!r}")


def float_dtype(dtype: Any) -> Any:
    """The parameter dtype: torch's default float32 unless ``dtype`` is given."""
    return jnp.dtype(dtype) if dtype is not None else jnp.dtype(jnp.float32)


def require_rngs(rngs: Any, layer: str) -> nnx.Rngs:
    if rngs is None:
        raise TypeError(f"{layer} draws its initial parameters at random: pass rngs=nnx.Rngs(seed)")
    return rngs


def uniform_fan_in(rngs: nnx.Rngs, shape: tuple[int, ...], fan_in: int, dtype: Any) -> jax.Array:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch's default for weights (kaiming-uniform
    with a = sqrt(5)) and biases; a zero fan gives the bound 0 as torch does for biases."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return init.uniform_(rngs.params(), shape, -bound, bound, dtype)


def rng_stream(rngs: Any, name: str) -> Any:
    """The module's own random stream for training-time draws (dropout masks, RReLU slopes).

    ``rngs`` is an ``nnx.Rngs`` (its ``name`` stream, else ``default``), an
    ``nnx.RngStream``, or ``None``; the stream is forked and kept, as flax's
    ``nnx.Dropout`` does, so each call draws afresh and the stream's counter is
    module state that ``nnx.split`` returns with the buffers.
    """
    if isinstance(rngs, nnx.Rngs):
        rngs = getattr(rngs, name)
    return rngs.fork() if rngs is not None else None
