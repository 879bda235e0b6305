"""Lazy modules: torch's ``Lazy*`` layers, whose input size is read from the first input.

``LazyLinear(out_features)`` is ``Linear(in_features, out_features)`` with
``in_features`` unknown until the first call: that call reads it from the
input (``input.shape[-1]``), builds the eager layer with torch's initialisation
from the module's ``rngs``, and the module becomes that layer in place (its
class changes, torch's ``cls_to_become``), so its state_dict, repr and later
calls are the eager layer's. Loading a state_dict into a lazy module that has
not seen an input takes the sizes from the state dict's arrays, as torch's lazy
load hook does.

JAX traces cannot create parameters: calling a lazy module under ``jax.jit`` /
``nnx.jit`` / ``jax.grad`` before it has seen a concrete input raises an error
telling to call it once eagerly (or load a state dict) first.

The eager class is looked up by name in :mod:`jaxnn.nn` when the lazy module
is built; constructor arguments are the eager class's minus the inferred first
one, checked at construction.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Optional

import jax
import numpy as np
from flax import nnx

from ..module import Module
from ._common import require_rngs

__all__ = [
    "LazyLinear",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
]


def _eager_class(name: str) -> type:
    from .. import nn

    cls = getattr(nn, name, None)
    if cls is None:
        raise NotImplementedError(f"jaxnn.nn.{name} is not available, so its lazy form cannot be built")
    return cls


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, (list, tuple)) else value


class _LazyModule(Module):
    """Holds the eager class's arguments until the first input fixes the missing size.

    Subclasses name the eager class (``cls_to_become``), read the size from an
    input (``_size_from_input``) and from a state dict (``_size_from_state``).
    """

    cls_to_become: str
    _needs_rngs: bool = False

    def __init__(self, *args: Any, rngs: Optional[nnx.Rngs] = None, dtype: Any = None, **kwargs: Any) -> None:
        name = type(self).__name__
        cls = _eager_class(self.cls_to_become)
        # The class's own signature is nnx's metaclass (*args, **kwargs); __init__ has the real one.
        signature = inspect.signature(cls.__init__)  # type: ignore[misc]  # the class's own __init__
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
        try:
            bound = signature.bind(0, *args, rngs=rngs, dtype=dtype, **kwargs)
        except TypeError as error:
            raise TypeError(f"{name}: {error}") from None
        if self._needs_rngs:
            require_rngs(rngs, name)
        inferred = next(iter(signature.parameters))
        options = {k: v for k, v in bound.arguments.items() if k not in (inferred, "rngs", "dtype")}
        for key, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                options.update(options.pop(key, {}))
        # Static module data must be hashable (it goes into the graphdef): lists become tuples.
        self._args = _hashable(args)
        self._kwargs = tuple((k, _hashable(v)) for k, v in sorted(kwargs.items()))
        self._options = tuple((k, _hashable(v)) for k, v in sorted(options.items()))
        self.rngs = rngs
        self._dtype = None if dtype is None else np.dtype(dtype).name

    def has_uninitialized_params(self) -> bool:
        """True until the first input (or a state dict) has fixed the shapes, as torch."""
        return True

    def _option(self, key: str, default: Any) -> Any:
        return dict(self._options).get(key, default)

    def _size_from_input(self, x: Any) -> int:
        raise NotImplementedError

    def _size_from_state(self, prefix: str, state_dict: Mapping[str, Any]) -> Optional[int]:
        raise NotImplementedError

    def _become(self, size: int) -> None:
        """Builds the eager layer and takes over its attributes and class."""
        cls = _eager_class(self.cls_to_become)
        kwargs = dict(self._kwargs)
        if self._dtype is not None:
            kwargs["dtype"] = self._dtype
        eager = cls(int(size), *self._args, rngs=self.rngs, **kwargs)
        eager.train(self.training)
        state = vars(self)
        state.clear()
        state.update(vars(eager))
        object.__setattr__(self, "__class__", cls)

    def initialize_parameters(self, input: Any, *args: Any, **kwargs: Any) -> None:
        """torch's ``initialize_parameters``: materialises from ``input`` without running the layer."""
        variables = [v.get_value() for _, v in nnx.iter_graph(self) if isinstance(v, nnx.Variable)]
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((input, variables))):
            raise RuntimeError(
                f"{type(self).__name__} has not seen an input yet and cannot create its parameters inside a "
                "JAX transformation (jit, grad, vmap): call the model once eagerly on an example input "
                "(or load a state dict) before jitting it"
            )
        self._become(self._size_from_input(input))

    def _materialize_from_state(self, prefix: str, state_dict: Mapping[str, Any]) -> None:
        size = self._size_from_state(prefix, state_dict)
        if size is not None:
            self._become(size)

    def __call__(self, input: Any, *args: Any, **kwargs: Any) -> Any:
        self.initialize_parameters(input)
        return self(input, *args, **kwargs)

    def extra_repr(self) -> str:
        # torch prints the eager layer's options with the missing size as 0; a throwaway
        # eager layer of size 0 gives exactly that text (its own rngs, so ours stay untouched)
        eager = _eager_class(self.cls_to_become)(0, *self._args, rngs=nnx.Rngs(0), **dict(self._kwargs))
        return eager.extra_repr()


def _shape(state_dict: Mapping[str, Any], key: str) -> Optional[tuple[int, ...]]:
    value = state_dict.get(key)
    return None if value is None else tuple(np.shape(value))


