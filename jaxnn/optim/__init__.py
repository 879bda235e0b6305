"""torch.optim as optax transformations: same names, defaults, checks and numbers.

Each optimizer returns an ``optax.GradientTransformation`` (a
:class:`TorchOptimizer`); apply its updates with ``optax.apply_updates``.
``lr`` may be a float or an optax schedule; :mod:`jaxnn.optim.lr_scheduler`
has torch's schedulers as such schedules.
"""

from . import lr_scheduler
from . import swa_utils as swa_utils
from ._core import OptimizerState, TorchOptimizer, param_groups
from ._state_dict import load_state_dict, state_dict
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .clip import clip_grad_norm, clip_grad_norm_, clip_grad_value, clip_grad_value_
from .lbfgs import LBFGS, LBFGSState
from .muon import Muon
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "NAdam",
    "RAdam",
    "Adamax",
    "Adadelta",
    "ASGD",
    "Rprop",
    "Adafactor",
    "Muon",
    "LBFGS",
    "LBFGSState",
    "SparseAdam",
    "OptimizerState",
    "TorchOptimizer",
    "param_groups",
    "lr_scheduler",
    "swa_utils",
    "state_dict",
    "load_state_dict",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grad_norm",
    "clip_grad_value",
]
