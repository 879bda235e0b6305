"""torch.nn.utils' gradient clipping, for code that imports it from there.

The implementations live in :mod:`jaxnn.optim.clip` (pure functions on gradient
pytrees and their optax transformations).
"""

from ...optim.clip import clip_grad_norm, clip_grad_norm_, clip_grad_value, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grad_value"]
