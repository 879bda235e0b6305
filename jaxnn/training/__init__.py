"""The training cycle: pure jitted steps over explicit pytrees, the ``fit`` loop, checkpoints.

``jaxnn/__init__`` re-exports ``__all__`` at the top level (``jaxnn.fit``), so it
lists only the cycle's main names; metrics and the data-parallel helpers stay
under :mod:`jaxnn.training.metrics` and :mod:`jaxnn.training.parallel`.
"""

from . import metrics, parallel
from .callbacks import Callback, EarlyStopping
from .checkpoint import Checkpointer
from .history import History
from .loop import NonFiniteLossError, fit
from .precision import dynamic_loss_scale
from .step import make_eval_step, make_multi_step, make_train_step, split_model

__all__ = [
    "make_train_step",
    "make_eval_step",
    "make_multi_step",
    "split_model",
    "fit",
    "History",
    "Callback",
    "EarlyStopping",
    "NonFiniteLossError",
    "Checkpointer",
    "dynamic_loss_scale",
]
