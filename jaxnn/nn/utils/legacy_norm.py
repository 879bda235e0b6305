"""torch's legacy (hook-based) ``weight_norm`` / ``spectral_norm`` and their removal.

torch deletes the parameter, registers ``<name>_g`` / ``<name>_v`` (weight norm)
or ``<name>_orig`` plus the buffers ``<name>_u`` / ``<name>_v`` (spectral
norm), and recomputes ``module.<name>`` in a forward pre-hook. jaxnn has no
hooks: the module's class is replaced by a subclass of the same name whose
``<name>`` is a property computing the weight when the forward pass reads it,
so the keys, values and gradients are torch's. Spectral norm's power
iteration runs on each training-mode read (once per forward for the layers
here, as torch's hook) and writes ``<name>_u`` / ``<name>_v``.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import nnx

from ...parameter import Buffer, Parameter
from . import _norm_ops

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


@dataclasses.dataclass(frozen=True)
class _WeightNormFn:
    name: str
    dim: int

    def compute(self, module: Any) -> jax.Array:
        g = getattr(module, self.name + "_g")[...]
        v = getattr(module, self.name + "_v")[...]
        return _norm_ops.weight_norm(v, g, self.dim)

    def variables(self) -> tuple[str, ...]:
        return (self.name + "_g", self.name + "_v")


@dataclasses.dataclass(frozen=True)
class _SpectralNormFn:
    name: str
    n_power_iterations: int
    dim: int
    eps: float

    def compute(self, module: Any) -> jax.Array:
        weight = getattr(module, self.name + "_orig")[...]
        u_var, v_var = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        u, v = u_var[...], v_var[...]
        weight_mat = _norm_ops.weight_matrix(weight, self.dim)
        if module.training:
            u, v = _norm_ops.power_iteration(weight_mat, u, v, self.n_power_iterations, self.eps, u_first=False)
            u_var[...] = u
            v_var[...] = v
        return weight / _norm_ops.sigma(weight_mat, u, v)

    def variables(self) -> tuple[str, ...]:
        return (self.name + "_orig", self.name + "_u", self.name + "_v")


def _hooks(module: Any) -> dict[str, Any]:
    return dict(type(module).__dict__.get("_legacy_norms", {}))


def _install(module: Any, fn: Any) -> None:
    """Gives ``module`` a class of the same name whose ``fn.name`` is computed by ``fn``."""
    hooks = _hooks(module)
    if "_legacy_norms" not in type(module).__dict__:
        cls = type(module)
        new_cls = type(cls.__name__, (cls,), {"__module__": cls.__module__, "_legacy_norms": {}})
        object.__setattr__(module, "__class__", new_cls)
    hooks[fn.name] = fn
    type(module)._legacy_norms = hooks
    setattr(type(module), fn.name, property(fn.compute))


def _variable(module: Any, name: str, what: str) -> nnx.Variable:
    variable = vars(module).get(name)
    if not isinstance(variable, nnx.Variable):
        raise ValueError(f"{what}: module {type(module).__name__} has no parameter named '{name}'")
    return variable


def weight_norm(module: nnx.Module, name: str = "weight", dim: Optional[int] = 0) -> nnx.Module:
    """torch's deprecated ``nn.utils.weight_norm``: ``<name>`` becomes ``g * v / ||v||`` with
    parameters ``<name>_g`` (norms over every axis but ``dim``, size-1 axes kept; ``dim=None``
    one norm, 0-d) and ``<name>_v`` (the current weight). Warns ``FutureWarning`` as torch;
    prefer :func:`jaxnn.nn.utils.parametrizations.weight_norm`. Returns ``module``."""
    warnings.warn(
        "`torch.nn.utils.weight_norm` is deprecated in favor of `torch.nn.utils.parametrizations.weight_norm`.",
        FutureWarning,
        stacklevel=2,
    )
    if name in _hooks(module):
        raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    fn = _WeightNormFn(name, -1 if dim is None else dim)
    weight = _variable(module, name, "weight_norm")[...]
    delattr(module, name)
    setattr(module, name + "_g", Parameter(_norm_ops.norm_except_dim(weight, fn.dim)))
    setattr(module, name + "_v", Parameter(weight))
    _install(module, fn)
    return module


def spectral_norm(
    module: nnx.Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: Optional[int] = None,
    *,
    rngs: Optional[nnx.Rngs] = None,
) -> nnx.Module:
    """torch's legacy ``nn.utils.spectral_norm``: ``<name>`` becomes ``W / sigma(W)`` with the
    parameter ``<name>_orig`` and power-iteration buffers ``<name>_u``, ``<name>_v``.

    In training mode every read of the weight runs ``n_power_iterations`` rounds
    (``v`` first, then ``u``, torch's legacy order) and stores them; eval mode uses
    the stored vectors. ``u``, ``v`` start as normalised normal draws from ``rngs``
    (a fixed key when ``None``), without the warm-up rounds of the parametrization.
    ``dim=None``: 1 for transposed convolutions, else 0. Returns ``module``.
    """
    from .parametrizations import _default_dim

    if n_power_iterations <= 0:
        raise ValueError(
            f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
        )
    if name in _hooks(module):
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    variable = _variable(module, name, "spectral_norm")
    weight = variable[...]
    fn = _SpectralNormFn(name, n_power_iterations, _default_dim(module) if dim is None else dim, eps)
    h, w = _norm_ops.weight_matrix(weight, fn.dim).shape
    key_u, key_v = jax.random.split(rngs.params() if rngs is not None else jax.random.key(0))
    delattr(module, name)
    setattr(module, name + "_orig", variable)
    setattr(module, name + "_u", Buffer(_norm_ops.normalize(jax.random.normal(key_u, (h,), weight.dtype), eps)))
    setattr(module, name + "_v", Buffer(_norm_ops.normalize(jax.random.normal(key_v, (w,), weight.dtype), eps)))
    _install(module, fn)
    return module


def _remove(module: nnx.Module, name: str, kind: type[Any], what: str) -> nnx.Module:
    fn = _hooks(module).get(name)
    if not isinstance(fn, kind):
        raise ValueError(f"{what} of '{name}' not found in {type(module).__name__}")
    training = getattr(module, "training")  # a jaxnn Module's flag; nnx.Module has none
    object.__setattr__(module, "training", False)
    weight = jax.lax.stop_gradient(getattr(module, name))
    object.__setattr__(module, "training", training)
    delattr(type(module), name)
    hooks = _hooks(module)
    del hooks[name]
    setattr(type(module), "_legacy_norms", hooks)
    for variable in fn.variables():
        delattr(module, variable)
    setattr(module, name, Parameter(jnp.asarray(weight)))
    if not hooks:
        object.__setattr__(module, "__class__", type(module).__bases__[0])
    return module


def remove_weight_norm(module: nnx.Module, name: str = "weight") -> nnx.Module:
    """Undoes :func:`weight_norm`: ``<name>`` is a plain parameter holding the current weight."""
    return _remove(module, name, _WeightNormFn, "weight_norm")


def remove_spectral_norm(module: nnx.Module, name: str = "weight") -> nnx.Module:
    """Undoes :func:`spectral_norm`: ``<name>`` is a plain parameter holding the current
    normalised weight (computed without a power round, as torch)."""
    return _remove(module, name, _SpectralNormFn, "spectral_norm")
