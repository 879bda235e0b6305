"""The op table of :func:`jaxnn.from_torch`: torch functions and Tensor methods -> JAX.

An fx graph records what a torch ``forward`` does as ``call_function`` nodes
(``torch.cat``, ``operator.add``, ``F.relu``) and ``call_method`` nodes
(``x.view(...)``, ``x.permute(...)``). Each entry here takes the same arguments
as the torch callable, with JAX arrays where torch has tensors, and returns what
torch returns. ``torch.nn.functional.<name>`` not listed here is looked up as
``jaxnn.functional.<name>`` (same signature by contract), so functional ops
that land in jaxnn convert with no entry.

To add an op: write ``def _impl(<torch's arguments>)`` below and register it
with ``FUNCTIONS[torch.<name>] = _impl`` or ``METHODS["<name>"] = _impl``; the
list in ``docs/interop.md`` comes from :func:`supported_ops`.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as TF

from .. import functional as JF

__all__ = ["FUNCTIONS", "METHODS", "to_jax_dtype", "lookup_function", "torch_name", "supported_ops"]


_DTYPES = {
    torch.float16: jnp.float16,
    torch.bfloat16: jnp.bfloat16,
    torch.float32: jnp.float32,
    torch.float64: jnp.float64,
    torch.int8: jnp.int8,
    torch.int16: jnp.int16,
    torch.int32: jnp.int32,
    torch.int64: jnp.int64,
    torch.uint8: jnp.uint8,
    torch.bool: jnp.bool_,
    torch.complex64: jnp.complex64,
    torch.complex128: jnp.complex128,
}


def to_jax_dtype(dtype: torch.dtype) -> Any:
    """JAX's dtype for a torch dtype (int64/float64 need ``jax_enable_x64``, as ever in JAX)."""
    if dtype not in _DTYPES:
        raise TypeError(f"from_torch: torch dtype {dtype} has no JAX counterpart")
    return _DTYPES[dtype]


def _axes(dims: Sequence[Any]) -> tuple[int, ...]:
    # torch takes both x.permute(0, 2, 1) and x.permute((0, 2, 1)).
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return tuple(dims)


def _reduce_dim(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def _cast(x: jax.Array, dtype: Optional[torch.dtype]) -> jax.Array:
    return x if dtype is None else x.astype(to_jax_dtype(dtype))


def _add(input, other, *, alpha=1, out=None):
    return input + (other if alpha == 1 else alpha * other)


def _sub(input, other, *, alpha=1, out=None):
    return input - (other if alpha == 1 else alpha * other)


def _mul(input, other, *, out=None):
    return input * other


def _div(input, other, *, rounding_mode=None, out=None):
    q = jnp.true_divide(input, other)
    if rounding_mode is None:
        return q
    if rounding_mode == "trunc":
        return jnp.trunc(q).astype(jnp.result_type(input, other))
    if rounding_mode == "floor":
        return jnp.floor_divide(input, other)
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


def _clamp(input, min=None, max=None, *, out=None):
    x = jnp.asarray(input)
    # torch passes the gradient where min <= x <= max (both ends inclusive);
    # jnp.clip's max/min would split it 0.5/0.5 at the bounds.
    inside = jnp.ones(x.shape, bool)
    y = x
    if min is not None:
        inside = inside & (x >= min)
        y = jnp.where(x < min, jnp.asarray(min, x.dtype), y)
    if max is not None:
        inside = inside & (x <= max)
        y = jnp.where(x > max, jnp.asarray(max, x.dtype), y)
    return jnp.where(inside, x, jax.lax.stop_gradient(y))


def _flatten(input, start_dim=0, end_dim=-1):
    x = jnp.asarray(input)
    if x.ndim == 0:
        return x.reshape(1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:start] + (math.prod(x.shape[start : end + 1]),) + x.shape[end + 1 :])


def _unflatten(input, dim, sizes):
    x = jnp.asarray(input)
    dim = dim % x.ndim
    return x.reshape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1 :])


