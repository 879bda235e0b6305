"""torch.nn.functional's losses and activations as pure JAX functions.

Same names, positional order, keyword names and defaults as PyTorch 2.13.
"""

from .regression import *  # noqa: F401,F403
from .regression import __all__ as _regression_all
from .probabilistic import *  # noqa: F401,F403
from .probabilistic import __all__ as _probabilistic_all
from .classification import *  # noqa: F401,F403
from .classification import __all__ as _classification_all
from .embedding import *  # noqa: F401,F403
from .embedding import __all__ as _embedding_all
from .sequence import *  # noqa: F401,F403
from .sequence import __all__ as _sequence_all
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation_all

__all__ = [
    *_regression_all,
    *_probabilistic_all,
    *_classification_all,
    *_embedding_all,
    *_sequence_all,
    *_activation_all,
]
