"""``torch.optim.Rprop``: sign-based steps whose sizes grow and shrink with the gradient's sign."""

from __future__ import annotations

from typing import Optional, Sequence

import jax.numpy as jnp

from ._core import rejects_parameters
from ._core import Rule, ScalarOrSchedule, TorchOptimizer, build, check_nonnegative, two_product

__all__ = ["Rprop"]


def _initial_step_size(group, p):
    lr = group["lr"](0) if callable(group["lr"]) else group["lr"]
    return jnp.full_like(p, lr)


def _sign_of_product(g, prev):
    """torch's ``g.mul(prev).sign()``, the product rounded as torch's CPU kernel rounds it.

    torch keeps a product below the smallest normal number as a subnormal
    (sign +-1: ``5e-290 * 1e-30``) and rounds it to 0 only at or below half
    the smallest subnormal, ``2**(minexp - nmant - 1)``; XLA flushes every
    subnormal product to 0. Where it flushed, both factors are below 1 and the
    smaller below ``2**(minexp / 2)``, so the product with the smaller scaled
    by ``2**k`` is normal and finite, and it (plus its exact rounding error,
    for the tie) decides whether torch's product is non-zero. ``k`` leaves the
    Veltkamp split of the scaled factor finite even where XLA folds the two
    constant factors into one (``3 * nmant < k < maxexp - nmant / 2``).
    """
    product = g * prev
    flushed = (product == 0) & (g != 0) & (prev != 0)
    info = jnp.finfo(product.dtype)
    k = (info.maxexp + 3 * info.nmant) // 2
    scaled, err = two_product(jnp.minimum(jnp.abs(g), jnp.abs(prev)) * 2.0**k, jnp.maximum(jnp.abs(g), jnp.abs(prev)))
    half_subnormal = 2.0 ** (info.minexp - info.nmant - 1 + k)
    survives = (scaled > half_subnormal) | ((scaled == half_subnormal) & (err > 0))
    return jnp.where(flushed, jnp.where(survives, jnp.sign(g) * jnp.sign(prev), 0), jnp.sign(product))


def _step(group, t, lr, g, p, slots):
    etaminus, etaplus = group["etas"]
    step_size_min, step_size_max = group["step_sizes"]
    sign = _sign_of_product(g, slots["prev"])
    one = jnp.ones_like(step_size := slots["step_size"])
    factor = jnp.where(sign > 0, etaplus * one, jnp.where(sign < 0, etaminus * one, one))
    bound = lambda value: jnp.asarray(value, step_size.dtype)  # noqa: E731
    step_size = jnp.minimum(jnp.maximum(step_size * factor, bound(step_size_min)), bound(step_size_max))
    # torch: after a sign change the step is skipped and the gradient forgotten.
    g = jnp.where(sign < 0, jnp.zeros_like(g), g)
    return -(jnp.sign(g) * step_size), {"prev": g, "step_size": step_size}


RULE = Rule("Rprop", lambda group: ("prev", "step_size"), _step, init={"step_size": _initial_step_size})


@rejects_parameters
def Rprop(
    lr: ScalarOrSchedule = 1e-2,
    etas: Sequence[float] = (0.5, 1.2),
    step_sizes: Sequence[float] = (1e-6, 50),
    *,
    capturable: bool = False,
    foreach: Optional[bool] = None,
    maximize: bool = False,
    differentiable: bool = False,
) -> TorchOptimizer:
    """Resilient backpropagation as torch computes it.

    Per step (``g`` negated first if ``maximize``; ``prev`` starts at 0 and
    ``step_size`` at ``lr``)::

        s = sign(g * prev)
        step_size = clamp(step_size * (etaplus if s > 0 else etaminus if s < 0 else 1),
                          step_sizes[0], step_sizes[1])
        g = 0 where s < 0
        p = p - sign(g) * step_size;  prev = g

    ``lr`` only sets the initial step size: a scheduled ``lr`` is read once, at
    step 0, as torch reads ``group['lr']`` when it creates the state. The
    sign of ``g * prev`` is torch's where the product is subnormal (XLA
    flushes it): +-1 down to half the smallest subnormal, 0 below.

    Args:
      lr: the initial step size.
      etas: ``(etaminus, etaplus)``, the factors after a sign change and after
        a repeated sign.
      step_sizes: ``(min, max)`` bounds of the step size.
      maximize: as in torch.
      capturable, foreach, differentiable: accepted for torch compatibility.

    Raises:
      ValueError: negative ``lr`` or not ``0 < etaminus < 1 < etaplus`` (torch's messages).

    Example:
      >>> import jax.numpy as jnp
      >>> opt = Rprop(lr=0.01)
      >>> params = {"w": jnp.ones(2)}
      >>> updates, state = opt.update({"w": jnp.ones(2)}, opt.init(params), params)

    Reference: ``torch.optim.Rprop``.
    """
    check_nonnegative(lr=lr)
    if not 0.0 < etas[0] < 1.0 < etas[1]:
        raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
    group = dict(
        lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach, maximize=maximize,
        differentiable=differentiable, capturable=capturable,
    )
    return build(RULE, [group])
