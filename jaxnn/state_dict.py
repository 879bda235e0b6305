"""torch's ``state_dict`` / ``load_state_dict`` / ``named_parameters`` for nnx models.

Names are torch's dotted paths: attribute names joined by ".", container
children by their key ("0.weight", "blocks.2.bias", "bn.running_mean"). Within
a module, parameters come first, then buffers, then the children, as torch
orders them. What counts:

* parameters: :class:`jaxnn.Parameter` (any ``nnx.Param``) and
  :class:`jaxnn.FrozenParameter` (torch's ``requires_grad=False`` parameters are
  still parameters, and still in the state dict);
* buffers: :class:`jaxnn.Buffer` and any other ``nnx.Variable`` (flax's
  ``BatchStat``), except rng state (dropout's key and counter), which torch has
  no counterpart for.

Order: torch's (assignment order in ``__init__``), also after ``nnx.merge`` or
an ``nnx.jit`` write-back, which rebuild a module's ``__dict__`` sorted: the
order is read from flax's per-module node table, which keeps it (containers
use their own index / insertion order). Loading never depends on the order.

Buffers registered with ``persistent=False`` (``Module.register_buffer``) are
buffers for :func:`named_buffers` but stay out of the state dict, as in torch.

Arrays leave as numpy arrays in their own dtype, except buffers created with
``torch_dtype`` metadata (BatchNorm's ``num_batches_tracked``: int32 in JAX
without x64, int64 in torch), which leave in that dtype.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Optional, Union

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._torch_habits import is_torch, reject_torch_module
from .parameter import FrozenParameter

__all__ = [
    "state_dict",
    "load_state_dict",
    "save_state_dict",
    "named_parameters",
    "parameters",
    "named_buffers",
    "buffers",
    "named_modules",
    "num_parameters",
    "StateDictError",
    "IncompatibleKeys",
]


class StateDictError(RuntimeError, ValueError):
    """A state dict that does not fit the model: torch raises ``RuntimeError``; this is
    also a ``ValueError``, jaxnn's error for bad input, so either ``except`` catches it."""


class IncompatibleKeys(NamedTuple):
    """torch's ``_IncompatibleKeys``: what ``load_state_dict(strict=False)`` returns."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _is_parameter(variable: nnx.Variable) -> bool:
    return isinstance(variable, (nnx.Param, FrozenParameter))


def ordered_members(module: Any) -> list[tuple[str, Any]]:
    """(attribute name, value) of a module's attributes in torch's registration order."""
    members = [(name, value) for name, value in vars(module).items() if not name.startswith("_pytree__")]
    # Containers know their torch order; nnx.merge rebuilds attributes in sorted order.
    order = getattr(module, "_keys", None)
    if isinstance(module, nnx.List):
        order = tuple(str(i) for i in range(len(module)))
    if order is None:
        # nnx.merge / an nnx.jit write-back rebuild __dict__ in sorted order; flax's
        # node table keeps the order of assignment in __init__ (torch's registration order).
        nodes = vars(module).get("_pytree__nodes")
        if isinstance(nodes, Mapping):
            order = tuple(nodes)
    if order is not None:
        rank = {key: i for i, key in enumerate(order)}
        members.sort(key=lambda item: rank.get(item[0], -1))
    return members


def _named_variables(
    module: Any, prefix: str = "", recurse: bool = True
) -> Iterator[tuple[str, nnx.Variable]]:
    """(torch name, variable) of every parameter and buffer, torch's order, duplicates kept."""
    members = ordered_members(module)
    variables = [
        (name, v) for name, v in members if isinstance(v, nnx.Variable) and not isinstance(v, nnx.RngState)
    ]
    for name, variable in sorted(variables, key=lambda item: not _is_parameter(item[1])):
        yield prefix + name, variable
    if recurse:
        for name, child in members:
            if isinstance(child, nnx.Module):
                yield from _named_variables(child, f"{prefix}{name}.")


def _persistent(variable: nnx.Variable) -> bool:
    """``register_buffer(..., persistent=False)`` buffers stay out of the state dict, as in torch."""
    return variable.get_metadata().get("persistent", True)


def _export(variable: nnx.Variable) -> np.ndarray:
    array = np.array(variable[...])
    torch_dtype = variable.get_metadata().get("torch_dtype")
    return array.astype(torch_dtype) if torch_dtype is not None else array


