"""Variable kinds: learnable parameters, frozen parameters and buffers.

torch tells these apart with ``requires_grad`` and ``register_buffer``; nnx
tells them apart by variable type, and its filters (``nnx.split(model,
nnx.Param, ...)``) select on that type. So:

* :class:`Parameter` is an ``nnx.Param``: learnable, in the parameter state.
* ``Parameter(x, requires_grad=False)`` builds a :class:`FrozenParameter`, which
  is *not* an ``nnx.Param``: kept in the state dict, left out of gradients.
* :class:`Buffer` is torch's ``register_buffer`` (running statistics, counters).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = ["Parameter", "FrozenParameter", "Buffer"]


def _to_array(value: Any) -> Any:
    # A torch tensor's .numpy() shares its storage, and jnp.asarray may share that
    # (zero-copy on CPU): copy, so an in-place torch update never reaches the array.
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = np.array(value.detach().cpu().numpy(), copy=True)
    return jnp.asarray(value) if value is not None else value


class FrozenParameter(nnx.Variable):
    """A parameter with ``requires_grad=False``: saved and loaded, never differentiated."""


class Buffer(nnx.Variable):
    """Non-learnable module state, torch's ``register_buffer``.

    Args:
      value: the array (anything ``jnp.asarray`` takes, torch tensors too).
    """

    def __init__(self, value: Any, **metadata: Any) -> None:
        super().__init__(_to_array(value), **metadata)


class Parameter(nnx.Param):
    """A learnable array, torch's ``nn.Parameter``.

    Args:
      value: the initial array (anything ``jnp.asarray`` takes, torch tensors too).
      requires_grad: ``False`` returns a :class:`FrozenParameter` instead, which
        nnx's ``Param`` filter leaves out, as torch's optimizers skip such tensors.
    """

    def __new__(cls, value: Any = None, requires_grad: bool = True, **metadata: Any):
        if not requires_grad:
            return FrozenParameter(_to_array(value), **metadata)
        return super().__new__(cls)

    def __init__(self, value: Any, requires_grad: bool = True, **metadata: Any) -> None:
        super().__init__(_to_array(value), **metadata)

    @property
    def requires_grad(self) -> bool:
        return True
