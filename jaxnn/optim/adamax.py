"""``torch.optim.Adamax``: Adam with an infinity-norm second moment."""

from __future__ import annotations

from typing import Optional, Sequence

import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import (
    Rule,
    addcdiv_term,
    ScalarOrSchedule,
    TorchOptimizer,
    adam_family_group,
    build,
    lerp,
    one_minus_pow,
)

__all__ = ["Adamax"]


def _step(group, t, lr, g, p, slots):
    beta1, beta2 = group["betas"]
    exp_avg = lerp(slots["exp_avg"], g, 1 - beta1)
    exp_inf = jnp.maximum(slots["exp_inf"] * beta2, jnp.abs(g) + group["eps"])
    clr = lr / one_minus_pow(beta1, t)
    return addcdiv_term(-clr, exp_avg, exp_inf), {"exp_avg": exp_avg, "exp_inf": exp_inf}


RULE = Rule("Adamax", lambda group: ("exp_avg", "exp_inf"), _step)


@rejects_parameters
def Adamax(
    lr: ScalarOrSchedule = 2e-3,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    foreach: Optional[bool] = None,
    *,
    maximize: bool = False,
    differentiable: bool = False,
    capturable: bool = False,
) -> TorchOptimizer:
    """Adamax as torch computes it (eps is added to ``|g|`` inside the max).

    Per step ``t`` (``g`` negated first if ``maximize``)::

        g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    Args:
      lr: a float or an optax schedule of the step count.
      betas, eps, weight_decay, maximize: as in torch.
      foreach, differentiable, capturable: accepted for torch compatibility.

    Raises:
      ValueError: negative ``lr``/``eps``/``weight_decay`` or betas outside [0, 1).

    Reference: ``torch.optim.Adamax``.

    Example:
      >>> tx = Adamax(lr=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.9, 2.1], dtype=float32)}
    """
    group = adam_family_group(
        lr, betas, eps, weight_decay, foreach=foreach, maximize=maximize,
        differentiable=differentiable, capturable=capturable,
    )
    return build(RULE, [group])
