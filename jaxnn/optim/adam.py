"""``torch.optim.Adam`` (L2 or decoupled weight decay, AMSGrad on the raw second moment)."""

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
    moments,
    one_minus_pow,
)

__all__ = ["Adam"]


def _slots(group):
    return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())


def _step(group, t, lr, g, p, slots):
    beta1, beta2 = group["betas"]
    m, v = moments(slots, g, beta1, beta2)
    new = {"exp_avg": m, "exp_avg_sq": v}
    step_size = lr / one_minus_pow(beta1, t)
    bias_correction2_sqrt = jnp.sqrt(one_minus_pow(beta2, t))
    if group["amsgrad"]:
        v = new["max_exp_avg_sq"] = jnp.maximum(slots["max_exp_avg_sq"], v)
    denom = jnp.sqrt(v) / bias_correction2_sqrt + group["eps"]
    return addcdiv_term(-step_size, m, denom), new


RULE = Rule("Adam", _slots, _step, decoupled=lambda group: group["decoupled_weight_decay"])


@rejects_parameters
def Adam(
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsgrad: bool = False,
    *,
    foreach: Optional[bool] = None,
    maximize: bool = False,
    capturable: bool = False,
    differentiable: bool = False,
    fused: Optional[bool] = None,
    decoupled_weight_decay: bool = False,
) -> TorchOptimizer:
    """Adam as torch computes it.

    Per step ``t`` (``g`` negated first if ``maximize``)::

        g = g + weight_decay * p          (or p = p * (1 - lr * weight_decay)
                                           if decoupled_weight_decay)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)              (amsgrad: on the raw v, then corrected)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Bias corrections use ``-expm1(t * log(beta))``: torch computes them in
    double on the host, and ``1 - beta**t`` in float32 would drift.

    Args:
      lr: a float or an optax schedule of the step count.
      betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay: as torch.
      foreach, capturable, differentiable, fused: accepted for torch
        compatibility; they change nothing here.

    Raises:
      ValueError: negative ``lr``/``eps``/``weight_decay`` or betas outside [0, 1).

    Reference: ``torch.optim.Adam``.

    Example:
      >>> tx = Adam(lr=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.9, 2.1], dtype=float32)}
    """
    group = adam_family_group(
        lr, betas, eps, weight_decay, same_kind_betas=True, amsgrad=amsgrad, maximize=maximize,
        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
        decoupled_weight_decay=decoupled_weight_decay,
    )
    return build(RULE, [group])
