"""Each jaxnn optimizer against torch.optim, 50 steps, params compared after every step."""

import inspect

import jax
import numpy as np
import optax
import pytest
import torch

import jaxnn.optim as jo
from jaxnn.optim import lr_scheduler as js

from ._runs import TWO_LEAVES, assert_close64, assert_rounding_level, jax_run, jax_run_both, problem, torch_run

GRID = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3, maximize=True)),
    ("Adam", dict(lr=0.05, betas=(0.0, 0.99), weight_decay=0.2, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1, maximize=True, eps=1e-4)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3, maximize=True)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.8, 0.99))),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.8, 0.99))),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.1, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    # t0 inside the run: ax copies the iterate, then averages.
    ("ASGD", dict(lr=0.05, t0=5, lambd=0.01, alpha=0.5, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict(lr=0.05)),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=1.5, weight_decay=0.1, maximize=True)),
    ("Muon", dict(lr=0.05)),
    ("Muon", dict(lr=0.05, nesterov=False, adjust_lr_fn="match_rms_adamw", weight_decay=0.0, momentum=0.5, ns_steps=3)),
    ("Muon", dict(lr=0.05, adjust_lr_fn="original", ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3)),
]


def _compare(make_jax, make_torch, params, grads, both=False, **torch_kwargs):
    """Float64 tight, float32 at rounding level, asserted after every step.

    ``both``: run the two dtypes in one compiled scan (the option grid);
    otherwise float32 runs with x64 off, as users run it.
    """
    t64, _ = torch_run(make_torch, params, grads, "float64", **torch_kwargs)
    t32, _ = torch_run(make_torch, params, grads, "float32", **torch_kwargs)
    if both:
        j32, j64 = jax_run_both(make_jax(), params, grads)
    else:
        with jax.enable_x64(True):
            j64, _ = jax_run(make_jax(), params, grads, "float64")
        j32, _ = jax_run(make_jax(), params, grads, "float32")
    assert_close64(j64, t64)
    assert_rounding_level(j32, t32, t64)


@pytest.mark.parametrize("name,kwargs", GRID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(GRID)])
def test_matches_torch_every_step(name, kwargs):
    params, grads = problem()
    _compare(
        lambda: getattr(jo, name)(**kwargs),
        lambda ps: getattr(torch.optim, name)(ps, **kwargs),
        params,
        grads,
        both=True,
    )


@pytest.mark.parametrize("name", sorted({n for n, _ in GRID} | {"SparseAdam"}))
def test_signature_is_torchs(name):
    ours = inspect.signature(getattr(jo, name))
    theirs = inspect.signature(getattr(torch.optim, name).__init__)
    expected = [p for p in theirs.parameters.values() if p.name not in ("self", "params")]
    got = list(ours.parameters.values())
    assert [(p.name, p.kind, p.default) for p in got] == [(p.name, p.kind, p.default) for p in expected]


def test_returns_optax_transformation_with_torch_groups():
    opt = jo.AdamW()
    assert isinstance(opt, optax.GradientTransformation)
    p = torch.nn.Parameter(torch.zeros(1))
    torch_group = torch.optim.AdamW([p]).state_dict()["param_groups"][0]
    del torch_group["params"]
    assert opt.param_groups == [torch_group]


@pytest.mark.parametrize(
    "name,kwargs,sched_jax,sched_torch",
    [
        ("Adam", dict(lr=0.05), lambda lr: js.StepLR(lr, 10, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 10, 0.5)),
        ("AdamW", dict(lr=0.05, weight_decay=0.3), lambda lr: js.CosineAnnealingLR(lr, 15, 0.001),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 15, 0.001)),
        ("SGD", dict(lr=0.1, momentum=0.9), lambda lr: js.OneCycleLR(lr, total_steps=50, cycle_momentum=False),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=50, cycle_momentum=False)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.05), lambda lr: js.ExponentialLR(lr, 0.97),
         lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.97)),
        # cycle_momentum (torch's default): the scheduler also drives momentum / beta1.
        ("SGD", dict(lr=0.1, momentum=0.0, nesterov=False), lambda lr: js.OneCycleLR(lr, total_steps=50),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=50)),
        ("RMSprop", dict(lr=0.01, momentum=0.5), lambda lr: js.OneCycleLR(lr, total_steps=50, three_phase=True),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.01, total_steps=50, three_phase=True)),
        ("Adam", dict(lr=0.05, betas=(0.9, 0.99)),
         lambda lr: js.OneCycleLR(lr, total_steps=50, anneal_strategy="linear", base_momentum=0.5),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.05, total_steps=50, anneal_strategy="linear", base_momentum=0.5)),
        ("NAdam", dict(lr=0.05), lambda lr: js.OneCycleLR(lr, total_steps=50),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.05, total_steps=50)),
    ],
    ids=["Adam-StepLR", "AdamW-Cosine", "SGD-OneCycle", "Adagrad-Exponential", "SGD-OneCycle-momentum",
         "RMSprop-OneCycle-momentum", "Adam-OneCycle-beta1", "NAdam-OneCycle-beta1"],
)
def test_scheduled_lr_matches_torch_scheduler(name, kwargs, sched_jax, sched_torch):
    params, grads = problem(1)
    _compare(
        lambda: getattr(jo, name)(**{**kwargs, "lr": sched_jax(kwargs["lr"])}),
        lambda ps: getattr(torch.optim, name)(ps, **kwargs),
        params,
        grads,
        scheduler=sched_torch,
    )


