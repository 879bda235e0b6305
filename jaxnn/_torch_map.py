"""The map from torch's public names to jaxnn's: the one table behind the coverage
test (``tests/test_coverage.py``) and the "torch to jaxnn" documentation page.

Every public name of the torch namespaces in :data:`NAMESPACES` has a jaxnn
counterpart of the same name in the matching jaxnn namespace, unless it is in
:data:`ABSENT` with the reason. The torch names are read from the installed
torch, so a name a new torch release adds fails the coverage test until it is
ported or listed here.

>>> from jaxnn import _torch_map
>>> _torch_map.counterpart("torch.nn", "Linear")
'jaxnn.Linear'
"""

from __future__ import annotations

import importlib
import inspect
from typing import Iterator, Optional

__all__ = ["NAMESPACES", "ABSENT", "torch_names", "counterpart", "rows"]

# torch namespace -> the jaxnn namespace holding its counterparts.
NAMESPACES: dict[str, str] = {
    "torch.nn": "jaxnn",
    "torch.nn.functional": "jaxnn.functional",
    "torch.nn.utils": "jaxnn.nn.utils",
    "torch.nn.utils.rnn": "jaxnn.nn.utils.rnn",
    "torch.nn.utils.parametrize": "jaxnn.nn.utils.parametrize",
    "torch.nn.utils.parametrizations": "jaxnn.nn.utils.parametrizations",
    "torch.optim": "jaxnn.optim",
    "torch.optim.lr_scheduler": "jaxnn.optim.lr_scheduler",
    "torch.optim.swa_utils": "jaxnn.optim.swa_utils",
}

_IN_PLACE = (
    "in-place form: JAX arrays are immutable, so a function that relies on mutating its "
    "input cannot be honoured; call the out-of-place form ({0}) and use its result "
    "(jaxnn's layers accept inplace= and ignore it)"
)
_DISPATCH = "torch's __torch_function__ dispatch machinery; JAX arrays have no such protocol"

# "namespace.name" -> why jaxnn has no counterpart.
ABSENT: dict[str, str] = {
    **{
        f"torch.nn.functional.{name}_": _IN_PLACE.format(f"jaxnn.functional.{name}")
        for name in ("relu", "elu", "celu", "selu", "hardtanh", "leaky_relu", "rrelu", "threshold")
    },
    "torch.nn.functional.handle_torch_function": _DISPATCH,
    "torch.nn.functional.has_torch_function": _DISPATCH,
    "torch.nn.functional.has_torch_function_unary": _DISPATCH,
    "torch.nn.functional.has_torch_function_variadic": _DISPATCH,
    "torch.nn.functional.boolean_dispatch": "an internal helper torch uses to build F's functions",
    "torch.nn.functional.assert_int_or_pair": "an internal helper torch uses to build F's functions",
    "torch.nn.functional.scaled_mm": (
        "CUDA fp8/MX matmul driven by torch's scaling-recipe and swizzle enums; in JAX use "
        "jax.nn.scaled_matmul or lax.dot_general with preferred_element_type"
    ),
    "torch.nn.functional.scaled_grouped_mm": (
        "CUDA fp8/MX grouped matmul driven by torch's scaling-recipe and swizzle enums; in JAX "
        "use jax.lax.ragged_dot on dequantised operands"
    ),
    "torch.nn.utils.convert_conv2d_weight_memory_format": (
        "memory formats (channels_last) are an ATen storage detail; XLA picks layouts itself"
    ),
    "torch.nn.utils.convert_conv3d_weight_memory_format": (
        "memory formats (channels_last) are an ATen storage detail; XLA picks layouts itself"
    ),
    "torch.nn.utils.skip_init": (
        "allocates a module without initialising it; JAX arrays are created with values "
        "(build with any rngs, then load_state_dict)"
    ),
    "torch.nn.utils.stateless": (
        "functional_call over a module's tensors; a jaxnn model is already functional: "
        "nnx.split / nnx.merge"
    ),
    "torch.optim.swap_in_optimizer_params_and_state": (
        "swaps a stateful optimizer's tensors in place; jaxnn's optimizer state is an explicit "
        "pytree you pass to update()"
    ),
    "torch.optim.Optimizer": (
        "torch's stateful base class; jaxnn's optimizers are optax GradientTransformations "
        "(jaxnn.optim.TorchOptimizer), their state an explicit pytree"
    ),
    "torch.optim.lr_scheduler.LRScheduler": (
        "torch's stateful base class; jaxnn's schedulers are optax schedules (functions of the step)"
    ),
}


def _public(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", "").startswith(("torch", module.__name__))
        ]
    return sorted(n for n in names if not n.startswith("_"))


def _functional() -> list[str]:
    """torch.nn.functional's public functions (it has no ``__all__``)."""
    import torch.nn.functional as TF

    return sorted(
        n
        for n, obj in vars(TF).items()
        if not n.startswith("_") and callable(obj) and not inspect.isclass(obj) and not inspect.ismodule(obj)
        and not str(getattr(obj, "__module__", "")).startswith("typing")
    )


def torch_names(namespace: str) -> list[str]:
    """The public names of a torch namespace, read from the installed torch."""
    if namespace == "torch.nn":
        return sorted(importlib.import_module("torch.nn.modules").__all__)
    if namespace == "torch.nn.functional":
        return _functional()
    return _public(importlib.import_module(namespace))


def counterpart(namespace: str, name: str) -> Optional[str]:
    """The dotted jaxnn name for ``namespace.name``, or None if jaxnn has none."""
    target = NAMESPACES[namespace]
    try:
        module = importlib.import_module(target)
    except ImportError:
        return None
    return f"{target}.{name}" if hasattr(module, name) else None


def rows() -> Iterator[tuple[str, str, Optional[str], Optional[str]]]:
    """``(namespace, name, jaxnn name or None, reason or None)`` for every torch name."""
    for namespace in NAMESPACES:
        for name in torch_names(namespace):
            yield namespace, name, counterpart(namespace, name), ABSENT.get(f"{namespace}.{name}")
