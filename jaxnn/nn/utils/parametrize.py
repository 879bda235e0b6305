"""torch.nn.utils.parametrize: a parameter computed by a module from stored originals.

``register_parametrization(module, "weight", P())`` keeps the stored array in
``module.parametrizations.weight.original`` (or ``original0``, ``original1``,
... when ``P.right_inverse`` returns several arrays) and makes
``module.weight`` a property that evaluates ``P(original)`` on every access,
exactly torch's layout, so the state_dict keys are torch's
(``parametrizations.weight.original``, ``parametrizations.weight.0._u``) and a
parametrized torch checkpoint loads as is. As in torch, the module's class is
replaced by a subclass named ``Parametrized<Class>`` that carries the property;
the layer's ``__call__`` reads ``self.weight[...]`` and gets the computed array
(an array's ``[...]`` is itself).

A parametrization is any :class:`jaxnn.Module` (or nnx module) with a
``__call__`` taking the original array(s) and, optionally, a ``right_inverse``
mapping a value of the parameter back to the original(s). Parametrizations
that keep state (spectral norm's power iteration vectors) keep it as buffers
updated during the forward pass, carried by ``jaxnn.training.make_train_step``
like BatchNorm's running statistics.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional, Sequence, TypeGuard

import jax
import jax.numpy as jnp
from flax import nnx

from ...module import Module
from ...parameter import Buffer, FrozenParameter, Parameter
from ..container import ModuleDict, _Keyed

__all__ = [
    "cached",
    "ParametrizationList",
    "register_parametrization",
    "is_parametrized",
    "remove_parametrizations",
    "type_before_parametrizations",
    "transfer_parametrizations_and_params",
]

_cache_enabled = 0
_cache: dict[tuple[int, str], jax.Array] = {}


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Within the context each parametrized array is computed once, on first access,
    and reused (torch's ``parametrize.cached()``): for a parameter read many times in
    one forward pass (a recurrent weight). Leave the context before the parameters change."""
    global _cache, _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _is_tensor_variable(value: Any) -> TypeGuard[nnx.Variable]:
    return isinstance(value, nnx.Variable) and not isinstance(value, nnx.RngState)


def _plists(module: Any) -> ModuleDict:
    """``module.parametrizations``, the attribute register_parametrization adds to a module."""
    return module.parametrizations


def _like(original: nnx.Variable, value: jax.Array) -> nnx.Variable:
    """A new variable of the original's kind (learnable, frozen or buffer) holding ``value``."""
    if isinstance(original, nnx.Param):
        return Parameter(value)
    if isinstance(original, FrozenParameter):
        return FrozenParameter(value)
    return Buffer(value)


def _apply_right_inverse(modules: Sequence[Any], value: Any, required: bool) -> Any:
    for module in reversed(modules):
        if hasattr(module, "right_inverse"):
            try:
                value = module.right_inverse(value)
            except NotImplementedError:
                if required:
                    raise
        elif required:
            raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
    return value


def _is_array(value: Any) -> bool:
    return isinstance(value, jax.Array) or hasattr(value, "shape") and hasattr(value, "dtype")