@pytest.mark.parametrize(
    "name,defaults,overrides",
    [
        ("AdamW", dict(lr=0.05, weight_decay=0.3), dict(weight_decay=0.0, lr=0.1)),
        ("SGD", dict(lr=0.05, momentum=0.9), dict(momentum=0.0)),
        ("NAdam", dict(lr=0.05), dict(betas=(0.5, 0.9), weight_decay=0.1)),
    ],
)
def test_param_groups_match_torch_groups(name, defaults, overrides):
    params, grads = problem(2, shapes=TWO_LEAVES)
    # group 0: the matrix, group 1: the vector (e.g. no decay on biases)
    labels = lambda p: {k: int(v.ndim == 1) for k, v in p.items()}  # noqa: E731
    _compare(
        lambda: jo.param_groups(getattr(jo, name), labels, [{}, overrides], **defaults),
        lambda groups: getattr(torch.optim, name)(
            [{"params": groups[0]}, {"params": groups[1], **overrides}], **defaults
        ),
        params,
        grads,
        groups=[["weight"], ["bias"]],
    )


@pytest.mark.parametrize("name", ["Adam", "NAdam"])
def test_bfloat16_params_at_torchs_rounding_level(name):
    """bf16 parameters and state; step-dependent scalars stay float32 (torch: double)."""
    params, grads = problem(8, steps=30)
    make_torch = lambda ps: getattr(torch.optim, name)(ps, lr=0.05)  # noqa: E731
    t16, _ = torch_run(make_torch, params, grads, "bfloat16")
    t64, _ = torch_run(make_torch, params, grads, "float64")
    j16, state = jax_run(getattr(jo, name)(lr=0.05), params, grads, jax.numpy.bfloat16)
    assert {x.dtype for x in jax.tree.leaves(state.slots["exp_avg"])} == {np.dtype(jax.numpy.bfloat16)}
    assert_rounding_level(j16, t16, t64)


def test_first_sgd_step_uses_raw_gradient_as_buffer():
    """Hand-worked: torch's buffer is g1 at step 1 (no dampening), then m*buf + (1-d)*g."""
    opt = jo.SGD(lr=1.0, momentum=0.5, dampening=0.5)
    p = {"w": jax.numpy.zeros(1)}
    s = opt.init(p)
    u1, s = opt.update({"w": jax.numpy.ones(1)}, s, p)
    u2, s = opt.update({"w": jax.numpy.ones(1)}, s, p)
    np.testing.assert_allclose([u1["w"][0], u2["w"][0]], [-1.0, -(0.5 * 1 + 0.5 * 1)])


