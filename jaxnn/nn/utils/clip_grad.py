"""torch.nn.utils' gradient clipping, for code that imports it from there.

The implementations live in :mod:`jaxnn.optim.clip` (pure functions on gradient
pytrees and their optax transformations).
"""

from ...optim.clip import clip_grad_norm as clip_grad_norm
from ...optim.clip import clip_grad_norm_ as clip_grad_norm_
from ...optim.clip import clip_grad_value as clip_grad_value
from ...optim.clip import clip_grad_value_ as clip_grad_value_
from ...optim.clip import clip_grads_with_norm_ as clip_grads_with_norm_
from ...optim.clip import get_total_norm as get_total_norm

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grad_norm",
    "clip_grad_value",
    "get_total_norm",
    "clip_grads_with_norm_",
]
