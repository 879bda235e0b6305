"""Each schedule equals torch's get_last_lr() at every step, over three periods."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.optim.lr_scheduler as T

import jaxnn.optim as jo
from jaxnn.optim import lr_scheduler as L

LR = 0.5

# (id, torch scheduler factory, jaxnn schedule, steps = three periods)
CASES = [
    ("StepLR", lambda o: T.StepLR(o, 7, 0.5), L.StepLR(LR, 7, 0.5), 21),
    ("MultiStepLR", lambda o: T.MultiStepLR(o, [5, 12, 12, 30], 0.3), L.MultiStepLR(LR, [5, 12, 12, 30], 0.3), 36),
    ("ExponentialLR", lambda o: T.ExponentialLR(o, 0.95), L.ExponentialLR(LR, 0.95), 30),
    ("CosineAnnealingLR", lambda o: T.CosineAnnealingLR(o, 10, 0.01), L.CosineAnnealingLR(LR, 10, 0.01), 60),
    ("CosineAnnealingLR-eta0", lambda o: T.CosineAnnealingLR(o, 7), L.CosineAnnealingLR(LR, 7), 42),
    ("LinearLR", lambda o: T.LinearLR(o, 0.1, 0.9, 8), L.LinearLR(LR, 0.1, 0.9, 8), 24),
    ("LinearLR-default", lambda o: T.LinearLR(o), L.LinearLR(LR), 15),
    ("OneCycleLR", lambda o: T.OneCycleLR(o, 1.0, total_steps=30, cycle_momentum=False),
     L.OneCycleLR(1.0, total_steps=30), 30),
    ("OneCycleLR-3phase-linear",
     lambda o: T.OneCycleLR(o, 1.0, epochs=3, steps_per_epoch=10, three_phase=True, anneal_strategy="linear",
                            pct_start=0.25, cycle_momentum=False),
     L.OneCycleLR(1.0, epochs=3, steps_per_epoch=10, three_phase=True, anneal_strategy="linear", pct_start=0.25),
     30),
    ("CosineAnnealingWarmRestarts", lambda o: T.CosineAnnealingWarmRestarts(o, 5, 1, 0.01),
     L.CosineAnnealingWarmRestarts(LR, 5, 1, 0.01), 15),
    ("CosineAnnealingWarmRestarts-Tmult", lambda o: T.CosineAnnealingWarmRestarts(o, 3, 2),
     L.CosineAnnealingWarmRestarts(LR, 3, 2), 3 + 6 + 12 + 5),
    ("LambdaLR", lambda o: T.LambdaLR(o, lambda k: 1 / (1 + k)), L.LambdaLR(LR, lambda k: 1 / (1 + k)), 20),
    ("SequentialLR", lambda o: T.SequentialLR(o, [T.LinearLR(o, 0.1, 1.0, 5), T.ExponentialLR(o, 0.9)], [5]),
     L.SequentialLR([L.LinearLR(LR, 0.1, 1.0, 5), L.ExponentialLR(LR, 0.9)], [5]), 20),
    ("SequentialLR-3",
     lambda o: T.SequentialLR(o, [T.ExponentialLR(o, 0.9), T.CosineAnnealingLR(o, 10), T.StepLR(o, 3)], [5, 25]),
     L.SequentialLR([L.ExponentialLR(LR, 0.9), L.CosineAnnealingLR(LR, 10), L.StepLR(LR, 3)], [5, 25]), 36),
]


def torch_lrs(make, steps):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=LR)
    sched = make(opt)
    out = [sched.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return np.array(out)


@pytest.mark.parametrize("make_torch,schedule,steps", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schedule_equals_get_last_lr(make_torch, schedule, steps):
    expected = torch_lrs(make_torch, steps)
    with jax.enable_x64(True):
        got64 = np.asarray(jax.jit(jax.vmap(schedule))(jnp.arange(steps + 1)))
    got32 = np.asarray(jax.jit(jax.vmap(schedule))(jnp.arange(steps + 1)))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got64, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got32, expected, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize(
    "options",
    [dict(), dict(three_phase=True, anneal_strategy="linear", pct_start=0.2, base_momentum=0.6, max_momentum=0.99)],
    ids=["cos", "3phase-linear"],
)
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_one_cycle_momentum_equals_torchs_group_momentum(options, optimizer):
    """torch writes momentum (SGD) or betas[0] (Adam) into the group at every scheduler step."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = getattr(torch.optim, optimizer)([p], lr=LR)
    sched = T.OneCycleLR(opt, 1.0, total_steps=30, **options)
    read = (lambda g: g["momentum"]) if optimizer == "SGD" else (lambda g: g["betas"][0])
    expected = [read(opt.param_groups[0])]
    for _ in range(29):
        opt.step()
        sched.step()
        expected.append(read(opt.param_groups[0]))
    momentum = L.OneCycleLR(1.0, total_steps=30, **options).momentum
    with jax.enable_x64(True):
        got = np.asarray(jax.vmap(momentum)(jnp.arange(30)))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert not hasattr(L.OneCycleLR(1.0, total_steps=30, cycle_momentum=False), "momentum")


