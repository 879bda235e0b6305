"""``torch.optim.ASGD``: SGD with a decaying step and a running average ``ax`` of the iterates."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, build, check_nonnegative, update_to

__all__ = ["ASGD"]


def _scalar_dtype(p):
    # torch keeps eta and mu as scalars of its default dtype: float32 unless float64 is the default.
    return jnp.promote_types(p.dtype, jnp.float32)


def _initial_eta(group, p):
    lr = group["lr"](0) if callable(group["lr"]) else group["lr"]
    return jnp.asarray(lr, _scalar_dtype(p))


def _step(group, t, lr, g, p, slots):
    lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
    eta, mu, ax = slots["eta"], slots["mu"], slots["ax"]
    new_p = p * (1 - lambd * eta).astype(p.dtype) - eta.astype(p.dtype) * g
    # torch copies the iterate while mu is exactly 1 (steps before t0) and averages after.
    ax = jnp.where(mu != 1, ax + (new_p - ax) * mu.astype(p.dtype), new_p)
    new_eta = (lr / (1 + lambd * lr * t) ** alpha).astype(eta.dtype)
    new_mu = (1 / jnp.maximum(1.0, t - t0)).astype(mu.dtype)
    return update_to(new_p, p), {"eta": new_eta, "mu": new_mu, "ax": ax}


RULE = Rule(
    "ASGD",
    lambda group: ("eta", "mu", "ax"),
    _step,
    init={"eta": _initial_eta, "mu": lambda group, p: jnp.ones([], _scalar_dtype(p))},
)


@rejects_parameters
def ASGD(
    lr: ScalarOrSchedule = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0,
    foreach: Optional[bool] = None,
    maximize: bool = False,
    differentiable: bool = False,
    capturable: bool = False,
) -> TorchOptimizer:
    """Averaged SGD as torch computes it.

    Per step ``t`` (``g`` negated first if ``maximize``; ``eta`` starts at
    ``lr``, ``mu`` at 1, ``ax`` at 0)::

        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = p                      if mu == 1
        ax = ax + (p - ax) * mu     otherwise
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)

    The averaged parameters are the state's ``slots['ax']`` (torch's
    ``state['ax']``), a pytree shaped like the parameters: evaluate a model
    with them as torch users do with ``optimizer.state[p]['ax']``. ``eta`` and
    ``mu`` are per-parameter scalars in the parameter's dtype, at least
    float32 (torch: its default dtype).

    Args:
      lr: a float or an optax schedule of the step count.
      lambd: decay term; alpha: power of the eta update; t0: the step from which
        averaging starts.
      weight_decay, maximize: as in torch.
      foreach, differentiable, capturable: accepted for torch compatibility.

    Raises:
      ValueError: negative ``lr`` or ``weight_decay`` (torch checks nothing else).

    Example:
      >>> import jax.numpy as jnp
      >>> opt = ASGD(lr=0.1, t0=0)
      >>> params = {"w": jnp.ones(2)}
      >>> updates, state = opt.update({"w": jnp.ones(2)}, opt.init(params), params)
      >>> averaged = state.slots["ax"]

    Reference: ``torch.optim.ASGD``.
    """
    check_nonnegative(lr=lr, weight_decay=weight_decay)
    group = dict(
        lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
        maximize=maximize, differentiable=differentiable, capturable=capturable,
    )
    return build(RULE, [group])