class ParametrizationList(_Keyed):
    """The parametrizations of one array (children ``"0"``, ``"1"``, ... applied in
    order) and its stored original(s), torch's ``ParametrizationList``.

    Calling it evaluates the parametrized array. Built by
    :func:`register_parametrization`; ``right_inverse(value)`` stores the
    originals that give ``value``.
    """

    def __init__(self, modules: Sequence[Any], original: nnx.Variable, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        for i, module in enumerate(modules):
            self._add(i, module)
        self.unsafe = unsafe
        shape, dtype = original.get_value().shape, original.get_value().dtype
        new = _apply_right_inverse(list(self), jax.lax.stop_gradient(original.get_value()), required=False)
        if not _is_array(new) and not isinstance(new, Sequence):
            raise ValueError(
                "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                f"Got {type(new).__name__}"
            )
        self.is_tensor = _is_array(new)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != dtype:
                raise ValueError(
                    "When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                    f"original.dtype: {dtype}\nright_inverse(original).dtype: {new.dtype}"
                )
            original.set_value(jnp.asarray(new))
            self.original = original
        else:
            for i, value in enumerate(new):
                if not _is_array(value):
                    raise ValueError(
                        "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                        f"Got element {i} of the sequence with type {type(value).__name__}."
                    )
                setattr(self, f"original{i}", _like(original, jnp.asarray(value)))
        if not unsafe:
            z = self()
            if not _is_array(z):
                raise ValueError(f"A parametrization must return a tensor. Got {type(z).__name__}.")
            if z.dtype != dtype:
                raise ValueError(
                    "Registering a parametrization may not change the dtype of the tensor, unless `unsafe` "
                    f"flag is enabled.\nunparametrized dtype: {dtype}\nparametrized dtype: {z.dtype}"
                )
            if z.shape != shape:
                raise ValueError(
                    "Registering a parametrization may not change the shape of the tensor, unless `unsafe` "
                    f"flag is enabled.\nunparametrized shape: {shape}\nparametrized shape: {z.shape}"
                )

    def __getitem__(self, idx: int) -> Any:
        return getattr(self, self._keys[idx])

    def __iter__(self) -> Iterator[Any]:
        return (getattr(self, k) for k in self._keys)

    def append(self, module: Any) -> None:
        self._add(len(self._keys), module)

    def originals(self) -> list[nnx.Variable]:
        if self.is_tensor:
            return [self.original]
        return [getattr(self, f"original{i}") for i in range(self.ntensors)]

    def right_inverse(self, value: Any) -> None:
        """Stores the originals that make the parametrized array equal ``value`` (torch's
        ``module.weight = value``); every parametrization must have ``right_inverse``."""
        value = _apply_right_inverse(list(self), jax.lax.stop_gradient(jnp.asarray(value)), required=True)
        if self.is_tensor:
            if not _is_array(value):
                raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
            if value.dtype != self.original.get_value().dtype:
                raise ValueError(
                    f"The tensor returned by `right_inverse` has dtype {value.dtype} while `original` has "
                    f"dtype {self.original.get_value().dtype}"
                )
            self.original.set_value(jnp.asarray(value))
            return
        if not isinstance(value, Sequence) or len(value) != self.ntensors:
            raise ValueError(
                f"'right_inverse' must return a sequence of tensors of length {self.ntensors}. "
                f"Got {type(value).__name__}."
            )
        for original, array in zip(self.originals(), value):
            if array.dtype != original.get_value().dtype:
                raise ValueError(
                    f"Tensor returned by `right_inverse` has dtype {array.dtype} while the original has "
                    f"dtype {original.get_value().dtype}"
                )
            original.set_value(jnp.asarray(array))

    def __call__(self) -> jax.Array:
        x = self[0](*[o[...] for o in self.originals()])
        for module in list(self)[1:]:
            x = module(x)
        return x

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self._keys]


def _property(tensor_name: str) -> property:
    def get_parametrized(self: Any) -> jax.Array:
        parametrization = self.parametrizations[tensor_name]
        if not _cache_enabled:
            return parametrization()
        key = (id(self), tensor_name)
        if key not in _cache:
            _cache[key] = parametrization()
        return _cache[key]

    def set_original(self: Any, value: Any) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    return property(get_parametrized, set_original)


def _check_like(x: Any, y: jax.Array, what: str, tensor_name: str) -> None:
    if not _is_array(x):
        raise ValueError(f"{what} must return a tensor. Got {type(x).__name__}.")
    if x.dtype != y.dtype or x.shape != y.shape:
        raise ValueError(
            f"{what} may not change the dtype or shape of the tensor, unless the `unsafe` flag is enabled.\n"
            f"module.{tensor_name}: {y.dtype} {y.shape}\nreturned: {x.dtype} {x.shape}"
        )


