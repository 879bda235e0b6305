"""torch.nn.utils: gradient clipping, and (as they land) packing of sequences,
parametrizations and parameter/vector conversion, each in its own module."""

from .clip_grad import clip_grad_norm as clip_grad_norm
from .clip_grad import clip_grad_norm_ as clip_grad_norm_
from .clip_grad import clip_grad_value as clip_grad_value
from .clip_grad import clip_grad_value_ as clip_grad_value_

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grad_norm",
    "clip_grad_value",
]
