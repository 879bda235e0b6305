"""``torch.optim.NAdam``: Nesterov Adam with momentum_decay and torch's mu_product state."""

from __future__ import annotations

import math
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

__all__ = ["NAdam"]


def _mu(beta1, momentum_decay, t):
    return beta1 * (1.0 - 0.5 * jnp.exp(t * (momentum_decay * math.log(0.96))))


def _step(group, t, lr, g, p, slots):
    beta1, beta2 = group["betas"]
    mu = _mu(beta1, group["momentum_decay"], t)
    mu_next = _mu(beta1, group["momentum_decay"], t + 1)
    mu_product = slots["mu_product"] * mu
    m, v = moments(slots, g, beta1, beta2)
    denom = jnp.sqrt(v / one_minus_pow(beta2, t)) + group["eps"]
    grad_coef = -lr * (1.0 - mu) / (1.0 - mu_product)
    avg_coef = (-lr * mu_next) / (1.0 - mu_product * mu_next)
    update = addcdiv_term(grad_coef, g, denom) + addcdiv_term(avg_coef, m, denom)
    return update, {"mu_product": mu_product, "exp_avg": m, "exp_avg_sq": v}


RULE = Rule(
    "NAdam",
    lambda group: ("mu_product", "exp_avg", "exp_avg_sq"),
    _step,
    decoupled=lambda group: group["decoupled_weight_decay"],
    init={"mu_product": lambda group, p: jnp.ones([], jnp.promote_types(p.dtype, jnp.float32))},
)


@rejects_parameters
def NAdam(
    lr: ScalarOrSchedule = 2e-3,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    foreach: Optional[bool] = None,
    maximize: bool = False,
    capturable: bool = False,
    differentiable: bool = False,
) -> TorchOptimizer:
    """NAdam as torch computes it (optax's ``nadam`` has no momentum schedule).

    Per step ``t`` (``g`` negated first if ``maximize``)::

        g = g + weight_decay * p    (or p = p * (1 - lr * weight_decay) if decoupled)
        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay));  P_t = P_{t-1} * mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    ``P`` is torch's ``mu_product``, kept per parameter as a scalar in the
    parameter's dtype, at least float32 (torch: its default scalar dtype,
    float32 unless the default dtype is float64).

    Args:
      lr: a float or an optax schedule of the step count.
      betas, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize: as in torch.
      foreach, capturable, differentiable: accepted for torch compatibility.

    Raises:
      ValueError: negative ``lr``/``eps``/``weight_decay``/``momentum_decay`` or
        betas outside [0, 1).

    Reference: ``torch.optim.NAdam``.

    Example:
      >>> tx = NAdam(lr=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.8943548, 2.1056452], dtype=float32)}
    """
    group = adam_family_group(
        lr, betas, eps, weight_decay, nonnegative=("momentum_decay",), momentum_decay=momentum_decay,
        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
        capturable=capturable, differentiable=differentiable,
    )
    return build(RULE, [group])
