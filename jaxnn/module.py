"""``jaxnn.Module``: the base for torch-style models on Flax NNX."""

from __future__ import annotations

from flax import nnx

__all__ = ["Module"]


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

    torch's ``state_dict()``, ``load_state_dict()``, ``named_parameters()`` and
    ``parameters()`` are methods too, calling :mod:`jaxnn.state_dict`.
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

    def named_parameters(self, prefix: str = ""):
        """torch's ``named_parameters()``: see :func:`jaxnn.named_parameters`."""
        from .state_dict import named_parameters

        return named_parameters(self, prefix)

    def parameters(self):
        """torch's ``parameters()``: see :func:`jaxnn.parameters`."""
        from .state_dict import parameters

        return parameters(self)