def register_parametrization(
    module: nnx.Module, tensor_name: str, parametrization: nnx.Module, *, unsafe: bool = False
) -> nnx.Module:
    """Makes ``module.<tensor_name>`` equal ``parametrization(original)`` (torch's
    ``register_parametrization``); returns ``module``, changed in place.

    Args:
      module: the module owning the parameter or buffer ``tensor_name``.
      tensor_name: its attribute name. A second registration on the same name
        appends to its ``ParametrizationList``.
      parametrization: a module whose ``__call__`` maps the original(s) to the
        parameter; an optional ``right_inverse`` maps a parameter value to the
        original(s) (applied to the current value at registration, as torch).
      unsafe: skip the checks that the parametrization keeps shape and dtype.

    The parametrization follows the module's training mode. Keys:
    ``parametrizations.<name>.original`` (or ``original0``...), the
    parametrization's own state under ``parametrizations.<name>.<i>.``.

    Raises:
      ValueError: ``tensor_name`` is neither a parameter nor a buffer of
        ``module``, or the parametrization changes shape or dtype (not unsafe).
    """
    if isinstance(parametrization, Module):
        parametrization.train(getattr(module, "training", True))
    if is_parametrized(module, tensor_name):
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            _check_like(x, y, "A parametrization", tensor_name)
            if hasattr(parametrization, "right_inverse"):
                try:
                    z = parametrization.right_inverse(x)
                except NotImplementedError:
                    pass
                else:
                    _check_like(z, y, "parametrization.right_inverse", tensor_name)
        plist = _plists(module)[tensor_name]
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module
    original = vars(module).get(tensor_name)
    if not _is_tensor_variable(original):
        raise ValueError(
            f"Module '{type(module).__name__}' does not have a parameter, a buffer, or a parametrized "
            f"element with name '{tensor_name}'"
        )
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = type(module)
        new_cls = type(f"Parametrized{cls.__name__}", (cls,), {"__module__": cls.__module__})
        object.__setattr__(module, "__class__", new_cls)
        setattr(module, "parametrizations", ModuleDict())
    setattr(type(module), tensor_name, _property(tensor_name))
    _plists(module)[tensor_name] = plist
    return module


def is_parametrized(module: Any, tensor_name: Optional[str] = None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, or on anything)."""
    parametrizations = vars(module).get("parametrizations") if hasattr(module, "__dict__") else None
    if not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def remove_parametrizations(module: nnx.Module, tensor_name: str, leave_parametrized: bool = True) -> nnx.Module:
    """Undoes :func:`register_parametrization` on ``tensor_name`` (torch's
    ``remove_parametrizations``): the attribute becomes a plain parameter (or buffer)
    again, holding the current parametrized value when ``leave_parametrized``, else
    the stored original (only possible with a single original). When nothing is
    left parametrized the module gets its class back. Returns ``module``."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on {tensor_name}")
    plist = _plists(module)[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            original.set_value(jax.lax.stop_gradient(getattr(module, tensor_name)))
    else:
        if not leave_parametrized:
            raise ValueError(
                "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized in "
                "terms of a sequence of tensors."
            )
        original = _like(plist.original0, jax.lax.stop_gradient(getattr(module, tensor_name)))
    delattr(type(module), tensor_name)
    del _plists(module)[tensor_name]
    setattr(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        object.__setattr__(module, "__class__", type(module).__bases__[0])
    return module


def type_before_parametrizations(module: Any) -> type:
    """The module's class before parametrizations replaced it (its own class otherwise)."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)


def transfer_parametrizations_and_params(
    from_module: nnx.Module, to_module: nnx.Module, tensor_name: Optional[str] = None
) -> nnx.Module:
    """Gives ``to_module`` the parametrizations of ``from_module`` (on ``tensor_name``, or on
    every parametrized name), creating the parameter where ``to_module`` lacks it, and
    copies the originals' values; torch's ``transfer_parametrizations_and_params``.
    The parametrization modules are shared, as torch shares them. Returns ``to_module``.

    >>> import jaxnn
    >>> from flax import nnx
    >>> from jaxnn.nn.utils.parametrizations import weight_norm
    >>> a = weight_norm(jaxnn.Linear(3, 2, rngs=nnx.Rngs(0)))
    >>> b = transfer_parametrizations_and_params(a, jaxnn.Linear(3, 2, rngs=nnx.Rngs(1)))
    >>> bool((a.weight == b.weight).all())
    True
    """
    if not is_parametrized(from_module):
        return to_module
    names = list(_plists(from_module)) if tensor_name is None else [tensor_name]
    for name in names:
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name)))
        source = _plists(from_module)[name]
        for parametrization in source:
            register_parametrization(to_module, name, parametrization)
        target = _plists(to_module)[name]
        for mine, theirs in zip(target.originals(), source.originals()):
            mine.set_value(theirs.get_value())
    return to_module
