"""``torch.optim.RMSprop``: eps outside the square root, alpha 0.99, centered, momentum."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, addcdiv_term, build, check_nonnegative, lerp, sub_square

__all__ = ["RMSprop"]


def _slots(group):
    names: tuple[str, ...] = ("square_avg",)
    if callable(group["momentum"]) or group["momentum"] > 0:
        names += ("momentum_buffer",)
    if group["centered"]:
        names += ("grad_avg",)
    return names


def _step(group, t, lr, g, p, slots):
    alpha = group["alpha"]
    square_avg = slots["square_avg"] * alpha + (1 - alpha) * g * g
    new = {"square_avg": square_avg}
    if group["centered"]:
        grad_avg = new["grad_avg"] = lerp(slots["grad_avg"], g, 1 - alpha)
        avg = jnp.sqrt(sub_square(square_avg, grad_avg))
    else:
        avg = jnp.sqrt(square_avg)
    avg = avg + group["eps"]
    if "momentum_buffer" in slots:  # momentum > 0, or scheduled (a traced value here)
        buf = new["momentum_buffer"] = slots["momentum_buffer"] * group["momentum"] + g / avg
        return -lr * buf, new
    return addcdiv_term(-lr, g, avg), new


RULE = Rule("RMSprop", _slots, _step)


@rejects_parameters
def RMSprop(
    lr: ScalarOrSchedule = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum: float = 0,
    centered: bool = False,
    capturable: bool = False,
    foreach: Optional[bool] = None,
    maximize: bool = False,
    differentiable: bool = False,
) -> TorchOptimizer:
    """RMSprop as torch computes it (optax's ``rmsprop`` differs: eps inside the root, decay 0.9).

    Per step (``g`` negated first if ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - gbar**2) + eps,  gbar = lerp(gbar, g, 1 - alpha)  (centered)
        avg = sqrt(v) + eps                                              (otherwise)
        buf = momentum * buf + g / avg;  p = p - lr * buf   (momentum > 0; buf starts at 0)
        p = p - lr * g / avg                                (momentum == 0)

    Args:
      lr: a float or an optax schedule of the step count.
      alpha, eps, weight_decay, momentum, centered, maximize: as in torch.
      capturable, foreach, differentiable: accepted for torch compatibility.

    Raises:
      ValueError: negative ``lr``/``eps``/``momentum``/``weight_decay``/``alpha``.

    Reference: ``torch.optim.RMSprop``.

    Example:
      >>> tx = RMSprop(lr=0.01)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.90000004, 2.1       ], dtype=float32)}
    """
    check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
    group = dict(
        lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
        maximize=maximize, differentiable=differentiable,
    )
    return build(RULE, [group])