def state_dict(model: nnx.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """torch's ``model.state_dict()``: every parameter (frozen too) and buffer by torch key.

    Args:
      model: a :class:`jaxnn.Module` or any ``nnx.Module``.
      prefix: prepended to every key (torch's ``prefix``).

    Returns:
      ``{key: numpy array}`` (copies), in torch's order. A variable shared by two
      modules appears under both keys, as in torch.

    Example:
      >>> {k: v.shape for k, v in state_dict(jaxnn.Linear(2, 3, rngs=nnx.Rngs(0))).items()}
      {'weight': (3, 2), 'bias': (3,)}
    """
    reject_torch_module(model, "model", "jaxnn.state_dict")
    return {name: _export(v) for name, v in _named_variables(model, prefix) if _persistent(v)}


def _dotted(prefix: str) -> str:
    """torch's ``named_parameters(prefix="m")`` joins with a dot (``state_dict``'s prefix does not)."""
    return prefix + "." if prefix and not prefix.endswith(".") else prefix


def named_parameters(
    model: nnx.Module, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
) -> Iterator[tuple[str, Any]]:
    """torch's ``named_parameters()``: ``(name, array)`` of each parameter once
    (shared ones under their first name; every name with ``remove_duplicate=False``),
    frozen parameters included as in torch; ``recurse=False``: the module's own only.
    ``prefix="m"`` names them ``"m.weight"``, as torch.

    Example:
      >>> [(name, p.shape) for name, p in named_parameters(jaxnn.Linear(2, 3, rngs=nnx.Rngs(0)))]
      [('weight', (3, 2)), ('bias', (3,))]
    """
    seen: set[int] = set()
    for name, variable in _named_variables(model, _dotted(prefix), recurse):
        if _is_parameter(variable) and (not remove_duplicate or id(variable) not in seen):
            seen.add(id(variable))
            yield name, variable[...]


def parameters(model: nnx.Module, recurse: bool = True) -> Iterator[Any]:
    """torch's ``parameters()``: the arrays of :func:`named_parameters`."""
    return (array for _, array in named_parameters(model, recurse=recurse))


def named_buffers(
    model: nnx.Module, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
) -> Iterator[tuple[str, Any]]:
    """torch's ``named_buffers()``: ``(name, array)`` of each buffer (non-persistent ones
    too, as torch), in torch's order; rng state is not a buffer."""
    seen: set[int] = set()
    for name, variable in _named_variables(model, _dotted(prefix), recurse):
        if not _is_parameter(variable) and (not remove_duplicate or id(variable) not in seen):
            seen.add(id(variable))
            yield name, variable[...]


def buffers(model: nnx.Module, recurse: bool = True) -> Iterator[Any]:
    """torch's ``buffers()``: the arrays of :func:`named_buffers`."""
    return (array for _, array in named_buffers(model, recurse=recurse))


def named_modules(
    model: Any, memo: Optional[set[int]] = None, prefix: str = "", remove_duplicate: bool = True
) -> Iterator[tuple[str, Any]]:
    """torch's ``named_modules()``: ``(dotted name, module)`` of the model ("") and every
    submodule, depth first in registration order; a shared module once unless
    ``remove_duplicate=False``."""
    if memo is None:
        memo = set()
    if remove_duplicate:
        if id(model) in memo:
            return
        memo.add(id(model))
    yield prefix, model
    for name, child in ordered_members(model):
        if isinstance(child, nnx.Module):
            yield from named_modules(child, memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)


def _materialize_lazy(model: nnx.Module, state_dict: Mapping[str, Any]) -> None:
    """Lazy modules that have not seen an input take their shapes from the state dict,
    as torch's lazy load hook materialises them before copying."""
    for name, module in list(named_modules(model)):
        materialize = getattr(module, "_materialize_from_state", None)
        if materialize is not None:
            materialize(f"{name}." if name else "", state_dict)


def num_parameters(model: nnx.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements, ``sum(p.numel() for p in model.parameters())``;
    ``trainable_only`` drops frozen parameters (torch's ``if p.requires_grad``).

    Example:
      >>> num_parameters(jaxnn.Linear(2, 3, rngs=nnx.Rngs(0)))
      9
    """
    seen: set[int] = set()
    total = 0
    for _, variable in _named_variables(model):
        if _is_parameter(variable) and id(variable) not in seen:
            seen.add(id(variable))
            if not (trainable_only and isinstance(variable, FrozenParameter)):
                total += int(np.size(variable[...]))
    return total


def _as_numpy(value: Any) -> np.ndarray:
    """A numpy copy of ``value``: never a view of the caller's memory.

    ``tensor.numpy()`` shares the tensor's storage and ``jnp.asarray`` of an
    aligned numpy array may share it too (zero-copy on CPU), so without the copy
    an in-place torch update after loading (``optimizer.step()``, ``add_``)
    would silently change the jaxnn model's arrays.
    """
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.array(value, copy=True)


def load_state_dict(
    model: nnx.Module,
    source: Union[Mapping[str, Any], str, "os.PathLike[str]"],
    strict: bool = True,
    *,
    strip_prefix: Optional[str] = None,
    key_map: Union[Mapping[str, str], Callable[[str], str], None] = None,
) -> IncompatibleKeys:
    """torch's ``model.load_state_dict(state_dict, strict)``, in place.

    Args:
      model: the model to fill.
      source: ``{torch key: array}`` (numpy arrays, JAX arrays or torch tensors,
        e.g. ``torch_model.state_dict()``), or the path of a ``.safetensors`` or
        torch ``.pt``/``.pth``/``.bin`` file (read with ``torch.load(weights_only=True)``,
        which never unpickles code). Each value is copied and cast to the dtype
        of the variable it replaces, as torch's ``copy_`` does.
      strict: missing or unexpected keys are an error.
      strip_prefix: removed from the keys that start with it (``"module."`` of
        a DDP checkpoint, ``"_orig_mod."`` of a compiled model).
      key_map: then renames keys, ``{old: new}`` or a function of the key.

    Returns:
      ``IncompatibleKeys(missing_keys, unexpected_keys)``.

    Raises:
      StateDictError (a ``RuntimeError`` and ``ValueError``): listing every missing
        and unexpected key when ``strict``, and every shape mismatch in any case
        (as torch). Nothing is loaded when it raises.

    Example:
      >>> model = jaxnn.Linear(2, 3, rngs=nnx.Rngs(0))
      >>> load_state_dict(model, {"weight": np.ones((3, 2)), "bias": np.zeros(3)})
      IncompatibleKeys(missing_keys=[], unexpected_keys=[])
      >>> model(jnp.ones(2))
      Array([2., 2., 2.], dtype=float32)
    """
    from .interop.io import read_state_dict, rename_keys

    reject_torch_module(model, "model", "jaxnn.load_state_dict")
    if is_torch(source) and hasattr(source, "state_dict"):
        raise TypeError(
            f"jaxnn.load_state_dict: source is a torch module ({type(source).__name__}); "
            "pass its weights, source=torch_model.state_dict()"
        )
    state_dict = read_state_dict(source) if isinstance(source, (str, os.PathLike)) else source
    if strip_prefix is not None or key_map is not None:
        state_dict = rename_keys(state_dict, strip_prefix, key_map)
    _materialize_lazy(model, state_dict)
    targets = {k: v for k, v in _named_variables(model) if _persistent(v)}
    missing = [k for k in targets if k not in state_dict]
    unexpected = [k for k in state_dict if k not in targets]
    errors, updates = [], []
    if strict and unexpected:
        errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
    if strict and missing:
        errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
    for key, variable in targets.items():
        if key not in state_dict:
            continue
        value = _as_numpy(state_dict[key])
        current = variable[...]
        if value.shape != current.shape:
            errors.append(
                f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, "
                f"the shape in current model is {current.shape}."
            )
            continue
        # A copy: jnp.asarray may alias a numpy (or torch) buffer on CPU, and the caller may
        # go on to change that tensor in place (an optimizer step).
        updates.append((variable, jnp.array(value, current.dtype, copy=True)))
    if errors:
        raise StateDictError(
            f"Error(s) in loading state_dict for {type(model).__name__}:\n\t" + "\n\t".join(errors)
        )
    for variable, new in updates:
        variable[...] = new
    return IncompatibleKeys(missing, unexpected)


def save_state_dict(
    model: nnx.Module, path: Union[str, "os.PathLike[str]"], *, metadata: Optional[Mapping[str, str]] = None
) -> None:
    """Writes :func:`state_dict` of ``model`` to ``path``: ``.safetensors`` (needs the
    ``safetensors`` package), or a torch ``.pt``/``.pth``/``.bin`` when torch is installed.

    Either file loads into the torch twin: ``torch_model.load_state_dict(
    safetensors.torch.load_file(path))`` or ``torch.load(path, weights_only=True)``.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "linear.safetensors")
      >>> save_state_dict(jaxnn.Linear(2, 3, rngs=nnx.Rngs(0)), path)
      >>> load_state_dict(jaxnn.Linear(2, 3, rngs=nnx.Rngs(1)), path)
      IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    """
    from .interop.io import write_state_dict

    reject_torch_module(model, "model", "jaxnn.save_state_dict")
    write_state_dict(state_dict(model), path, metadata)
