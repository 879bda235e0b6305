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
    ("MultiplicativeLR", lambda o: T.MultiplicativeLR(o, lambda k: 0.97 if k % 3 else 1.01),
     L.MultiplicativeLR(LR, lambda k: jnp.where(k % 3 == 0, 1.01, 0.97)), 200),
    ("ConstantLR", lambda o: T.ConstantLR(o, 0.25, 7), L.ConstantLR(LR, 0.25, 7), 200),
    ("ConstantLR-default", lambda o: T.ConstantLR(o), L.ConstantLR(LR), 20),
    ("PolynomialLR", lambda o: T.PolynomialLR(o, 50, 2.0), L.PolynomialLR(LR, 50, 2.0), 200),
    ("PolynomialLR-default", lambda o: T.PolynomialLR(o), L.PolynomialLR(LR), 20),
    ("CyclicLR-triangular", lambda o: T.CyclicLR(o, 0.1, 1.0, 7, 5, cycle_momentum=False),
     L.CyclicLR(0.1, 1.0, 7, 5, cycle_momentum=False), 200),
    ("CyclicLR-triangular2", lambda o: T.CyclicLR(o, 0.1, 1.0, 4, mode="triangular2", cycle_momentum=False),
     L.CyclicLR(0.1, 1.0, 4, mode="triangular2", cycle_momentum=False), 200),
    ("CyclicLR-exp_range", lambda o: T.CyclicLR(o, 0.1, 1.0, 6, mode="exp_range", gamma=0.99, cycle_momentum=False),
     L.CyclicLR(0.1, 1.0, 6, mode="exp_range", gamma=0.99, cycle_momentum=False), 200),
    ("CyclicLR-scale_fn-iterations",
     lambda o: T.CyclicLR(o, 0.1, 1.0, 5, scale_fn=lambda x: 1 / (1 + x / 50), scale_mode="iterations",
                          cycle_momentum=False),
     L.CyclicLR(0.1, 1.0, 5, scale_fn=lambda x: 1 / (1 + x / 50), scale_mode="iterations", cycle_momentum=False),
     200),
    ("ChainedScheduler", lambda o: T.ChainedScheduler([T.ConstantLR(o, 0.1, 5), T.ExponentialLR(o, 0.98)]),
     L.ChainedScheduler([L.ConstantLR(LR, 0.1, 5), L.ExponentialLR(LR, 0.98)], LR), 200),
    ("ChainedScheduler-step-poly", lambda o: T.ChainedScheduler([T.StepLR(o, 30, 0.5), T.PolynomialLR(o, 150, 1.5)]),
     L.ChainedScheduler([L.StepLR(LR, 30, 0.5), L.PolynomialLR(LR, 150, 1.5)], LR), 150),
    ("SequentialLR-new", lambda o: T.SequentialLR(
        o, [T.MultiplicativeLR(o, lambda k: 0.99), T.ConstantLR(o, 0.5, 4), T.PolynomialLR(o, 40)], [10, 60]),
     L.SequentialLR([L.MultiplicativeLR(LR, lambda k: 0.99), L.ConstantLR(LR, 0.5, 4), L.PolynomialLR(LR, 40)],
                    [10, 60]), 200),
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
        (lambda: L.ConstantLR(LR, factor=1.5), lambda o: T.ConstantLR(o, factor=1.5)),
        (lambda: L.CyclicLR(0.1, 1.0, mode="square"), lambda o: T.CyclicLR(o, 0.1, 1.0, mode="square")),
        (lambda: L.ReduceLROnPlateau(LR, factor=1.0), lambda o: T.ReduceLROnPlateau(o, factor=1.0)),
        (lambda: L.ReduceLROnPlateau(LR, mode="avg"), lambda o: T.ReduceLROnPlateau(o, mode="avg")),
        (lambda: L.ReduceLROnPlateau(LR, threshold_mode="x"), lambda o: T.ReduceLROnPlateau(o, threshold_mode="x")),
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


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_cyclic_momentum_equals_torchs_group_momentum(mode, optimizer):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = getattr(torch.optim, optimizer)([p], lr=LR, **({"momentum": 0.9} if optimizer == "SGD" else {}))
    sched = T.CyclicLR(opt, 0.1, 1.0, 5, 3, mode=mode, gamma=0.97, base_momentum=0.7, max_momentum=0.95)
    read = (lambda g: g["momentum"]) if optimizer == "SGD" else (lambda g: g["betas"][0])
    expected = [read(opt.param_groups[0])]
    for _ in range(60):
        opt.step()
        sched.step()
        expected.append(read(opt.param_groups[0]))
    momentum = L.CyclicLR(0.1, 1.0, 5, 3, mode=mode, gamma=0.97, base_momentum=0.7, max_momentum=0.95).momentum
    with jax.enable_x64(True):
        got = np.asarray(jax.vmap(momentum)(jnp.arange(61)))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_cyclic_momentum_drives_the_optimizer_like_torch():
    """SGD with momentum under CyclicLR(cycle_momentum=True): parameters equal torch's for 40 steps."""
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((40, 3))
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = T.CyclicLR(opt, 0.01, 0.2, 6)
    expected = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        sched.step()
        expected.append(p.detach().numpy().copy())
    with jax.enable_x64(True):
        tx = jo.SGD(lr=L.CyclicLR(0.01, 0.2, 6), momentum=0.9)
        params = jnp.zeros(3)
        state = tx.init(params)
        got = []
        for g in grads:
            u, state = tx.update(jnp.asarray(g), state, params)
            params = params + u
            got.append(np.asarray(params))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.9, 0.899995, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6, 0.49, 0.7, 0.8, 0.8,
                   0.8, 0.9, 1.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"patience": 1},
        {"patience": 2, "cooldown": 2, "factor": 0.5},
        {"mode": "max", "patience": 1},
        {"threshold_mode": "abs", "threshold": 0.05, "patience": 1},
        {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 0, "cooldown": 1},
        {"patience": 0, "factor": 0.5, "min_lr": 0.1},
        {"patience": 0, "factor": 0.999999999, "eps": 1e-3},
    ],
    ids=str,
)
def test_reduce_on_plateau_reduces_at_torchs_steps(options):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=LR)
    sched = T.ReduceLROnPlateau(opt, **options)
    expected = []
    for metric in PLATEAU_METRICS:
        sched.step(metric)
        expected.append((opt.param_groups[0]["lr"], sched.num_bad_epochs, sched.cooldown_counter))
    with jax.enable_x64(True):
        tx = L.ReduceLROnPlateau(LR, **options)
        state = tx.init(None)
        step = jax.jit(L.plateau_step)
        got = []
        for metric in PLATEAU_METRICS:
            state = step(state, metric)
            got.append((float(state.lr), int(state.num_bad_epochs), int(state.cooldown_counter)))
    np.testing.assert_allclose([g[0] for g in got], [e[0] for e in expected], rtol=1e-12)
    assert [g[1:] for g in got] == [e[1:] for e in expected]


