"""``jaxnn.Module``: the base for torch-style models on Flax NNX."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import jax
import jax.numpy as jnp
from flax import nnx

from .parameter import Buffer, FrozenParameter, Parameter

__all__ = ["Module"]

_DEVICE_NAMES = ("cpu", "cuda", "mps", "xpu", "meta", "tpu", "gpu")


def _addindent(text: str, spaces: int) -> str:
    """torch's ``_addindent``: indents every line but the first."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _check_name(module: Any, name: Any, kind: str) -> None:
    """torch's checks on a name given to ``register_buffer`` / ``register_parameter`` / ``add_module``."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


def _as_dtype(value: Any) -> Optional[jnp.dtype]:
    """A dtype from a jnp/numpy dtype, its name, or a torch dtype; None for a device."""
    if isinstance(value, jax.Device) or type(value).__name__ == "device":
        return None
    if isinstance(value, str) and value.split(":")[0] in _DEVICE_NAMES:
        return None
    name = str(value)
    if name.startswith("torch."):
        value = name[len("torch.") :]
    try:
        return jnp.dtype(value)
    except TypeError:
        raise TypeError(f"to() expects a dtype or a device, got {value!r}") from None


class Module(nnx.Module):
    """Base class for models written like torch modules.

    Subclasses assign :class:`jaxnn.Parameter`, buffers and submodules as
    attributes in ``__init__`` (no ``super().__init__()`` call is needed) and
    define ``__call__`` as the forward pass. The model is an ``nnx.Module``, so
    ``nnx.split(model, nnx.Param, ...)`` yields the parameter pytree for
    ``jax.grad`` and ``nnx.merge`` rebuilds it.

    Like torch, a fresh module is in training mode. :meth:`train` and
    :meth:`eval` set the ``training`` flag on every submodule (and flax's own
    ``deterministic`` / ``use_running_average`` flags, so flax layers nested in
    a jaxnn model follow too). The flag is static module data: changing it
    changes the graphdef, so a jitted step retraces once per mode.

    torch's module methods are here with torch's names and arguments, for code
    being ported: ``state_dict``, ``load_state_dict``, ``named_parameters`` /
    ``parameters``, ``named_buffers`` / ``buffers``, ``named_modules`` /
    ``modules``, ``named_children`` / ``children``, ``apply``,
    ``register_buffer`` / ``register_parameter`` / ``register_module`` /
    ``add_module``, ``get_submodule`` / ``get_parameter`` / ``get_buffer``,
    ``requires_grad_``, ``zero_grad``, ``to`` / ``half`` / ``float`` /
    ``double`` / ``bfloat16``, ``extra_repr`` and a torch-style ``repr``. The
    ``named_*`` iterators yield arrays (parameters, buffers) and modules; what
    torch changes in place (``to``, ``requires_grad_``) changes this module in
    place and returns it.
    """

    training: bool = True

    def train(self, mode: bool = True) -> "Module":  # type: ignore[override]
        """Sets training mode (``mode=True``) or evaluation mode; returns ``self`` as torch does."""
        for _, module in nnx.iter_modules(self):
            if isinstance(module, Module):
                object.__setattr__(module, "training", bool(mode))
        self.set_attributes(
            deterministic=not mode, use_running_average=not mode, raise_if_not_found=False
        )
        return self

    def eval(self) -> "Module":  # type: ignore[override]
        """Sets evaluation mode; equal to ``train(False)``."""
        return self.train(False)

    def forward(self, *args, **kwargs):
        """torch's name for the forward pass: calls ``__call__``."""
        return self(*args, **kwargs)

    def state_dict(self, prefix: str = ""):
        """torch's ``state_dict()``: see :func:`jaxnn.state_dict`."""
        from .state_dict import state_dict

        return state_dict(self, prefix)

    def load_state_dict(self, state_dict, strict: bool = True, **renaming):
        """torch's ``load_state_dict()`` (a dict or a file path): see :func:`jaxnn.load_state_dict`."""
        from .state_dict import load_state_dict

        return load_state_dict(self, state_dict, strict, **renaming)

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """torch's ``named_parameters()``: see :func:`jaxnn.named_parameters`."""
        from .state_dict import named_parameters

        return named_parameters(self, prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """torch's ``parameters()``: see :func:`jaxnn.parameters`."""
        from .state_dict import parameters

        return parameters(self, recurse)

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """torch's ``named_buffers()``: ``(name, array)`` of every buffer, non-persistent ones too."""
        from .state_dict import named_buffers

        return named_buffers(self, prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        """torch's ``buffers()``: the arrays of :meth:`named_buffers`."""
        from .state_dict import buffers

        return buffers(self, recurse)

    def named_modules(
        self, memo: Optional[set[int]] = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, nnx.Module]]:
        """torch's ``named_modules()``: ``("", self)`` then every submodule by dotted name,
        depth first in registration order, each shared module once."""
        from .state_dict import named_modules

        return named_modules(self, memo, prefix, remove_duplicate)

    def modules(self) -> Iterator[nnx.Module]:
        """torch's ``modules()``: self and every submodule."""
        return (module for _, module in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, nnx.Module]]:
        """torch's ``named_children()``: the direct submodules by attribute name (key), once each."""
        from .state_dict import ordered_members

        seen: set[int] = set()
        for name, child in ordered_members(self):
            if isinstance(child, nnx.Module) and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[nnx.Module]:
        """torch's ``children()``: the direct submodules."""
        return (child for _, child in self.named_children())

    def apply(self, fn: Callable[[nnx.Module], Any]) -> "Module":
        """Calls ``fn`` on every submodule (children first, recursively) and then on
        ``self``; returns ``self``. How timm / transformers initialise weights: ``fn``
        writes new values with ``m.weight[...] = ...`` (or ``jaxnn.init`` helpers)."""
        from .state_dict import ordered_members

        def visit(module: nnx.Module) -> None:
            # flax modules nested in a jaxnn model are visited too (they have no ``apply``);
            # like torch, a child held twice by one parent is visited once.
            seen: set[int] = set()
            for _, child in ordered_members(module):
                if isinstance(child, nnx.Module) and id(child) not in seen:
                    seen.add(id(child))
                    visit(child)
            fn(module)

        visit(self)
        return self

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """torch's ``register_buffer``: ``tensor`` (an array, a :class:`jaxnn.Buffer` or
        ``None``) becomes the buffer ``name``. ``persistent=False`` keeps it out of the
        state dict (still in :meth:`named_buffers`), as in torch."""
        _check_name(self, name, "buffer")
        current = vars(self).get(name, None)
        # A None attribute may be an earlier None registration: torch allows replacing those.
        if hasattr(self, name) and current is not None and not (
            isinstance(current, nnx.Variable) and not isinstance(current, (nnx.Param, FrozenParameter))
        ):
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is None:
            setattr(self, name, None)
            return
        if isinstance(tensor, (nnx.Param, FrozenParameter)) or isinstance(tensor, nnx.Module):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (an array or None required)"
            )
        buffer = tensor if isinstance(tensor, nnx.Variable) else Buffer(tensor)
        if not persistent:
            buffer.set_metadata("persistent", False)
        # nnx.data: the name may hold a static None from an earlier registration.
        setattr(self, name, nnx.data(buffer))

    def register_parameter(self, name: str, param: Any) -> None:
        """torch's ``register_parameter``: ``param`` must be a :class:`jaxnn.Parameter`
        (frozen or not) or ``None``."""
        _check_name(self, name, "parameter")
        current = vars(self).get(name, None)
        if hasattr(self, name) and not isinstance(current, (nnx.Param, FrozenParameter)) and current is not None:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, (nnx.Param, FrozenParameter)):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(jaxnn.Parameter or None required)"
            )
        setattr(self, name, param if param is None else nnx.data(param))

    def add_module(self, name: str, module: Optional[nnx.Module]) -> None:
        """torch's ``add_module``: ``module`` (an nnx module or ``None``) becomes the child ``name``."""
        _check_name(self, name, "module")
        if module is not None and not isinstance(module, nnx.Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        current = vars(self).get(name, None)
        if hasattr(self, name) and current is not None and not isinstance(current, nnx.Module):
            raise KeyError(f"attribute '{name}' already exists")
        setattr(self, name, module if module is None else nnx.data(module))

    def register_module(self, name: str, module: Optional[nnx.Module]) -> None:
        """Alias of :meth:`add_module`, as in torch."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> nnx.Module:
        """torch's ``get_submodule("a.b.0")``; ``""`` is ``self``. ``AttributeError``
        naming the missing part, as torch."""
        module: Any = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, nnx.Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def _get_variable(self, target: str, kind: str, check: Callable[[Any], bool]) -> nnx.Variable:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        value = getattr(module, name)
        if not check(value):
            raise AttributeError(f"`{name}` is not {kind}")
        return value

    def get_parameter(self, target: str) -> nnx.Variable:
        """torch's ``get_parameter("a.b.weight")``: the parameter variable itself (a
        :class:`jaxnn.Parameter` or frozen one), so ``p[...] = x`` writes the model."""
        return self._get_variable(target, "an nn.Parameter", lambda v: isinstance(v, (nnx.Param, FrozenParameter)))

    def get_buffer(self, target: str) -> nnx.Variable:
        """torch's ``get_buffer("bn.running_mean")``: the buffer variable itself."""
        return self._get_variable(
            target,
            "a buffer",
            lambda v: isinstance(v, nnx.Variable)
            and not isinstance(v, (nnx.Param, FrozenParameter, nnx.RngState)),
        )

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freezes (``False``) or unfreezes every parameter; returns ``self``.

        A frozen parameter is a :class:`jaxnn.FrozenParameter`, which is not an
        ``nnx.Param``: it leaves ``nnx.split(model, nnx.Param, ...)``'s trainable
        pytree (torch's optimizers skip ``requires_grad=False`` tensors) but stays
        in the state dict. Call it on a submodule to freeze that part only. A
        parameter shared by several modules is replaced by one new variable, so
        it stays shared. Freezing changes the model's structure: split it again
        (and build new optimizer state) afterwards.
        """
        target = Parameter if requires_grad else FrozenParameter
        source = FrozenParameter if requires_grad else nnx.Param
        replaced: dict[int, nnx.Variable] = {}
        for _, module in self.named_modules(remove_duplicate=True):
            for name, value in list(vars(module).items()):
                if isinstance(value, source):
                    if id(value) not in replaced:
                        replaced[id(value)] = target(value.get_value(), **value.get_metadata())
                    setattr(module, name, replaced[id(value)])
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Does nothing: jaxnn keeps no ``.grad`` on parameters. Gradients are the
        return value of ``jax.grad``, fresh at every step, so there is nothing to
        reset; accepted so ported training loops run unchanged."""

    def _cast(self, keep: Callable[[jnp.dtype], bool], dtype: jnp.dtype) -> "Module":
        if jnp.dtype(dtype).itemsize == 8 and not jax.config.jax_enable_x64:  # type: ignore[attr-defined]  # a flag
            raise ValueError(
                f"cannot cast the module to {jnp.dtype(dtype)}: 64-bit arrays need "
                "jax.config.update('jax_enable_x64', True) (JAX would silently keep 32 bits)"
            )
        seen: set[int] = set()
        for _, node in nnx.iter_graph(self):
            if isinstance(node, nnx.Variable) and not isinstance(node, nnx.RngState) and id(node) not in seen:
                seen.add(id(node))
                value = node.get_value()
                if value is not None and hasattr(value, "dtype") and keep(jnp.dtype(value.dtype)):
                    node.set_value(jnp.asarray(value).astype(dtype))
        return self

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """torch's ``to(dtype)`` / ``to(device)`` / ``to(device, dtype)`` / ``to(tensor)``.

        Floating (and complex) parameters and buffers are cast to the dtype
        (jnp / numpy / torch dtype or its name); integer buffers
        (``num_batches_tracked``) are kept, as torch. A non-floating dtype is a
        ``TypeError`` as in torch. Devices (``"cpu"``, ``"cuda:0"``, a
        ``torch.device`` or ``jax.Device``) are accepted and ignored: JAX places
        arrays itself (``jax.device_put`` the state to move it). ``non_blocking``,
        ``copy`` and ``memory_format`` are ignored. Returns ``self``, cast in place.
        """
        dtype = kwargs.get("dtype")
        for arg in args:
            if not isinstance(arg, (type, str, jnp.dtype)) and hasattr(arg, "dtype") and hasattr(arg, "shape"):
                dtype = arg.dtype
            elif arg is not None and dtype is None:
                dtype = _as_dtype(arg)
        if dtype is None:
            return self
        dtype = _as_dtype(dtype)
        if dtype is None:
            # A device passed as dtype= (jnp.dtype(None) would be float64), a TypeError as in torch
            raise TypeError(f"to() expects a dtype for dtype=, got {kwargs.get('dtype')!r}")
        if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.complexfloating)):
            raise TypeError(
                f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={dtype}"
            )
        return self._cast(lambda d: jnp.issubdtype(d, jnp.floating) or jnp.issubdtype(d, jnp.complexfloating), dtype)

    def half(self) -> "Module":
        """Floating parameters and buffers to float16 (others kept); returns ``self``."""
        return self._cast(lambda d: jnp.issubdtype(d, jnp.floating), jnp.dtype(jnp.float16))

    def bfloat16(self) -> "Module":
        """Floating parameters and buffers to bfloat16 (others kept); returns ``self``."""
        return self._cast(lambda d: jnp.issubdtype(d, jnp.floating), jnp.dtype(jnp.bfloat16))

    def float(self) -> "Module":
        """Floating parameters and buffers to float32 (others kept); returns ``self``."""
        return self._cast(lambda d: jnp.issubdtype(d, jnp.floating), jnp.dtype(jnp.float32))

    def double(self) -> "Module":
        """Floating parameters and buffers to float64 (needs ``jax_enable_x64``); returns ``self``."""
        return self._cast(lambda d: jnp.issubdtype(d, jnp.floating), jnp.dtype(jnp.float64))

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (torch's hook for
        layers to show their options); empty by default."""
        return ""

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_children(self) -> list[tuple[str, Any]]:
        return list(self.named_children())

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        """torch's module repr: ``Name(extra_repr)``, children as ``(key): repr`` lines
        indented by two spaces. Arrays are never printed."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(child), 2) for key, child in self._repr_children()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"
