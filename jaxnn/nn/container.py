"""Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict, named the way
torch names their children.

Children are attributes named by their torch key ("0", "1", ... or the
OrderedDict / ModuleDict key), so nnx paths and :func:`jaxnn.state_dict` keys
read ``"0.weight"`` / ``"blocks.2.bias"`` exactly as torch's do. The order is
kept in a static tuple of keys, because nnx rebuilds attributes in its own
order after ``nnx.merge``. Like every layer they accept (and ignore) ``rngs``.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, Mapping, MutableMapping, Optional, Union

import numpy as np
from flax import nnx

from ..module import Module, _addindent
from ..parameter import FrozenParameter, Parameter

__all__ = ["Container", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


class _Keyed(Module):
    """Children stored as attributes under string keys, in the order of ``_keys``."""

    _keys: tuple[str, ...] = ()

    def _add(self, key: Any, module: Any) -> None:
        key = str(key)
        if "." in key or key == "":
            raise KeyError(f'{type(self).__name__}: module name can\'t contain ".", got {key!r}')
        if key not in self._keys and hasattr(self, key):
            raise KeyError(f"{type(self).__name__}: attribute {key!r} already exists")
        setattr(self, key, module)
        if key not in self._keys:
            self._keys = self._keys + (key,)

    def _remove(self, key: str) -> Any:
        module = getattr(self, key)
        delattr(self, key)
        self._keys = tuple(k for k in self._keys if k != key)
        return module

    def __len__(self) -> int:
        return len(self._keys)

    def add_module(self, name: str, module: Optional[nnx.Module]) -> None:
        """torch's ``add_module``: a new child keeps its place in the container's order."""
        super().add_module(name, module)
        if name not in self._keys:
            self._keys = self._keys + (name,)


class Container(_Keyed):
    """torch's deprecated ``nn.Container(**modules)``: a module holding the given
    children by keyword. Warns ``FutureWarning`` as torch does; subclass
    :class:`jaxnn.Module` instead."""

    def __init__(self, *, rngs: Optional[nnx.Rngs] = None, **kwargs: Any) -> None:
        warnings.warn(
            "`nn.Container` is deprecated. All of its functionality is now implemented in "
            "`nn.Module`. Subclass that instead.",
            FutureWarning,
            stacklevel=2,
        )
        for key, value in kwargs.items():
            self.add_module(key, value)


class Sequential(_Keyed):
    """Applies its children in order: ``Sequential(m0, m1, ...)`` (keys "0", "1", ...)
    or ``Sequential(OrderedDict(name=module, ...))``.

    Children are jaxnn / nnx modules or any callables (e.g. ``jax.nn.relu``);
    only modules have state. Indexing with an int returns a child, with a slice a
    new Sequential sharing the children under their keys, as torch's.
    """

    def __init__(self, *args: Union[Callable, Mapping[str, Callable]], rngs: Optional[nnx.Rngs] = None) -> None:
        items: Iterable[tuple[Any, Any]]
        if len(args) == 1 and isinstance(args[0], Mapping):
            items = args[0].items()
        else:
            items = enumerate(args)
        for key, module in items:
            self._add(key, module)

    def __call__(self, input: Any) -> Any:
        for key in self._keys:
            input = getattr(self, key)(input)
        return input

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return Sequential(OrderedDict((k, getattr(self, k)) for k in self._keys[idx]))
        return getattr(self, self._keys[idx])

    def __iter__(self) -> Iterator[Any]:
        return (getattr(self, k) for k in self._keys)

    def append(self, module: Callable) -> "Sequential":
        self._add(len(self._keys), module)
        return self

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self._keys]


class ModuleList(Module, nnx.List):
    """A list of modules (an ``nnx.List``): keys "0", "1", ... as torch's ModuleList."""

    def __init__(self, modules: Optional[Iterable[Any]] = None, *, rngs: Optional[nnx.Rngs] = None) -> None:
        nnx.List.__init__(self, modules)

    def __getitem__(self, index: Union[int, slice]) -> Any:
        """An int gives the child; a slice a new ModuleList sharing those children, as torch's."""
        if isinstance(index, slice):
            return ModuleList(nnx.List.__getitem__(self, index))
        return nnx.List.__getitem__(self, index)

    def extend(self, modules: Iterable[Any]) -> "ModuleList":  # type: ignore[override]  # self, as torch
        for module in modules:
            self.append(module)
        return self

    def __repr__(self) -> str:
        """torch's ModuleList repr: runs of equal children folded into ``(i-j): n x repr``."""
        reprs = [repr(item) for item in self]
        if not reprs:
            return type(self).__name__ + "()"
        blocks: list[list[Any]] = []
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = [
            _addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2) for a, b, r in blocks
        ]
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(_Keyed, MutableMapping):
    """A dict of modules keyed by strings, in insertion order, as torch's ModuleDict.

    Keys that shadow an attribute of the class (``"train"``) are rejected, as in torch.
    """

    def __init__(
        self,
        modules: Optional[Union[Mapping[str, Any], Iterable[tuple[str, Any]]]] = None,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        for key, module in dict(modules or {}).items():
            self._add(key, module)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, module: Any) -> None:
        self._add(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(key)
        self._remove(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys


def _as_parameter(value: Any) -> Any:
    """torch wraps a plain tensor put into a Parameter container as a Parameter; variables
    (frozen parameters, buffers) are kept as they are, and so are non-array objects."""
    if isinstance(value, nnx.Variable) or value is None or isinstance(value, nnx.Module):
        return value
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return Parameter(value)
    return value


def _parameter_line(key: Any, value: Any) -> str:
    if isinstance(value, nnx.Variable):
        array = value.get_value()
        kind = "Parameter" if isinstance(value, (nnx.Param, FrozenParameter)) else "Tensor"
        size = "x".join(str(n) for n in np.shape(array))
        return f"  ({key}): {kind} containing: [{np.dtype(array.dtype).name} of size {size}]"
    return f"  ({key}): Object of type: {type(value).__name__}"


class ParameterList(_Keyed):
    """A list of parameters, torch's ``nn.ParameterList``: state_dict keys "0", "1", ...

    Arrays appended are wrapped as :class:`jaxnn.Parameter` (frozen parameters
    and buffers are kept as they are). Indexing returns the variable, as an
    attribute access does: read its array with ``plist[i][...]``. Like torch's,
    it cannot be called.
    """

    def __init__(self, values: Optional[Iterable[Any]] = None, *, rngs: Optional[nnx.Rngs] = None) -> None:
        if values is not None:
            self.extend(values)

    def _index(self, idx: int) -> str:
        if not -len(self) <= idx < len(self):
            raise IndexError(f"index {idx} is out of range")
        return self._keys[idx % len(self)]

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return ParameterList([getattr(self, k) for k in self._keys[idx]])
        return getattr(self, self._index(idx))

    def __setitem__(self, idx: int, param: Any) -> None:
        setattr(self, self._index(idx), _as_parameter(param))

    def __iter__(self) -> Iterator[Any]:
        return (getattr(self, k) for k in self._keys)

    def __iadd__(self, parameters: Iterable[Any]) -> "ParameterList":
        return self.extend(parameters)

    def append(self, value: Any) -> "ParameterList":
        self._add(len(self), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_parameter_line(k, p) for k, p in enumerate(self))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(_Keyed, MutableMapping):
    """A dict of parameters keyed by strings in insertion order, torch's
    ``nn.ParameterDict``: state_dict keys are the dict keys.

    Arrays are wrapped as :class:`jaxnn.Parameter`, as in :class:`ParameterList`;
    ``pd[key]`` returns the variable. Keys containing "." or shadowing an
    attribute (``"train"``) are rejected, as in torch. Like torch's, it cannot be
    called.
    """

    def __init__(self, parameters: Any = None, *, rngs: Optional[nnx.Rngs] = None) -> None:
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        self._add(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(key)
        self._remove(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __reversed__(self) -> Iterator[str]:
        return reversed(self._keys)

    def update(self, parameters: Any) -> None:  # type: ignore[override]
        """torch's ``update``: an ``OrderedDict``, ``ParameterDict`` or iterable of
        (key, value) pairs in its order; any other mapping in SORTED key order, as
        torch does (so ``ParameterDict({"b": .., "a": ..})`` has keys a, b)."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            items = list(parameters.items())
        elif isinstance(parameters, Mapping):
            items = sorted(parameters.items())
        else:
            items = list(parameters)
        for j, item in enumerate(items):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(f"ParameterDict update sequence element #{j} should be a key-value pair")
            self[item[0]] = item[1]

    def copy(self) -> "ParameterDict":
        """A new ParameterDict holding the same variables (shared, as torch's copy shares tensors)."""
        return ParameterDict([(k, self[k]) for k in self._keys])

    @classmethod
    def fromkeys(cls, keys: Iterable[str], default: Any = None) -> "ParameterDict":
        return cls([(k, default) for k in keys])

    def __or__(self, other: "ParameterDict") -> "ParameterDict":
        merged = self.copy()
        merged.update(other)
        return merged

    def extra_repr(self) -> str:
        return "\n".join(_parameter_line(k, self[k]) for k in self._keys)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterDict should not be called.")
