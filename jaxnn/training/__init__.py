"""The training cycle: pure jitted steps over explicit pytrees, the ``fit`` loop, checkpoints.

``jaxnn/__init__`` re-exports ``__all__`` at the top level (``jaxnn.fit``), so it
lists only the cycle's main names; metrics and the data-parallel helpers stay
under :mod:`jaxnn.training.metrics` and :mod:`jaxnn.training.parallel`.
"""

from . import metrics as metrics
from . import parallel as parallel
from .callbacks import Callback as Callback
from .callbacks import CSVLogger as CSVLogger
from .callbacks import EarlyStopping as EarlyStopping
from .callbacks import TensorBoardLogger as TensorBoardLogger
from .checkpoint import Checkpointer as Checkpointer
from .history import History as History
from .loop import NonFiniteLossError as NonFiniteLossError
from .loop import fit as fit
from .precision import dynamic_loss_scale as dynamic_loss_scale
from .precision import find_loss_scale as find_loss_scale
from .step import StepOptions as StepOptions
from .step import make_eval_step as make_eval_step
from .step import make_multi_step as make_multi_step
from .step import make_train_step as make_train_step
from .step import split_model as split_model

__all__ = [
    "make_train_step",
    "make_eval_step",
    "make_multi_step",
    "split_model",
    "fit",
    "History",
    "Callback",
    "EarlyStopping",
    "CSVLogger",
    "TensorBoardLogger",
    "NonFiniteLossError",
    "Checkpointer",
    "dynamic_loss_scale",
    "find_loss_scale",
    "StepOptions",
]
