"""torch-layout layers on flax.nnx: torch's names, arguments, parameter shapes,
channels-first layouts and default initialisation. Every layer is a
:class:`jaxnn.Module` and takes ``rngs=nnx.Rngs(...)`` by keyword (required
where the initial parameters are random, accepted elsewhere)."""

from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation_all
from .container import *  # noqa: F401,F403
from .container import __all__ as _container_all
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv_all
from .dropout import *  # noqa: F401,F403
from .dropout import __all__ as _dropout_all
from .embedding import *  # noqa: F401,F403
from .embedding import __all__ as _embedding_all
from .linear import *  # noqa: F401,F403
from .linear import __all__ as _linear_all
from .norm import *  # noqa: F401,F403
from .norm import __all__ as _norm_all
from .pooling import *  # noqa: F401,F403
from .pooling import __all__ as _pooling_all
from . import utils

__all__ = [
    *_linear_all,
    *_container_all,
    *_conv_all,
    *_norm_all,
    *_embedding_all,
    *_dropout_all,
    *_pooling_all,
    *_activation_all,
]