def _reshape(input, *shape):
    return jnp.reshape(input, _axes(shape))


def _permute(input, *dims):
    return jnp.transpose(input, _axes(dims))


def _transpose(input, dim0, dim1):
    return jnp.swapaxes(input, dim0, dim1)


def _t(input):
    x = jnp.asarray(input)
    return x if x.ndim < 2 else x.T


def _squeeze(input, dim=None):
    x = jnp.asarray(input)
    if dim is None:
        return jnp.squeeze(x)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    # torch leaves a named dim whose size is not 1 alone; jnp.squeeze raises.
    keep = tuple(d % max(x.ndim, 1) for d in dims if x.ndim and x.shape[d] == 1)
    return jnp.squeeze(x, keep) if keep else x


def _unsqueeze(input, dim):
    return jnp.expand_dims(input, dim)


def _cat(tensors, dim=0, *, out=None):
    return jnp.concatenate([jnp.asarray(t) for t in tensors], axis=dim)


def _stack(tensors, dim=0, *, out=None):
    return jnp.stack([jnp.asarray(t) for t in tensors], axis=dim)


def _chunk(input, chunks, dim=0):
    x = jnp.asarray(input)
    size = -(-x.shape[dim] // chunks)
    return _split(x, size, dim)


def _split(tensor, split_size_or_sections, dim=0):
    x = jnp.asarray(tensor)
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
    bounds = np.cumsum(sizes)[:-1].tolist()
    return tuple(jnp.split(x, bounds, axis=dim))


def _unbind(input, dim=0):
    x = jnp.asarray(input)
    return tuple(jnp.moveaxis(x, dim, 0))


def _narrow(input, dim, start, length):
    return jax.lax.slice_in_dim(input, start, start + length, axis=dim)


def _mean(input, dim=None, keepdim=False, *, dtype=None):
    return jnp.mean(_cast(jnp.asarray(input), dtype), axis=_reduce_dim(dim), keepdims=keepdim)


def _sum(input, dim=None, keepdim=False, *, dtype=None):
    return jnp.sum(_cast(jnp.asarray(input), dtype), axis=_reduce_dim(dim), keepdims=keepdim)


def _softmax(input, dim=None, dtype=None, **_):
    return JF.softmax(input, dim, dtype=dtype)


def _log_softmax(input, dim=None, dtype=None, **_):
    return JF.log_softmax(input, dim, dtype=dtype)


def _expand(input, *sizes):
    x = jnp.asarray(input)
    sizes = _axes(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return jnp.broadcast_to(x, shape)


def _repeat(input, *sizes):
    return jnp.tile(input, _axes(sizes))


def _size(input, dim=None):
    shape = jnp.shape(input)
    return tuple(shape) if dim is None else shape[dim]


def _to(input, *args, **kwargs):
    x = jnp.asarray(input)
    for value in (*args, kwargs.get("dtype")):
        if isinstance(value, torch.dtype):
            return x.astype(to_jax_dtype(value))
        if isinstance(value, jax.Array):
            return x.astype(value.dtype)
    return x


def _type_as(input, other):
    return jnp.asarray(input).astype(jnp.asarray(other).dtype)


def _masked_fill(input, mask, value):
    x = jnp.asarray(input)
    return jnp.where(mask, jnp.asarray(value, x.dtype), x)


def _matmul(input, other, *, out=None):
    return jnp.matmul(input, other)


def _assert(condition, message):
    # fx keeps torch._assert as a call; its condition is a Python bool or a
    # concrete array here (shapes are static), so check it as torch would.
    if not isinstance(condition, jax.core.Tracer) and not bool(condition):
        raise AssertionError(message)


def _dropout(input, p=0.5, training=True, inplace=False):
    if not training or p == 0:
        return jnp.asarray(input)
    raise NotImplementedError(
        "F.dropout with training=True inside a traced forward has no random stream to draw from; "
        "use an nn.Dropout module (it converts to jaxnn.Dropout with its rngs)"
    )


def _layer_backed(layer: str) -> Callable:
    """A functional op computed by the jaxnn layer of the same family, until its
    function lands in jaxnn.functional."""

    def impl(input, *args, **kwargs):
        import jaxnn

        return getattr(jaxnn, layer)(*args, **kwargs)(input)

    impl.__name__ = f"{layer}-backed"
    return impl


def _elementwise(fn: Callable) -> Callable:
    def impl(input, *args, out=None, **kwargs):
        return fn(input, *args, **kwargs)

    impl.__name__ = fn.__name__
    return impl


FUNCTIONS: dict[Any, Callable] = {
    # Python operators on tensors and on shape ints (x.shape[0] * 2).
    operator.add: operator.add,
    operator.sub: operator.sub,
    operator.mul: operator.mul,
    operator.truediv: operator.truediv,
    operator.floordiv: operator.floordiv,
    operator.mod: operator.mod,
    operator.pow: operator.pow,
    operator.matmul: operator.matmul,
    operator.neg: operator.neg,
    operator.pos: operator.pos,
    operator.eq: operator.eq,
    operator.ne: operator.ne,
    operator.lt: operator.lt,
    operator.le: operator.le,
    operator.gt: operator.gt,
    operator.ge: operator.ge,
    operator.and_: operator.and_,
    operator.or_: operator.or_,
    operator.invert: operator.invert,
    operator.getitem: operator.getitem,
    builtins.getattr: builtins.getattr,
    torch._assert: _assert,
    torch.add: _add,
    torch.sub: _sub,
    torch.mul: _mul,
    torch.div: _div,
    torch.matmul: _matmul,
    torch.bmm: _matmul,
    torch.mm: _matmul,
    torch.einsum: lambda equation, *operands: jnp.einsum(equation, *_axes(operands)),
    torch.neg: _elementwise(jnp.negative),
    torch.abs: _elementwise(jnp.abs),
    torch.exp: _elementwise(jnp.exp),
    torch.log: _elementwise(jnp.log),
    torch.sqrt: _elementwise(jnp.sqrt),
    torch.rsqrt: _elementwise(jax.lax.rsqrt),
    torch.sin: _elementwise(jnp.sin),
    torch.cos: _elementwise(jnp.cos),
    torch.erf: _elementwise(jax.scipy.special.erf),
    torch.pow: _elementwise(jnp.power),
    torch.tanh: lambda input, *, out=None: JF.tanh(input),
    torch.sigmoid: lambda input, *, out=None: JF.sigmoid(input),
    torch.relu: lambda input: JF.relu(input),
    torch.clamp: _clamp,
    torch.clip: _clamp,
    torch.where: lambda condition, input, other: jnp.where(condition, input, other),
    torch.cat: _cat,
    torch.concat: _cat,
    torch.stack: _stack,
    torch.flatten: _flatten,
    torch.reshape: _reshape,
    torch.permute: _permute,
    torch.transpose: _transpose,
    torch.squeeze: _squeeze,
    torch.unsqueeze: _unsqueeze,
    torch.chunk: _chunk,
    torch.split: _split,
    torch.unbind: _unbind,
    torch.narrow: _narrow,
    torch.mean: _mean,
    torch.sum: _sum,
    torch.softmax: _softmax,
    torch.log_softmax: _log_softmax,
    torch.zeros_like: lambda input, *, dtype=None, **_: jnp.zeros_like(_cast(jnp.asarray(input), dtype)),
    torch.ones_like: lambda input, *, dtype=None, **_: jnp.ones_like(_cast(jnp.asarray(input), dtype)),
    TF.dropout: _dropout,
    TF.adaptive_avg_pool1d: _layer_backed("AdaptiveAvgPool1d"),
    TF.adaptive_avg_pool2d: _layer_backed("AdaptiveAvgPool2d"),
}

METHODS: dict[str, Callable] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "div": _div,
    "matmul": _matmul,
    "pow": _elementwise(jnp.power),
    "neg": _elementwise(jnp.negative),
    "abs": _elementwise(jnp.abs),
    "exp": _elementwise(jnp.exp),
    "log": _elementwise(jnp.log),
    "sqrt": _elementwise(jnp.sqrt),
    "rsqrt": _elementwise(jax.lax.rsqrt),
    "tanh": lambda input: JF.tanh(input),
    "sigmoid": lambda input: JF.sigmoid(input),
    "relu": lambda input: JF.relu(input),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "clamp": _clamp,
    "clip": _clamp,
    "masked_fill": _masked_fill,
    "view": _reshape,
    "reshape": _reshape,
    "view_as": lambda input, other: jnp.reshape(input, jnp.shape(other)),
    "reshape_as": lambda input, other: jnp.reshape(input, jnp.shape(other)),
    "flatten": _flatten,
    "unflatten": _unflatten,
    "permute": _permute,
    "transpose": _transpose,
    "t": _t,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "expand": _expand,
    "expand_as": lambda input, other: jnp.broadcast_to(input, jnp.shape(other)),
    "repeat": _repeat,
    "chunk": _chunk,
    "split": _split,
    "unbind": _unbind,
    "narrow": _narrow,
    "mean": _mean,
    "sum": _sum,
    "size": _size,
    "dim": lambda input: jnp.ndim(input),
    "numel": lambda input: int(np.prod(jnp.shape(input))),
    "contiguous": lambda input, memory_format=None: input,
    "clone": lambda input, memory_format=None: input,
    "detach": lambda input: jax.lax.stop_gradient(input),
    "to": _to,
    "type_as": _type_as,
    "float": lambda input, memory_format=None: jnp.asarray(input, jnp.float32),
    "double": lambda input, memory_format=None: jnp.asarray(input, jnp.float64),
    "half": lambda input, memory_format=None: jnp.asarray(input, jnp.float16),
    "bfloat16": lambda input, memory_format=None: jnp.asarray(input, jnp.bfloat16),
}


def lookup_function(target: Any) -> Optional[Callable]:
    """The JAX implementation of a torch callable, or ``None`` when it has none."""
    name = getattr(target, "__name__", "")
    if getattr(TF, name, None) is target and hasattr(JF, name):
        return getattr(JF, name)
    try:
        return FUNCTIONS.get(target)
    except TypeError:
        return None


def torch_name(target: Any) -> str:
    """The dotted name a torch callable is known by (``torch.cat``, ``operator.add``)."""
    name = getattr(target, "__name__", "")
    if getattr(TF, name, None) is target:
        return f"torch.nn.functional.{name}"
    module = getattr(target, "__module__", None) or "torch"
    if module in ("_operator", "operator"):
        return f"operator.{target.__name__}"
    if module == "builtins":
        return target.__name__
    return f"torch.{target.__name__}"


def supported_ops() -> dict[str, list[str]]:
    """``{"functions": [...], "methods": [...], "functional": [...]}``: what the
    converter runs, generated from the table (``functional`` are the
    ``torch.nn.functional`` names served by ``jaxnn.functional``)."""
    functional = sorted(
        name
        for name in dir(JF)
        if not name.startswith("_") and callable(getattr(JF, name)) and callable(getattr(TF, name, None))
    )
    return {
        "functions": sorted(torch_name(t) for t in FUNCTIONS),
        "methods": sorted(f"Tensor.{name}" for name in METHODS),
        "functional": [f"torch.nn.functional.{name}" for name in functional],
    }


def markdown() -> str:
    """The supported-ops section of ``docs/interop.md``, generated from the table."""
    ops = supported_ops()
    titles = {
        "functions": "Functions (`call_function` nodes)",
        "methods": "Tensor methods (`call_method` nodes)",
        "functional": "`torch.nn.functional` served by `jaxnn.functional` (grows as jaxnn does)",
    }
    parts = []
    for key, title in titles.items():
        parts.append(f"### {title}\n\n" + ", ".join(f"`{name}`" for name in ops[key]) + "\n")
    return "\n".join(parts)
