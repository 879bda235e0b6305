"""``torch.optim.RAdam``: Adam with variance rectification once rho_t > 5."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import jax
import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import (
    Rule,
    ScalarOrSchedule,
    TorchOptimizer,
    adam_family_group,
    build,
    moments,
    one_minus_pow,
)

__all__ = ["RAdam"]

# y^2/12 - y^4/720 + ...: the Bernoulli series of y / (e^y - 1) - 1 + y / 2, for |y| < 1.
_SERIES = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160)


def _h(y: jax.Array) -> jax.Array:
    y2 = y * y
    return sum(c * y2 ** (k + 1) for k, c in enumerate(_SERIES))  # type: ignore[return-value]  # _SERIES is not empty


def rho(beta2: float, t: jax.Array) -> jax.Array:
    """RAdam's ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``, accurate in float32.

    With ``x = -log(beta2)`` and ``y = t x``, ``rho_t = rho_inf - 2 t / expm1(y)``,
    which cancels for small ``y`` (two numbers near ``rho_inf``; torch avoids
    it by computing in double). There ``rho_t = t - 2 (h(y) - h(x)) / x`` with
    ``h(y) = y / expm1(y) - 1 + y / 2`` from its series: the same value
    without the cancellation.
    """
    if beta2 == 0.0:
        return jnp.ones_like(t)
    x = -math.log(beta2)
    far = (2 / (1 - beta2) - 1) - 2 * t / jnp.expm1(t * x)
    if x >= 1:
        return far
    near = t - 2 * (_h(t * x) - _h(jnp.asarray(x, t.dtype))) / x
    return jnp.where(t * x < 1, near, far)


def _step(group, t, lr, g, p, slots):
    beta1, beta2 = group["betas"]
    m, v = moments(slots, g, beta1, beta2)
    bias_corrected_exp_avg = m / one_minus_pow(beta1, t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho(beta2, t)
    rect = jnp.sqrt(
        (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    )
    adaptive_lr = jnp.sqrt(one_minus_pow(beta2, t)) / (jnp.sqrt(v) + group["eps"])
    plain = bias_corrected_exp_avg * lr
    update = jnp.where(rho_t > 5.0, plain * adaptive_lr * rect, plain)
    return -update, {"exp_avg": m, "exp_avg_sq": v}


RULE = Rule(
    "RAdam",
    lambda group: ("exp_avg", "exp_avg_sq"),
    _step,
    decoupled=lambda group: group["decoupled_weight_decay"],
)


@rejects_parameters
def RAdam(
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    decoupled_weight_decay: bool = False,
    *,
    foreach: Optional[bool] = None,
    maximize: bool = False,
    capturable: bool = False,
    differentiable: bool = False,
) -> TorchOptimizer:
    """RAdam as torch computes it.

    Per step ``t`` (``g`` negated first if ``maximize``)::

        g = g + weight_decay * p    (or p = p * (1 - lr * weight_decay) if decoupled)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r   (rho_t > 5)
        p = p - lr * m / (1 - beta1**t)                                              (otherwise)

    With the default betas the first five steps are un-rectified (rho_5 ~ 4.996).

    Args:
      lr: a float or an optax schedule of the step count.
      betas, eps, weight_decay, decoupled_weight_decay, maximize: as in torch.
      foreach, capturable, differentiable: accepted for torch compatibility.

    Raises:
      ValueError: negative ``lr``/``eps``/``weight_decay`` or betas outside [0, 1).

    Reference: ``torch.optim.RAdam``.

    Example:
      >>> tx = RAdam(lr=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optax.apply_updates(params, updates)
      {'w': Array([0.9, 2.1], dtype=float32)}
    """
    group = adam_family_group(
        lr, betas, eps, weight_decay, maximize=maximize, foreach=foreach, capturable=capturable,
        decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable,
    )
    return build(RULE, [group])