def test_eager_nnx_optimizer_equals_torch():
    """Outside jit, through nnx.Optimizer (which stores the NamedTuple state as dicts), 3 steps == torch."""
    from flax import nnx

    params, grads = problem(3, steps=3, shapes=TWO_LEAVES)
    t32, _ = torch_run(lambda ps: torch.optim.Adam(ps, lr=0.05, amsgrad=True), params, grads, "float32")
    model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
    model.kernel[...] = jax.numpy.asarray(params["weight"], "float32")
    model.bias[...] = jax.numpy.asarray(params["bias"], "float32")
    opt = nnx.Optimizer(model, jo.Adam(lr=0.05, amsgrad=True), wrt=nnx.Param)
    for step in range(3):
        g = nnx.State({name: nnx.Param(jax.numpy.asarray(grads[key][step], "float32"))
                       for name, key in (("bias", "bias"), ("kernel", "weight"))})
        opt.update(model, g)
        np.testing.assert_allclose(model.kernel[...], t32["weight"][step], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(model.bias[...], t32["bias"][step], rtol=1e-6, atol=1e-7)


BAD = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(momentum=-0.5)),
    ("SGD", dict(weight_decay=-1e-4)),
    ("SGD", dict(nesterov=True)),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-1e-3)),
    ("Adam", dict(eps=-1e-8)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("AdamW", dict(weight_decay=-0.01)),
    ("RMSprop", dict(alpha=-0.9)),
    ("RMSprop", dict(momentum=-0.1)),
    ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("NAdam", dict(momentum_decay=-1.0)),
    ("NAdam", dict(betas=(0.9, 1.0))),
    ("RAdam", dict(betas=(-0.1, 0.999))),
    ("Adamax", dict(eps=-1.0)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(eps=-1e-6)),
    ("Adadelta", dict(weight_decay=-0.1)),
    ("ASGD", dict(lr=-0.1)),
    ("ASGD", dict(weight_decay=-0.1)),
    ("Rprop", dict(lr=-0.1)),
    ("Rprop", dict(etas=(1.2, 0.5))),
    ("Adafactor", dict(lr=-0.1)),
    ("Adafactor", dict(beta2_decay=0.5)),
    ("Adafactor", dict(eps=(-1.0, 1e-3))),
    ("Adafactor", dict(eps=(None, -1e-3))),
    ("Adafactor", dict(d=0.5)),
    ("Adafactor", dict(weight_decay=-0.1)),
    ("Muon", dict(lr=-0.1)),
    ("Muon", dict(momentum=-0.1)),
    ("Muon", dict(weight_decay=-0.1)),
    ("Muon", dict(adjust_lr_fn="rms")),
    ("SparseAdam", dict(lr=0.0)),
    ("SparseAdam", dict(eps=0.0)),
    ("SparseAdam", dict(betas=(0.9, 1.0))),
    ("LBFGS", dict(lr=-1.0)),
]


@pytest.mark.parametrize("name,kwargs", BAD, ids=[f"{n}-{list(k)[0]}-{i}" for i, (n, k) in enumerate(BAD)])
def test_bad_hyperparameters_raise_torchs_error(name, kwargs):
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)(p, **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(jo, name)(**kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_unknown_argument_is_a_type_error(name):
    with pytest.raises(TypeError, match="unexpected keyword argument 'momentun'"):
        getattr(jo, name)(momentun=0.9)


def test_param_group_errors():
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        jo.param_groups(jo.SGD, None, [{}, {"lr": -1}], lr=0.1)
    opt = jo.param_groups(jo.SGD, {"w": 2}, [{}, {}], lr=0.1)
    with pytest.raises(ValueError, match=r"ints in \[0, 2\).*leaf 0 has 2"):
        opt.init({"w": jax.numpy.zeros(2)})
    with pytest.raises(ValueError, match="needs the parameters"):
        jo.Adam().update({"w": jax.numpy.zeros(2)}, jo.Adam().init({"w": jax.numpy.zeros(2)}))


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_gradient_of_another_shape_is_refused(name):
    # torch: "assigned grad has data of a different size"; broadcasting here would silently grow the state.
    params = {"b": jax.numpy.zeros(3), "w": jax.numpy.zeros((1, 3))}
    opt = getattr(jo, name)(lr=0.1)
    with pytest.raises(ValueError, match=rf"{name}.update: the gradient at \['w'\] has shape \(3,\), its parameter \(1, 3\)"):
        opt.update({"b": jax.numpy.ones(3), "w": jax.numpy.ones(3)}, opt.init(params), params)


def test_cycle_momentum_needs_momentum_or_betas_as_in_torch():
    p = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError) as theirs:
        torch.optim.lr_scheduler.OneCycleLR(torch.optim.Adagrad([p], lr=0.1), 0.1, total_steps=10)
    with pytest.raises(ValueError) as ours:
        jo.Adagrad(lr=js.OneCycleLR(0.1, total_steps=10))
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("beta2", [0.999, 0.99, 0.9, 0.3])
def test_radam_rho_float32_close_to_torchs_double(beta2):
    """torch computes rho_t in double on the host; the float32 form must not cancel."""
    from jaxnn.optim.radam import rho

    t = np.arange(1, 3001, dtype=np.float64)
    rho_inf = 2 / (1 - beta2) - 1
    expected = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    got = np.asarray(jax.jit(lambda t: rho(beta2, t))(jax.numpy.asarray(t, "float32")))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=2e-6)
