"""Errors that turn a torch habit into the jaxnn call to write instead.

A porter's torch code passes torch objects where jaxnn expects its own (a
``torch.nn.Module`` as the model of :func:`jaxnn.state_dict`) or calls in torch's
shape (``SGD(model.parameters(), lr=0.1)``). Python's own error for those says
nothing useful ("got multiple values for argument 'lr'", or an empty result);
these helpers say what to write.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Callable, Mapping, TypeVar

import jax
import numpy as np
from flax import nnx

__all__ = ["is_torch", "torch_twin", "reject_torch_module", "rejects_parameters"]

F = TypeVar("F", bound=Callable[..., Any])


def is_torch(obj: Any) -> bool:
    """Whether ``obj`` is an instance of a class defined in torch (a Module, Tensor, Optimizer)."""
    return type(obj).__module__.split(".")[0] == "torch"


def torch_twin(obj: Any) -> str:
    """The jaxnn name of a torch object's class, or a pointer to ``jaxnn.from_torch``."""
    from . import _torch_map

    name = type(obj).__name__
    for namespace in ("torch.nn", "torch.optim"):
        twin = _torch_map.counterpart(namespace, name)
        if twin:
            return twin
    return "a jaxnn model with the same layers"


def reject_torch_module(obj: Any, argument: str, function: str) -> None:
    """Raises ``TypeError`` for a torch module given where a jaxnn/nnx model belongs."""
    if is_torch(obj) and hasattr(obj, "state_dict") and hasattr(obj, "parameters"):
        import jaxnn

        convert = (
            ", or convert the module with jaxnn.from_torch(torch_model)"
            if hasattr(jaxnn, "from_torch")
            else ""
        )
        raise TypeError(
            f"{function}: {argument} is a torch module ({type(obj).__name__}); jaxnn works on "
            f"its own modules. Build the twin ({torch_twin(obj)}) and fill it with "
            f"jaxnn.load_state_dict(jaxnn_model, torch_model.state_dict()){convert}"
        )


def _looks_like_parameters(value: Any) -> bool:
    """Whether ``value`` is parameters (a model, a state, a container or non-scalar array), not an lr."""
    if isinstance(value, (nnx.Module, nnx.State, nnx.Variable, list, tuple, Mapping, types.GeneratorType)):
        return True
    if is_torch(value) and hasattr(value, "parameters"):
        return True
    if isinstance(value, (jax.Array, np.ndarray)) or (is_torch(value) and hasattr(value, "ndim")):
        return value.ndim > 0
    return hasattr(value, "__next__")


def rejects_parameters(factory: F) -> F:
    """Decorates an optimizer factory: a torch-style first argument of parameters raises a TypeError
    that shows the jaxnn call (``tx = Factory(lr=...)``, then ``tx.init(params)``).

    torch's ``SGD(model.parameters(), lr=0.1)`` would otherwise fail with Python's
    "got multiple values for argument 'lr'" or with an array taken as ``lr``.
    """
    name = factory.__name__

    @functools.wraps(factory)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if args and _looks_like_parameters(args[0]):
            options = ", ".join(
                [repr(a) for a in args[1:]] + [f"{k}={v!r}" for k, v in kwargs.items()]
            )
            raise TypeError(
                f"jaxnn.optim.{name} takes no parameters (got {type(args[0]).__name__} as its first "
                f"argument, torch's call): it returns an optax transformation. Write "
                f"tx = jaxnn.optim.{name}({options}), then opt_state = tx.init(params) with "
                f"params = nnx.state(model, nnx.Param), and each step "
                f"updates, opt_state = tx.update(grads, opt_state, params); "
                f"params = optax.apply_updates(params, updates)"
            )
        return factory(*args, **kwargs)

    return checked  # type: ignore[return-value]
