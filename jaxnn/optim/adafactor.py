"""``torch.optim.Adafactor``: factored second moments for >= 2-d parameters, relative step sizes."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from ._core import check_lr_elements, rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, build, lerp, refuse_complex

__all__ = ["Adafactor"]


def _leaf_slots(group, p):
    return ("row_var", "col_var") if jnp.ndim(p) > 1 else ("variance",)


def _factor_init(axis):
    def make(group, p):
        shape = list(jnp.shape(p))
        shape[axis] = 1
        return jnp.zeros(shape, jnp.asarray(p).dtype)

    return make


def _rms(x):
    # torch: x.norm(2) / numel ** 0.5, the norm accumulated in at least float32.
    acc = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return jnp.sqrt(jnp.sum(acc * acc)) / (x.size**0.5)


def _py_max(a, b):
    """Python's ``max(a, b)`` (torch computes these scalars on the host): ``a`` unless
    ``b > a``, so a nan ``b`` loses."""
    return jnp.where(b > a, b, jnp.asarray(a, b.dtype))


def _step(group, t, lr, g, p, slots):
    eps1, eps2 = group["eps"]
    if eps1 is None:
        eps1 = float(jnp.finfo(p.dtype).eps)
    one_minus_beta2 = t ** group["beta2_decay"]
    rho = jnp.minimum(lr, 1 / jnp.sqrt(t))
    alpha = _py_max(eps2, _rms(p)) * rho
    if "variance" in slots:
        variance = lerp(slots["variance"], g * g, one_minus_beta2)
        new = {"variance": variance}
        var_estimate = variance
    else:
        # (g * g).mean over one axis, as torch's norm(...).square() / size.
        row_mean = jnp.square(jnp.linalg.norm(g, axis=-1, keepdims=True)) / g.shape[-1]
        col_mean = jnp.square(jnp.linalg.norm(g, axis=-2, keepdims=True)) / g.shape[-2]
        row_var = lerp(slots["row_var"], row_mean, one_minus_beta2)
        col_var = lerp(slots["col_var"], col_mean, one_minus_beta2)
        new = {"row_var": row_var, "col_var": col_var}
        var_estimate = (row_var @ col_var) / jnp.maximum(jnp.mean(row_var, axis=-2, keepdims=True), eps1)
    update = g * (1 / jnp.sqrt(jnp.maximum(var_estimate, eps1 * eps1)))
    denom = _py_max(1.0, _rms(update) / group["d"])
    return update * (-alpha / denom).astype(p.dtype), new


RULE = Rule(
    "Adafactor",
    lambda group: ("row_var", "col_var", "variance"),
    _step,
    decoupled=lambda group: True,
    init={"row_var": _factor_init(-1), "col_var": _factor_init(-2)},
    leaf_slots=_leaf_slots,
    check_param=refuse_complex(RuntimeError, "Adafactor does not support complex parameters"),
)


@rejects_parameters
def Adafactor(
    lr: ScalarOrSchedule = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[Optional[float], float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    *,
    foreach: Optional[bool] = None,
    maximize: bool = False,
) -> TorchOptimizer:
    """Adafactor as torch computes it (``torch.optim.Adafactor``; optax's ``adafactor`` differs).

    Per step ``t`` (``g`` negated first if ``maximize``; ``RMS(x) = ||x||_2 / sqrt(numel)``)::

        b = t ** beta2_decay;  rho = min(lr, 1 / sqrt(t))
        alpha = max(eps2, RMS(p)) * rho                 (the parameter before decay)
        p = p * (1 - lr * weight_decay)
        >= 2-d:  R = lerp(R, mean(g*g, -1), b);  C = lerp(C, mean(g*g, -2), b)
                 V = R @ C / max(mean(R, -2), eps1)
        else:    V = lerp(V, g*g, b)
        U = g / sqrt(max(V, eps1**2))
        p = p - alpha / max(1, RMS(U) / d) * U

    ``R``/``C``/``V`` are torch's ``row_var`` (last axis reduced to 1),
    ``col_var`` (second-to-last axis reduced to 1) and ``variance``: a
    parameter of 2 or more dimensions keeps the two factors, a 0-d or 1-d one
    ``variance`` (the others hold size-0 placeholders in the jaxnn state;
    the torch ``state_dict`` has only the kept ones). ``eps1=None`` is the
    parameter dtype's machine epsilon.

    Args:
      lr: the cap of the relative step size and the weight-decay scale.
      beta2_decay: exponent of the second-moment weight ``t ** beta2_decay`` (<= 0).
      eps: ``(eps1, eps2)``: the variance floor (``None``: machine epsilon) and
        the floor of the parameter scale.
      d: clipping threshold of the update's RMS (>= 1).
      weight_decay, maximize: as in torch.
      foreach: accepted for torch compatibility.

    Raises:
      ValueError: torch's messages for ``lr < 0``, ``beta2_decay > 0``, negative
        epsilons, ``d < 1`` and ``weight_decay < 0``.
      RuntimeError: from ``init``/``update``, a complex parameter (torch: at the step).

    Example:
      >>> import jax.numpy as jnp
      >>> opt = Adafactor(lr=0.01)
      >>> params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
      >>> updates, state = opt.update(params, opt.init(params), params)

    Reference: ``torch.optim.Adafactor``.
    """
    check_lr_elements(lr)
    if not callable(lr) and not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 >= beta2_decay:
        raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
    if eps[0] is not None and not 0.0 <= eps[0]:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
    if not 0.0 <= eps[1]:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
    if not 1.0 <= d:
        raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
    group = dict(
        lr=lr,
        beta2_decay=beta2_decay,
        eps=tuple(eps),
        d=d,
        weight_decay=weight_decay,
        foreach=foreach,
        maximize=maximize,
    )
    return build(RULE, [group])
