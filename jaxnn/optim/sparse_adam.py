"""``torch.optim.SparseAdam``: Adam applied only to the rows a gradient touches."""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from ._core import check_lr_elements, rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, build, one_minus_pow, refuse_complex

__all__ = ["SparseAdam"]


def touched_rows(g: jnp.ndarray) -> jnp.ndarray:
    """Boolean mask shaped like ``g``: true on the rows (index of axis 0) holding any non-zero entry."""
    if g.ndim == 0:
        return g != 0
    rows = jnp.any(g.reshape(g.shape[0], -1) != 0, axis=1)
    return jnp.broadcast_to(rows.reshape((-1,) + (1,) * (g.ndim - 1)), g.shape)


def _step(group, t, lr, g, p, slots):
    beta1, beta2 = group["betas"]
    touched = touched_rows(g)
    m, v = slots["exp_avg"], slots["exp_avg_sq"]
    exp_avg_update = (g - m) * (1 - beta1)
    exp_avg_sq_update = (g * g - v) * (1 - beta2)
    numer = exp_avg_update + m
    denom = jnp.sqrt(exp_avg_sq_update + v) + group["eps"]
    step_size = lr * jnp.sqrt(one_minus_pow(beta2, t)) / one_minus_pow(beta1, t)
    update = -step_size * (numer / denom)
    return jnp.where(touched, update, jnp.zeros_like(update)), {
        "exp_avg": jnp.where(touched, m + exp_avg_update, m),
        "exp_avg_sq": jnp.where(touched, v + exp_avg_sq_update, v),
    }


RULE = Rule(
    "SparseAdam",
    lambda group: ("exp_avg", "exp_avg_sq"),
    _step,
    check_param=refuse_complex(ValueError, "SparseAdam does not support complex parameters"),
)


@rejects_parameters
def SparseAdam(
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    maximize: bool = False,
) -> TorchOptimizer:
    """SparseAdam as torch computes it, on the rows a (dense) gradient touches.

    torch's SparseAdam takes sparse gradients (``nn.Embedding(sparse=True)``)
    and updates the moments and the parameter only at the gradient's indices.
    JAX gradients are dense, so a row (an index of axis 0; an element of a
    1-d parameter) counts as touched when any of its entries is non-zero; the
    other rows keep their parameter and moments exactly. A row an embedding
    looked up but whose gradient is exactly zero is therefore skipped, where
    torch's sparse gradient would hold it (with zero values) and decay its
    moments. On the touched rows, per step ``t`` (``g`` negated if ``maximize``)::

        m = m + (g - m) * (1 - beta1);  v = v + (g*g - v) * (1 - beta2)
        p = p - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)

    ``t`` counts every update (torch counts every step with a gradient, even
    an empty one).

    Args:
      lr: a float or an optax schedule (> 0).
      betas, eps, maximize: as in torch (``eps > 0``).

    Raises:
      ValueError: torch's messages for ``lr <= 0``, ``eps <= 0`` and betas outside [0, 1);
        from ``init``/``update``, a complex parameter.

    Example:
      >>> import jax.numpy as jnp
      >>> opt = SparseAdam(lr=0.01)
      >>> params = {"weight": jnp.ones((4, 2))}
      >>> grads = {"weight": jnp.zeros((4, 2)).at[1].set(1.0)}   # only row 1 moves
      >>> updates, state = opt.update(grads, opt.init(params), params)

    Reference: ``torch.optim.SparseAdam``.
    """
    check_lr_elements(lr)
    if not callable(lr) and not 0.0 < lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 < eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    group = dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize)
    return build(RULE, [group])