def test_reduce_on_plateau_scales_a_chained_optimizers_updates_like_torch():
    """AdamW with weight decay under ReduceLROnPlateau fed a metric each step, as value=."""
    rng = np.random.default_rng(1)
    grads = rng.standard_normal((25, 4))
    metrics = [1.0, 0.8, 0.9, 0.9, 0.9, 0.7, 0.75, 0.75, 0.75, 0.75] * 3
    p = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    opt = torch.optim.AdamW([p], lr=0.05)
    sched = T.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    expected = []
    for g, m in zip(grads, metrics):
        sched.step(m)
        p.grad = torch.tensor(g)
        opt.step()
        expected.append(p.detach().numpy().copy())
    with jax.enable_x64(True):
        import optax

        tx = optax.chain(jo.AdamW(lr=0.05), L.ReduceLROnPlateau(0.05, patience=1, factor=0.5))
        params = jnp.ones(4)
        state = tx.init(params)
        update = jax.jit(tx.update)
        got = []
        for g, m in zip(grads, metrics):
            u, state = update(jnp.asarray(g), state, params, value=m)
            params = optax.apply_updates(params, u)
            got.append(np.asarray(params))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_reduce_on_plateau_state_dict_round_trips_with_torch():
    options = {"patience": 1, "cooldown": 1, "factor": 0.5, "mode": "max", "threshold_mode": "abs"}
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=LR)
    sched = T.ReduceLROnPlateau(opt, **options)
    tx = L.ReduceLROnPlateau(LR, **options)
    state = tx.init(None)
    for metric in [1.0, 0.5, 0.4, 0.3, 0.2]:
        sched.step(metric)
        state = L.plateau_step(state, metric)
    ours = L.plateau_state_dict(state)
    assert set(ours) == set(sched.state_dict())
    for key, value in sched.state_dict().items():
        if isinstance(value, str):
            assert ours[key] == value, key
        else:
            np.testing.assert_allclose(np.asarray(ours[key], float), np.asarray(value, float), rtol=1e-6, err_msg=key)
    # torch's state into a fresh jaxnn scheduler, then both go on alike
    resumed = L.load_plateau_state_dict(tx.init(None), sched.state_dict())
    for metric in [0.1, 0.9, 0.95]:
        sched.step(metric)
        resumed = L.plateau_step(resumed, metric)
        np.testing.assert_allclose(float(resumed.lr), opt.param_groups[0]["lr"], rtol=1e-6)
    with pytest.raises(ValueError, match="differ"):
        L.load_plateau_state_dict(L.ReduceLROnPlateau(LR).init(None), sched.state_dict())
