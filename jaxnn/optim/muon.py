"""``torch.optim.Muon``: momentum orthogonalised by a bfloat16 Newton-Schulz iteration, for 2-d parameters."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import jax
import jax.numpy as jnp

from ._core import check_lr_elements, rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, build, lerp, refuse_complex

__all__ = ["Muon"]

_ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def _addmm(c, a, b, beta, alpha):
    """torch's bfloat16 ``addmm(c, a, b, beta=beta, alpha=alpha)`` on CPU: float32 throughout, one rounding."""
    f32 = jnp.float32
    prod = jnp.matmul(a.astype(f32), b.astype(f32), precision=jax.lax.Precision.HIGHEST)
    return (beta * c.astype(f32) + alpha * prod).astype(jnp.bfloat16)


def zeropower_via_newtonschulz(
    grad: jax.Array, ns_coefficients: Sequence[float], ns_steps: int, eps: float
) -> jax.Array:
    """torch's ``_zeropower_via_newtonschulz``: ``ns_steps`` quintic iterations in bfloat16.

    ``X = G / max(||G||_F, eps)`` (transposed so that rows <= columns), then
    ``A = X X^T;  B = b A + c A A;  X = a X + B X`` per step. Each matrix
    product is computed in float32 and rounded once to bfloat16, as torch's
    CPU ``addmm`` does, so the result equals torch's bit for bit.
    """
    a, b, c = ns_coefficients
    x = grad.astype(jnp.bfloat16)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    norm = jnp.sqrt(jnp.sum(jnp.square(x.astype(jnp.float32)))).astype(jnp.bfloat16)
    norm = jnp.maximum(norm, jnp.asarray(eps, jnp.bfloat16))
    x = (x.astype(jnp.float32) / norm.astype(jnp.float32)).astype(jnp.bfloat16)
    for _ in range(ns_steps):
        gram = jnp.matmul(x.astype(jnp.float32), x.T.astype(jnp.float32), precision=jax.lax.Precision.HIGHEST)
        gram = gram.astype(jnp.bfloat16)
        gram_update = _addmm(gram, gram, gram, b, c)
        x = _addmm(x, gram_update, x, a, 1.0)
    return x.T if tall else x


def _adjusted_ratio(adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    return 0.2 * math.sqrt(max(rows, cols))


_refuse_complex = refuse_complex(RuntimeError, "Muon does not support complex parameters")


def _check_param(p):
    if jnp.ndim(p) != 2:
        raise ValueError(
            f"Muon only supports 2D parameters whereas we found a parameter with size: {tuple(jnp.shape(p))}"
        )
    _refuse_complex(p)


def _step(group, t, lr, g, p, slots):
    momentum = group["momentum"]
    buf = lerp(slots["momentum_buffer"], g, 1 - momentum)
    update = lerp(g, buf, momentum) if group["nesterov"] else buf
    ortho = zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
    adjusted_lr = lr * _adjusted_ratio(group["adjust_lr_fn"], p.shape)
    return -adjusted_lr * ortho.astype(p.dtype), {"momentum_buffer": buf}


RULE = Rule(
    "Muon",
    lambda group: ("momentum_buffer",),
    _step,
    decoupled=lambda group: True,
    check_param=_check_param,
)


@rejects_parameters
def Muon(
    lr: ScalarOrSchedule = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: Optional[str] = None,
) -> TorchOptimizer:
    """Muon as torch computes it (``torch.optim.Muon``; optax.contrib's ``muon`` differs).

    Per step, for a 2-d parameter of shape ``(A, B)``::

        buf = lerp(buf, g, 1 - momentum)
        u = lerp(g, buf, momentum) if nesterov else buf
        O = NewtonSchulz(u)                      (bfloat16, see zeropower_via_newtonschulz)
        p = p * (1 - lr * weight_decay)
        p = p - lr * r * O,   r = sqrt(max(1, A / B))      ('original' or None)
                              r = 0.2 * sqrt(max(A, B))    ('match_rms_adamw')

    The orthogonalised update is bfloat16 whatever the parameter dtype, as in
    torch: float64 parameters move by bfloat16-rounded steps.

    Args:
      lr: a float or an optax schedule of the step count.
      weight_decay: decoupled decay (default 0.1, torch's).
      momentum, nesterov: as in torch.
      ns_coefficients: ``(a, b, c)`` of the quintic iteration.
      eps: the floor of the Frobenius norm the input is divided by.
      ns_steps: Newton-Schulz iterations (< 100).
      adjust_lr_fn: ``None``/``'original'`` or ``'match_rms_adamw'``.

    Raises:
      ValueError: torch's messages for negative ``lr``/``momentum``/``weight_decay``
        and an unknown ``adjust_lr_fn``; ``ns_steps >= 100`` or coefficients
        not a triple; from ``init``/``update``, a parameter that is not 2-d.
      RuntimeError: from ``init``/``update``, a complex parameter (torch: at the step).

    Example:
      >>> import jax.numpy as jnp
      >>> opt = Muon(lr=0.02)
      >>> params = {"w": jnp.ones((3, 2))}
      >>> updates, state = opt.update(params, opt.init(params), params)

    Reference: ``torch.optim.Muon``.
    """
    check_lr_elements(lr)
    if not callable(lr) and not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 <= momentum:
        raise ValueError(f"momentum should be >= 0 but is: {momentum}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
    if adjust_lr_fn not in _ADJUST_LR_FNS:
        raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
    # torch checks these at the first step; here they fix the traced graph, so at construction.
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    group = dict(
        lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
    )
    return build(RULE, [group])
