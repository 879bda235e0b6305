"""jaxnn: PyTorch's torch.nn core as pure, jit-compiled JAX with torch's numbers.

The public face only re-exports: losses and activations live in
:mod:`jaxnn.functional`, criterion classes in :mod:`jaxnn.losses`, layers in
:mod:`jaxnn.nn`, optimizers in :mod:`jaxnn.optim`, the training cycle in
:mod:`jaxnn.training`.
"""

from . import functional
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses_all
from .module import Module
from .nn import *  # noqa: F401,F403
from .nn import __all__ as _nn_all
from .parameter import Buffer, FrozenParameter, Parameter
from .state_dict import *  # noqa: F401,F403
from .state_dict import __all__ as _state_dict_all
from . import init, optim, training
from .training import *  # noqa: F401,F403
from .training import __all__ as _training_all

__version__ = "0.1.0"

__all__ = [
    "Parameter",
    "FrozenParameter",
    "Buffer",
    "Module",
    "functional",
    "init",
    "optim",
    "training",
    *_losses_all,
    *_nn_all,
    *_state_dict_all,
    *_training_all,
]
