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

Arrays leave as numpy arrays in their own dtype, except buffers created with
``torch_dtype`` metadata (BatchNorm's ``num_batches_tracked``: int32 in JAX
without x64, int64 in torch), which leave in that dtype.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, NamedTuple

import jax.numpy as jnp
import numpy as np
from flax import nnx

from .parameter import FrozenParameter

__all__ = [
    "state_dict",
    "load_state_dict",
    "named_parameters",
    "parameters",
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


def _named_variables(module: Any, prefix: str = "") -> Iterator[tuple[str, nnx.Variable]]:
    """(torch name, variable) of every parameter and buffer, torch's order, duplicates kept."""
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
    variables = [
        (name, v) for name, v in members if isinstance(v, nnx.Variable) and not isinstance(v, nnx.RngState)
    ]
    for name, variable in sorted(variables, key=lambda item: not _is_parameter(item[1])):
        yield prefix + name, variable
    for name, child in members:
        if isinstance(child, nnx.Module):
            yield from _named_variables(child, f"{prefix}{name}.")


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
    """
    return {name: _export(v) for name, v in _named_variables(model, prefix)}


def named_parameters(model: nnx.Module, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """torch's ``named_parameters()``: ``(name, array)`` of each parameter once
    (shared ones under their first name), frozen parameters included as in torch."""
    seen: set[int] = set()
    for name, variable in _named_variables(model, prefix):
        if _is_parameter(variable) and id(variable) not in seen:
            seen.add(id(variable))
            yield name, variable[...]


def parameters(model: nnx.Module) -> Iterator[Any]:
    """torch's ``parameters()``: the arrays of :func:`named_parameters`."""
    return (array for _, array in named_parameters(model))


def num_parameters(model: nnx.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements, ``sum(p.numel() for p in model.parameters())``;
    ``trainable_only`` drops frozen parameters (torch's ``if p.requires_grad``)."""
    seen: set[int] = set()
    total = 0
    for _, variable in _named_variables(model):
        if _is_parameter(variable) and id(variable) not in seen:
            seen.add(id(variable))
            if not (trainable_only and isinstance(variable, FrozenParameter)):
                total += int(np.size(variable[...]))
    return total


def _as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def load_state_dict(
    model: nnx.Module, state_dict: Mapping[str, Any], strict: bool = True
) -> IncompatibleKeys:
    """torch's ``model.load_state_dict(state_dict, strict)``, in place.

    Args:
      model: the model to fill.
      state_dict: ``{torch key: array}``, numpy arrays, JAX arrays or torch
        tensors (e.g. ``torch.load("model.pt")``). Each value is cast to the
        dtype of the variable it replaces, as torch's ``copy_`` does.
      strict: missing or unexpected keys are an error.

    Returns:
      ``IncompatibleKeys(missing_keys, unexpected_keys)``.

    Raises:
      StateDictError (a ``RuntimeError`` and ``ValueError``): listing every missing
        and unexpected key when ``strict``, and every shape mismatch in any case
        (as torch). Nothing is loaded when it raises.
    """
    targets = dict(_named_variables(model))
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
        # a copy: jnp.asarray would share memory with a torch CPU tensor, which torch may update in place
        updates.append((variable, jnp.array(value, current.dtype, copy=True)))
    if errors:
        raise StateDictError(
            f"Error(s) in loading state_dict for {type(model).__name__}:\n\t" + "\n\t".join(errors)
        )
    for variable, value in updates:
        variable[...] = value
    return IncompatibleKeys(missing, unexpected)
