"""``torch.optim.SGD``: momentum, dampening, Nesterov, L2 weight decay, maximize."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, build, check_nonnegative

__all__ = ["SGD"]


def _slots(group):
    return ("momentum_buffer",) if callable(group["momentum"]) or group["momentum"] != 0 else ()


def _step(group, t, lr, g, p, slots):
    momentum = group["momentum"]
    if "momentum_buffer" in slots:  # momentum != 0, or scheduled (a traced value here)
        buf = slots["momentum_buffer"]
        # torch's buffer starts as the first (decayed) gradient; dampening applies from step 2.
        buf = jnp.where(t == 1, g, buf * momentum + (1 - group["dampening"]) * g)
        slots = {"momentum_buffer": buf}
        g = g + momentum * buf if group["nesterov"] else buf
    return -lr * g, slots


RULE = Rule("SGD", _slots, _step)


@rejects_parameters
def SGD(
    lr: ScalarOrSchedule = 1e-3,
    momentum: float = 0,
    dampening: float = 0,
    weight_decay: float = 0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
    foreach: Optional[bool] = None,
    differentiable: bool = False,
    fused: Optional[bool] = None,
) -> TorchOptimizer:
    """Stochastic gradient descent with torch's momentum convention.

    Per step (``g`` the gradient, negated first if ``maximize``)::

        g = g + weight_decay * p
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g (later steps)
        g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    Args:
      lr: learning rate, a float or an optax schedule of the step count.
      momentum, dampening, weight_decay, nesterov, maximize: as in torch.
      foreach, differentiable, fused: accepted for torch compatibility; they
        choose torch kernels and change nothing here.

    Raises:
      ValueError: negative ``lr``/``momentum``/``weight_decay``, or ``nesterov``
        without momentum or with dampening (torch's messages).

    Reference: ``torch.optim.SGD`` (its ``lr`` default is 1e-3 in torch 2.13).

    Example:
      >>> tx = SGD(lr=0.1, momentum=0.9)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.9, 2.1], dtype=float32)}
    """
    check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    group = dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov, maximize=maximize, foreach=foreach,
        differentiable=differentiable, fused=fused,
    )
    return build(RULE, [group])