class LazyLinear(_LazyModule):
    """torch.nn.LazyLinear(out_features, bias=True): ``in_features`` from the first
    input's last axis; then a :class:`jaxnn.Linear`.

    >>> layer = LazyLinear(4, rngs=nnx.Rngs(0))
    >>> layer(jnp.ones((2, 3))).shape, type(layer).__name__
    ((2, 4), 'Linear')
    """

    cls_to_become = "Linear"
    _needs_rngs = True

    def _size_from_input(self, x: Any) -> int:
        if np.ndim(x) == 0:
            raise ValueError(f"LazyLinear: input must have at least 1 dimension, got shape {np.shape(x)}")
        return np.shape(x)[-1]

    def _size_from_state(self, prefix: str, state_dict: Mapping[str, Any]) -> Optional[int]:
        shape = _shape(state_dict, prefix + "weight")
        return None if shape is None else shape[1]


class _LazyConv(_LazyModule):
    """``in_channels`` from axis 1 of a batched input, axis 0 of an unbatched one (torch's rule)."""

    _nd: int
    _transposed: bool = False
    _needs_rngs = True

    def _size_from_input(self, x: Any) -> int:
        ndim = np.ndim(x)
        if ndim not in (self._nd + 1, self._nd + 2):
            raise ValueError(
                f"{type(self).__name__}: expected {self._nd + 1}D (unbatched) or {self._nd + 2}D (batched) "
                f"input, got shape {np.shape(x)}"
            )
        return np.shape(x)[1] if ndim == self._nd + 2 else np.shape(x)[0]

    def _size_from_state(self, prefix: str, state_dict: Mapping[str, Any]) -> Optional[int]:
        shape = _shape(state_dict, prefix + "weight")
        if shape is None:
            return None
        return shape[0] if self._transposed else shape[1] * self._option("groups", 1)


class LazyConv1d(_LazyConv):
    """torch.nn.LazyConv1d(out_channels, kernel_size, ...): then a :class:`jaxnn.Conv1d`."""

    cls_to_become, _nd = "Conv1d", 1


class LazyConv2d(_LazyConv):
    """torch.nn.LazyConv2d(out_channels, kernel_size, ...): then a :class:`jaxnn.Conv2d`."""

    cls_to_become, _nd = "Conv2d", 2


class LazyConv3d(_LazyConv):
    """torch.nn.LazyConv3d(out_channels, kernel_size, ...): then a ``jaxnn.Conv3d``."""

    cls_to_become, _nd = "Conv3d", 3


class LazyConvTranspose1d(_LazyConv):
    """torch.nn.LazyConvTranspose1d(out_channels, kernel_size, ...): then a :class:`jaxnn.ConvTranspose1d`."""

    cls_to_become, _nd, _transposed = "ConvTranspose1d", 1, True


class LazyConvTranspose2d(_LazyConv):
    """torch.nn.LazyConvTranspose2d(out_channels, kernel_size, ...): then a :class:`jaxnn.ConvTranspose2d`."""

    cls_to_become, _nd, _transposed = "ConvTranspose2d", 2, True


class LazyConvTranspose3d(_LazyConv):
    """torch.nn.LazyConvTranspose3d(out_channels, kernel_size, ...): then a ``jaxnn.ConvTranspose3d``."""

    cls_to_become, _nd, _transposed = "ConvTranspose3d", 3, True


class _LazyNorm(_LazyModule):
    """``num_features`` from the input's axis 1 (torch's ``_LazyNormBase`` reads ``shape[1]``
    for unbatched input too); from a state dict, the length of ``weight`` or ``running_mean``."""

    def _size_from_input(self, x: Any) -> int:
        if np.ndim(x) < 2:
            raise ValueError(f"{type(self).__name__}: expected an input with a channel axis 1, got shape {np.shape(x)}")
        return np.shape(x)[1]

    def _size_from_state(self, prefix: str, state_dict: Mapping[str, Any]) -> Optional[int]:
        for key in ("weight", "running_mean"):
            shape = _shape(state_dict, prefix + key)
            if shape is not None:
                return shape[0]
        return None


class LazyBatchNorm1d(_LazyNorm):
    """torch.nn.LazyBatchNorm1d(eps, momentum, affine, track_running_stats): then a :class:`jaxnn.BatchNorm1d`."""

    cls_to_become = "BatchNorm1d"


class LazyBatchNorm2d(_LazyNorm):
    """torch.nn.LazyBatchNorm2d(...): then a :class:`jaxnn.BatchNorm2d`."""

    cls_to_become = "BatchNorm2d"


class LazyBatchNorm3d(_LazyNorm):
    """torch.nn.LazyBatchNorm3d(...): then a :class:`jaxnn.BatchNorm3d`."""

    cls_to_become = "BatchNorm3d"


class _LazyInstanceNorm(_LazyNorm):
    """torch's lazy instance norms default to ``affine=True, track_running_stats=True``
    (its ``_LazyNormBase`` defaults), unlike the eager InstanceNorm*d (both False);
    the materialised layer keeps them."""

    def __init__(
        self,
        eps: float = 1e-5,
        momentum: Optional[float] = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            eps=eps, momentum=momentum, affine=affine, track_running_stats=track_running_stats, bias=bias,
            rngs=rngs, dtype=dtype,
        )


class LazyInstanceNorm1d(_LazyInstanceNorm):
    """torch.nn.LazyInstanceNorm1d(eps, momentum, affine, track_running_stats): then a ``jaxnn.InstanceNorm1d``."""

    cls_to_become = "InstanceNorm1d"


class LazyInstanceNorm2d(_LazyInstanceNorm):
    """torch.nn.LazyInstanceNorm2d(...): then a ``jaxnn.InstanceNorm2d``."""

    cls_to_become = "InstanceNorm2d"


class LazyInstanceNorm3d(_LazyInstanceNorm):
    """torch.nn.LazyInstanceNorm3d(...): then a ``jaxnn.InstanceNorm3d``."""

    cls_to_become = "InstanceNorm3d"
