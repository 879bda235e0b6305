"""torch.optim.lr_scheduler's schedulers as optax schedules (``count -> lr``).

Counting convention: ``schedule(k)`` equals torch's ``scheduler.get_last_lr()``
after ``k`` calls to ``scheduler.step()`` (``k = 0``: right after construction).
optax calls a schedule with the number of updates already applied, so passing
one as ``lr`` reproduces the torch loop that calls ``scheduler.step()`` once
after every ``optimizer.step()``. For a loop that steps the scheduler once per
epoch, wrap it: ``per_epoch(schedule, steps_per_epoch)``.

torch's schedulers take the optimizer and read its ``lr``; these take the base
learning rate (``max_lr`` for OneCycleLR) as their first argument instead.
torch updates some recursively (``lr *= gamma``) in double; these use the
closed forms, equal up to rounding (float32 under JAX's default precision).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import optax

from .plateau import (
    ReduceLROnPlateau,
    ReduceLROnPlateauState,
    load_plateau_state_dict,
    plateau_state_dict,
    plateau_step,
)

__all__ = [
    "MultiplicativeLR",
    "ConstantLR",
    "PolynomialLR",
    "CyclicLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "ReduceLROnPlateauState",
    "plateau_step",
    "plateau_state_dict",
    "load_plateau_state_dict",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "OneCycleLR",
    "CosineAnnealingWarmRestarts",
    "LambdaLR",
    "SequentialLR",
    "per_epoch",
]


def _float(count) -> jax.Array:
    return jnp.asarray(count, dtype=jnp.result_type(float))


def StepLR(lr: float, step_size: int, gamma: float = 0.1) -> optax.Schedule:
    """``lr * gamma ** (k // step_size)``. Reference: ``torch.optim.lr_scheduler.StepLR``."""
    if not isinstance(step_size, int) or step_size <= 0:
        raise ValueError(f"StepLR expects a positive integer step_size, got {step_size!r}")
    return lambda count: lr * jnp.power(gamma, _float(count // step_size))


def MultiStepLR(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> optax.Schedule:
    """``lr * gamma ** (number of milestones <= k)``; a repeated milestone counts repeatedly, as in torch.

    Reference: ``torch.optim.lr_scheduler.MultiStepLR``.
    """
    marks = jnp.asarray(sorted(milestones), jnp.int32)
    return lambda count: lr * jnp.power(gamma, _float(jnp.sum(marks <= count)))


def ExponentialLR(lr: float, gamma: float) -> optax.Schedule:
    """``lr * gamma ** k``. Reference: ``torch.optim.lr_scheduler.ExponentialLR``."""
    return lambda count: lr * jnp.power(gamma, _float(count))


def CosineAnnealingLR(lr: float, T_max: int, eta_min: float = 0.0) -> optax.Schedule:
    """``eta_min + (lr - eta_min) * (1 + cos(pi * k / T_max)) / 2`` for every ``k``.

    Past ``T_max`` torch's recursive update keeps following this cosine (back
    up to ``lr`` at ``2 * T_max``), and so does this schedule; optax's
    ``cosine_decay_schedule`` stays at the minimum instead.

    Reference: ``torch.optim.lr_scheduler.CosineAnnealingLR``.
    """
    if T_max <= 0:
        raise ValueError(f"CosineAnnealingLR expects a positive T_max, got {T_max!r}")

    def schedule(count):
        # cos has period 2 * T_max in k: reducing k exactly first keeps float32's argument small.
        phase = _float(jnp.asarray(count) % (2 * T_max))
        return eta_min + (lr - eta_min) * (1 + jnp.cos(math.pi * phase / T_max)) / 2

    return schedule


def LinearLR(
    lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5
) -> optax.Schedule:
    """``lr * (start + (end - start) * min(k, total_iters) / total_iters)``.

    Reference: ``torch.optim.lr_scheduler.LinearLR`` (same factor checks).
    """
    if start_factor > 1.0 or start_factor <= 0:
        raise ValueError(
            "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."
        )
    if end_factor > 1.0 or end_factor < 0:
        raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
    return lambda count: lr * (
        start_factor
        + (end_factor - start_factor) * _float(jnp.minimum(count, total_iters)) / total_iters
    )


def LambdaLR(lr: float, lr_lambda: Callable[[jax.Array], jax.Array]) -> optax.Schedule:
    """``lr * lr_lambda(k)``; ``lr_lambda`` must be traceable by JAX to be used under jit.

    Reference: ``torch.optim.lr_scheduler.LambdaLR``.
    """
    return lambda count: lr * lr_lambda(count)


def OneCycleLR(
    max_lr: float,
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    cycle_momentum: bool = True,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> optax.Schedule:
    """The 1cycle policy, torch's phases and end points, for the lr and (by default) the momentum.

    From ``max_lr / div_factor`` up to ``max_lr`` over ``pct_start *
    total_steps - 1`` steps, then down to ``max_lr / div_factor /
    final_div_factor`` at ``total_steps - 1`` (``three_phase`` returns to the
    initial lr first).

    With ``cycle_momentum`` (torch's default) the returned schedule also
    carries ``schedule.momentum``, the momentum over the same phases in the
    opposite direction (``max_momentum`` down to ``base_momentum`` while the
    lr rises, then back). A jaxnn optimizer given this schedule as ``lr``
    follows it for its ``momentum`` (SGD, RMSprop) or ``beta1`` (the Adam
    family), overriding the value it was built with -- as torch's scheduler
    rewrites the optimizer's parameter groups. An optimizer with neither
    (Adagrad) raises torch's error. Past ``total_steps`` torch raises; this
    schedule extrapolates the last phase (it cannot raise under jit).

    Reference: ``torch.optim.lr_scheduler.OneCycleLR`` (same argument checks).
    """
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
    elif epochs is not None and steps_per_epoch is not None:
        if not isinstance(epochs, int) or epochs <= 0:
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
        total_steps = epochs * steps_per_epoch
    else:
        raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
    if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
        raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(
            f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
        )
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    up = float(pct_start * total_steps) - 1
    # (last step of the phase, lr at its start, lr at its end, momentum at its start, momentum at its end)
    if three_phase:
        phases = [
            (up, initial_lr, max_lr, max_momentum, base_momentum),
            (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr, base_momentum, max_momentum),
            (total_steps - 1, initial_lr, min_lr, max_momentum, max_momentum),
        ]
    else:
        phases = [
            (up, initial_lr, max_lr, max_momentum, base_momentum),
            (total_steps - 1, max_lr, min_lr, base_momentum, max_momentum),
        ]

    def anneal(start, end, pct):
        if anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (jnp.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def phased(column: int) -> optax.Schedule:
        def schedule(count):
            step = _float(count)
            starts = [0.0] + [phase[0] for phase in phases[:-1]]
            value = None
            for phase, start in reversed(list(zip(phases, starts))):
                end, lo, hi = phase[0], phase[column], phase[column + 1]
                here = anneal(lo, hi, (step - start) / (end - start))
                value = here if value is None else jnp.where(step <= end, here, value)
            return value

        return schedule

    schedule = phased(1)
    if cycle_momentum:
        schedule.momentum = phased(3)
    return schedule


def CosineAnnealingWarmRestarts(
    lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0
) -> optax.Schedule:
    """SGDR: cosine from ``lr`` to ``eta_min`` over ``T_i`` steps, restarting with ``T_i *= T_mult``.

    ``T_cur`` and ``T_i`` are found in integer arithmetic (torch's ``log``
    based closed form can land on the wrong cycle at a restart).

    Reference: ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``.
    """
    if T_0 <= 0 or not isinstance(T_0, int):
        raise ValueError(f"Expected positive integer T_0, but got {T_0}")
    if T_mult < 1 or not isinstance(T_mult, int):
        raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
    if not isinstance(eta_min, (float, int)):
        raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")

    def cycle_start(n):
        return T_0 * (T_mult**n - 1) // (T_mult - 1)

    def schedule(count):
        count = jnp.asarray(count, jnp.int32)
        if T_mult == 1:
            t_cur, t_i = count % T_0, T_0
        else:
            guess = jnp.log1p(_float(count) * (T_mult - 1) / T_0) / math.log(T_mult)
            n = jnp.floor(guess).astype(jnp.int32)
            n = n - (cycle_start(n) > count) + (cycle_start(n + 1) <= count)
            t_cur, t_i = count - cycle_start(n), T_0 * T_mult**n
        return eta_min + (lr - eta_min) * (1 + jnp.cos(math.pi * _float(t_cur) / _float(t_i))) / 2

    return schedule


def SequentialLR(schedulers: Sequence[optax.Schedule], milestones: Sequence[int]) -> optax.Schedule:
    """``schedulers[i](k - milestones[i-1])`` for ``milestones[i-1] <= k < milestones[i]``.

    Each scheduler restarts from its own step 0 at its milestone, as torch's
    SequentialLR does (``optax.join_schedules``).

    Reference: ``torch.optim.lr_scheduler.SequentialLR`` (same count check).
    """
    if len(schedulers) < 1:
        raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
    if len(milestones) != len(schedulers) - 1:
        raise ValueError(
            "Sequential Schedulers expects number of schedulers provided to be one more "
            f"than the number of milestone points, but got number of schedulers {len(schedulers)} and the "
            f"number of milestones to be equal to {len(milestones)}"
        )
    return optax.join_schedules(list(schedulers), list(milestones))


def MultiplicativeLR(lr: float, lr_lambda: Callable[[jax.Array], jax.Array]) -> optax.Schedule:
    """``lr * prod_{i=1..k} lr_lambda(i)``: torch multiplies the current lr by
    ``lr_lambda(epoch)`` at every step after the first.

    ``lr_lambda`` must be traceable by JAX to be used under jit; the product is
    a loop of ``k`` steps (a ``lax.fori_loop``), so a schedule with a closed
    form (ExponentialLR, StepLR) is cheaper where one fits. torch's
    MultiplicativeLR has no closed form, so inside torch's SequentialLR after
    another scheduler it continues from that scheduler's last lr; here (as
    for every schedule in :func:`SequentialLR`) it restarts from ``lr``.

    Reference: ``torch.optim.lr_scheduler.MultiplicativeLR``.

    >>> float(MultiplicativeLR(1.0, lambda k: 0.5)(3))
    0.125
    """

    def schedule(count):
        count = jnp.asarray(count, jnp.int32)
        factor = jax.lax.fori_loop(
            1, count + 1, lambda i, acc: acc * lr_lambda(i), jnp.ones((), jnp.result_type(float))
        )
        return lr * factor

    return schedule


def ConstantLR(lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> optax.Schedule:
    """``lr * factor`` for ``k < total_iters``, then ``lr``.

    Reference: ``torch.optim.lr_scheduler.ConstantLR`` (same factor check).

    >>> [float(ConstantLR(1.0, 0.5, 2)(k)) for k in range(4)]
    [0.5, 0.5, 1.0, 1.0]
    """
    if factor > 1.0 or factor < 0:
        raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
    return lambda count: lr * jnp.where(jnp.asarray(count) < total_iters, factor, 1.0)


def PolynomialLR(lr: float, total_iters: int = 5, power: float = 1.0) -> optax.Schedule:
    """``lr * (1 - min(k, total_iters) / total_iters) ** power``.

    Reference: ``torch.optim.lr_scheduler.PolynomialLR`` (torch updates it
    recursively in double; this closed form is equal up to rounding).

    >>> [float(PolynomialLR(1.0, 4, 1.0)(k)) for k in (0, 2, 4, 6)]
    [1.0, 0.5, 0.0, 0.0]
    """
    # (T - min(k, T)) / T, not 1 - min(k, T) / T: XLA may turn the division into a
    # multiplication by 1/T, leaving 1 - k/T slightly negative at k = T (nan ** power).
    return lambda count: lr * (_float(total_iters - jnp.minimum(count, total_iters)) / total_iters) ** power


def CyclicLR(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: Optional[int] = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Optional[Callable[[jax.Array], jax.Array]] = None,
    scale_mode: str = "cycle",
    cycle_momentum: bool = True,
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> optax.Schedule:
    """Cyclical learning rate between ``base_lr`` and ``max_lr`` (Smith, 2017).

    With ``size = step_size_up + step_size_down``, ``cycle = floor(1 + k / size)``
    and ``x = 1 + k / size - cycle``, the height is ``x / r`` while rising
    (``r = step_size_up / size``), ``(x - 1) / (r - 1)`` while falling, and
    ``lr = base_lr + (max_lr - base_lr) * height * scale``, where ``scale`` is
    ``scale_fn(cycle)`` (``scale_mode='cycle'``) or ``scale_fn(k)``
    ('iterations'); the modes are 'triangular' (1), 'triangular2'
    (``1 / 2 ** (cycle - 1)``) and 'exp_range' (``gamma ** k``).

    torch's scheduler takes the optimizer and overwrites its lr with
    ``base_lr``; this takes ``base_lr`` first. With ``cycle_momentum`` (torch's
    default) the schedule carries ``.momentum``, ``max_momentum - (max_momentum
    - base_momentum) * height * scale``, which a jaxnn optimizer follows for
    its momentum (SGD, RMSprop) or beta1 (Adam family), as OneCycleLR.

    Reference: ``torch.optim.lr_scheduler.CyclicLR``.

    >>> [round(float(CyclicLR(0.1, 1.0, 2, cycle_momentum=False)(k)), 2) for k in range(5)]
    [0.1, 0.55, 1.0, 0.55, 0.1]
    """
    up = int(step_size_up)
    down = int(step_size_down) if step_size_down is not None else up
    total = up + down
    ratio = up / total
    if scale_fn is None:
        if mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError("mode is invalid and scale_fn is None")
        scale_mode = "iterations" if mode == "exp_range" else "cycle"
        scale_fn = {
            "triangular": lambda x: 1.0,
            "triangular2": lambda x: 1 / (2.0 ** (x - 1)),
            "exp_range": lambda x: gamma**x,
        }[mode]

    def height_and_scale(count):
        # cycle and x from integer arithmetic: torch's 1 + k / size - cycle cancels
        # in float32 once k is large (torch computes it in double).
        k = jnp.asarray(count, jnp.int32)
        size = int(total)
        cycle = _float(k // size + 1)
        x = _float(k % size) / total
        k = _float(k)
        height = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        return height, scale_fn(cycle if scale_mode == "cycle" else k)

    def schedule(count):
        height, scale = height_and_scale(count)
        return base_lr + (max_lr - base_lr) * height * scale

    if cycle_momentum:
        if base_momentum > max_momentum:
            raise ValueError(f"CyclicLR: base_momentum {base_momentum} must not exceed max_momentum {max_momentum}")

        def momentum(count):
            height, scale = height_and_scale(count)
            return max_momentum - (max_momentum - base_momentum) * height * scale

        schedule.momentum = momentum  # type: ignore[attr-defined]  # read by the optimizer's cycle_momentum
    return schedule


def ChainedScheduler(schedulers: Sequence[optax.Schedule], lr: float) -> optax.Schedule:
    """Every scheduler stepped together: ``lr * prod_i (s_i(k) / lr)``.

    torch's ChainedScheduler calls each scheduler's ``step()`` in turn, and each
    multiplies the optimizer's current lr by its own factor: for the
    multiplicative schedulers (StepLR, MultiStepLR, ExponentialLR, ConstantLR,
    LinearLR, MultiplicativeLR, PolynomialLR) that is the product above. The
    schedules must be built with the same base ``lr``, passed here too (torch
    reads it from the optimizer, its second argument). Schedulers whose torch
    update is not a factor of the current lr (CosineAnnealingLR, CyclicLR,
    OneCycleLR) chain differently in torch and are not reproduced.

    Reference: ``torch.optim.lr_scheduler.ChainedScheduler``.

    >>> s = ChainedScheduler([ConstantLR(1.0, 0.1, 2), ExponentialLR(1.0, 0.5)], lr=1.0)
    >>> [round(float(s(k)), 4) for k in range(4)]
    [0.1, 0.05, 0.25, 0.125]
    """
    if len(schedulers) < 1:
        raise ValueError("ChainedScheduler expects at least one scheduler")

    def schedule(count):
        value = jnp.asarray(lr, jnp.result_type(float))
        for s in schedulers:
            value = value * (s(count) / lr)
        return value

    return schedule


def per_epoch(schedule: optax.Schedule, steps_per_epoch: int) -> optax.Schedule:
    """A per-epoch torch schedule driven by the optimizer's step count: ``schedule(k // steps_per_epoch)``.

    Matches a torch loop calling ``scheduler.step()`` once after every
    ``steps_per_epoch`` optimizer steps.
    """
    if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
    return lambda count: schedule(count // steps_per_epoch)
