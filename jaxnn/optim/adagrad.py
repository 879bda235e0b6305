"""``torch.optim.Adagrad``: accumulator from initial_accumulator_value, eps outside, lr_decay."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, addcdiv_term, build, check_nonnegative

__all__ = ["Adagrad"]


def _step(group, t, lr, g, p, slots):
    clr = lr / (1 + (t - 1) * group["lr_decay"])
    state_sum = slots["sum"] + g * g
    std = jnp.sqrt(state_sum) + group["eps"]
    return addcdiv_term(-clr, g, std), {"sum": state_sum}


RULE = Rule(
    "Adagrad",
    lambda group: ("sum",),
    _step,
    init={"sum": lambda group, p: jnp.full_like(p, group["initial_accumulator_value"])},
    init_from_defaults=True,
)


@rejects_parameters
def Adagrad(
    lr: ScalarOrSchedule = 1e-2,
    lr_decay: float = 0,
    weight_decay: float = 0,
    initial_accumulator_value: float = 0,
    eps: float = 1e-10,
    foreach: Optional[bool] = None,
    *,
    maximize: bool = False,
    differentiable: bool = False,
    fused: Optional[bool] = None,
) -> TorchOptimizer:
    """Adagrad as torch computes it (optax's ``adagrad``: accumulator 0.1, eps 1e-7 inside the root).

    Per step ``t`` (``g`` negated first if ``maximize``)::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                      (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    With :func:`jaxnn.optim.param_groups`, every group's accumulator starts at
    the constructor's ``initial_accumulator_value`` even if a group overrides
    it, as torch's ``Adagrad.__init__`` does.

    Args:
      lr: a float or an optax schedule of the step count.
      lr_decay, weight_decay, initial_accumulator_value, eps, maximize: as in torch.
      foreach, differentiable, fused: accepted for torch compatibility.

    Raises:
      ValueError: any of ``lr``, ``lr_decay``, ``weight_decay``,
        ``initial_accumulator_value``, ``eps`` negative.

    Reference: ``torch.optim.Adagrad``.

    Example:
      >>> tx = Adagrad(lr=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.9, 2.1], dtype=float32)}
    """
    check_nonnegative(
        lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value, eps=eps,
    )
    group = dict(
        lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
        maximize=maximize, differentiable=differentiable, fused=fused,
    )
    return build(RULE, [group])
