"""``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2)."""

from __future__ import annotations

from typing import Optional, Sequence

from . import adam
from ._core import rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, adam_family_group, build

__all__ = ["AdamW"]

RULE = Rule("AdamW", adam.RULE.slots, adam.RULE.step, decoupled=lambda group: True)


@rejects_parameters
def AdamW(
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    foreach: Optional[bool] = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: Optional[bool] = None,
) -> TorchOptimizer:
    """Adam with decoupled weight decay: ``p = p * (1 - lr * weight_decay)`` before the Adam step.

    ``lr`` here is the scheduled learning rate of the step, as torch uses
    ``group['lr']`` after the scheduler moved it. The default weight decay is
    torch's 1e-2 (optax's ``adamw``: 1e-4). See :func:`jaxnn.optim.Adam` for the
    step and the arguments.

    Reference: ``torch.optim.AdamW``.

    Example:
      >>> tx = AdamW(lr=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.899, 2.098], dtype=float32)}
    """
    group = adam_family_group(
        lr, betas, eps, weight_decay, same_kind_betas=True, amsgrad=amsgrad, maximize=maximize,
        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
        decoupled_weight_decay=True,
    )
    return build(RULE, [group])
