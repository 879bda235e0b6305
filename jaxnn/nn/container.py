"""Sequential, ModuleList and ModuleDict, named the way torch names their children.

Children are attributes named by their torch key ("0", "1", ... or the
OrderedDict / ModuleDict key), so nnx paths and :func:`jaxnn.state_dict` keys
read ``"0.weight"`` / ``"blocks.2.bias"`` exactly as torch's do. The order is
kept in a static tuple of keys, because nnx rebuilds attributes in its own
order after ``nnx.merge``. Like every layer they accept (and ignore) ``rngs``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, Mapping, MutableMapping, Optional, Union

from flax import nnx

from ..module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


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


class Sequential(_Keyed):
    """Applies its children in order: ``Sequential(m0, m1, ...)`` (keys "0", "1", ...)
    or ``Sequential(OrderedDict(name=module, ...))``.

    Children are jaxnn / nnx modules or any callables (e.g. ``jax.nn.relu``);
    only modules have state. Indexing with an int returns a child, with a slice a
    new Sequential sharing the children under their keys, as torch's.
    """

    def __init__(self, *args: Union[Callable, Mapping[str, Callable]], rngs: Optional[nnx.Rngs] = None) -> None:
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


class ModuleList(Module, nnx.List):
    """A list of modules (an ``nnx.List``): keys "0", "1", ... as torch's ModuleList."""

    def __init__(self, modules: Optional[Iterable[Any]] = None, *, rngs: Optional[nnx.Rngs] = None) -> None:
        nnx.List.__init__(self, modules)

    def __getitem__(self, index: Union[int, slice]) -> Any:
        """An int gives the child; a slice a new ModuleList sharing those children, as torch's."""
        if isinstance(index, slice):
            return ModuleList(nnx.List.__getitem__(self, index))
        return nnx.List.__getitem__(self, index)

    def extend(self, modules: Iterable[Any]) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self


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
