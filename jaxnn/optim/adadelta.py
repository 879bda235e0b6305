"""``torch.optim.Adadelta``: step sizes from the running averages of squared gradients and squared steps."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, build, check_nonnegative

__all__ = ["Adadelta"]


def _step(group, t, lr, g, p, slots):
    rho, eps = group["rho"], group["eps"]
    square_avg = slots["square_avg"] * rho + (1 - rho) * g * g
    std = jnp.sqrt(square_avg + eps)
    delta = jnp.sqrt(slots["acc_delta"] + eps) / std * g
    acc_delta = slots["acc_delta"] * rho + (1 - rho) * delta * delta
    return -lr * delta, {"square_avg": square_avg, "acc_delta": acc_delta}


RULE = Rule("Adadelta", lambda group: ("square_avg", "acc_delta"), _step)


@rejects_parameters
def Adadelta(
    lr: ScalarOrSchedule = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0,
    foreach: Optional[bool] = None,
    *,
    capturable: bool = False,
    maximize: bool = False,
    differentiable: bool = False,
) -> TorchOptimizer:
    """Adadelta as torch computes it (eps inside both square roots; ``lr`` scales the step).

    Per step (``g`` negated first if ``maximize``)::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    ``v`` and ``u`` are torch's ``square_avg`` and ``acc_delta``, both starting at 0.

    Args:
      lr: a float or an optax schedule of the step count (torch's default 1.0).
      rho, eps, weight_decay, maximize: as in torch.
      foreach, capturable, differentiable: accepted for torch compatibility;
        they change nothing here.

    Raises:
      ValueError: negative ``lr``/``eps``/``weight_decay`` or ``rho`` outside [0, 1]
        (torch's messages).

    Example:
      >>> import jax.numpy as jnp, optax
      >>> opt = Adadelta(lr=1.0)
      >>> params = {"w": jnp.ones(2)}
      >>> updates, state = opt.update({"w": jnp.ones(2)}, opt.init(params), params)

    Reference: ``torch.optim.Adadelta``.
    """
    check_nonnegative(lr=lr)
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"Invalid rho value: {rho}")
    check_nonnegative(eps=eps, weight_decay=weight_decay)
    group = dict(
        lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
        capturable=capturable, foreach=foreach, differentiable=differentiable,
    )
    return build(RULE, [group])