def test_schedule_takes_python_ints_like_optax():
    np.testing.assert_allclose(L.StepLR(1.0, 2)(3), 0.1, rtol=1e-6)


def test_per_epoch_steps_scheduler_every_epoch():
    """torch loop: scheduler.step() after each epoch of 4 optimizer steps."""
    steps_per_epoch, epochs = 4, 6
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=LR)
    sched = T.StepLR(opt, 2, 0.5)
    used = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            used.append(opt.param_groups[0]["lr"])
            opt.step()
        sched.step()
    ours = L.per_epoch(L.StepLR(LR, 2, 0.5), steps_per_epoch)
    np.testing.assert_allclose(jax.vmap(ours)(jnp.arange(len(used))), used, rtol=1e-6)


def test_optimizer_uses_schedule_at_update_count():
    """Update k+1 uses schedule(k): SGD's first update has lr = schedule(0)."""
    opt = jo.SGD(lr=L.LambdaLR(1.0, lambda k: 10.0 ** -k))
    p = {"w": jnp.zeros(1)}
    s = opt.init(p)
    u1, s = opt.update({"w": jnp.ones(1)}, s, p)
    u2, s = opt.update({"w": jnp.ones(1)}, s, p)
    np.testing.assert_allclose([u1["w"][0], u2["w"][0]], [-1.0, -0.1], rtol=1e-6)


@pytest.mark.parametrize(
    "make_jax,make_torch",
    [
        (lambda: L.LinearLR(LR, start_factor=0.0), lambda o: T.LinearLR(o, start_factor=0.0)),
        (lambda: L.LinearLR(LR, end_factor=1.5), lambda o: T.LinearLR(o, end_factor=1.5)),
        (lambda: L.OneCycleLR(1.0), lambda o: T.OneCycleLR(o, 1.0)),
        (lambda: L.OneCycleLR(1.0, total_steps=0), lambda o: T.OneCycleLR(o, 1.0, total_steps=0)),
        (lambda: L.OneCycleLR(1.0, 10, pct_start=2.0), lambda o: T.OneCycleLR(o, 1.0, 10, pct_start=2.0)),
        (lambda: L.OneCycleLR(1.0, 10, anneal_strategy="exp"), lambda o: T.OneCycleLR(o, 1.0, 10, anneal_strategy="exp")),
        (lambda: L.CosineAnnealingWarmRestarts(LR, 0), lambda o: T.CosineAnnealingWarmRestarts(o, 0)),
        (lambda: L.CosineAnnealingWarmRestarts(LR, 5, T_mult=0), lambda o: T.CosineAnnealingWarmRestarts(o, 5, T_mult=0)),
        (lambda: L.SequentialLR([L.StepLR(LR, 2)], [3]),
         lambda o: T.SequentialLR(o, [T.StepLR(o, 2)], [3])),
    ],
)
def test_bad_arguments_raise_torchs_errors(make_jax, make_torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    with pytest.raises(ValueError) as torch_error:
        make_torch(opt)
    with pytest.raises(ValueError) as ours:
        make_jax()
    assert str(ours.value) == str(torch_error.value)
