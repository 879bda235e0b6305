"""swa_utils against torch: AveragedModel (EMA and SWA, buffers in or out), SWALR, update_bn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.optim.swa_utils as TS
from flax import nnx

import jaxnn
from jaxnn.optim import swa_utils as S


def _pair(seed=0):
    torch.manual_seed(seed)
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
    j = jaxnn.Sequential(
        jaxnn.Linear(3, 4, rngs=nnx.Rngs(0), dtype=jnp.float64), jaxnn.BatchNorm1d(4, dtype=jnp.float64),
        jaxnn.ReLU(), jaxnn.Linear(4, 2, rngs=nnx.Rngs(1), dtype=jnp.float64),
    )
    jaxnn.load_state_dict(j, t.state_dict())
    return t, j


def _perturb(t, j, step):
    """A training step's worth of change on both twins: new parameters, new statistics."""
    rng = np.random.default_rng(step)
    x = rng.standard_normal((6, 3))
    with torch.no_grad():
        for p in t.parameters():
            p.add_(torch.tensor(rng.standard_normal(tuple(p.shape)) * 0.1))
    t.train()
    t(torch.tensor(x))
    jaxnn.load_state_dict(j, t.state_dict())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"multi_avg_fn": "ema"},
        {"multi_avg_fn": "ema", "use_buffers": True},
        {},
        {"use_buffers": True},
        {"avg_fn": "ema"},
        # with use_buffers torch's foreach SWA raises on the integer num_batches_tracked
        # (addcdiv refuses integer division); jaxnn averages it as get_swa_avg_fn does
        {"multi_avg_fn": "swa"},
    ],
    ids=["ema", "ema-buffers", "swa-default", "swa-default-buffers", "ema-avg_fn", "swa-multi"],
)
def test_averaged_model_equals_torch_over_20_steps(kwargs, x64):
    make = {
        "ema": (TS.get_ema_multi_avg_fn(0.9), S.get_ema_multi_avg_fn(0.9)),
        "swa": (TS.get_swa_multi_avg_fn(), S.get_swa_multi_avg_fn()),
    }
    t_kwargs = {k: (make[v][0] if k == "multi_avg_fn" else TS.get_ema_avg_fn(0.8) if k == "avg_fn" else v) for k, v in kwargs.items()}
    j_kwargs = {k: (make[v][1] if k == "multi_avg_fn" else S.get_ema_avg_fn(0.8) if k == "avg_fn" else v) for k, v in kwargs.items()}
    t, j = _pair()
    t_avg, j_avg = TS.AveragedModel(t, **t_kwargs), S.AveragedModel(j, **j_kwargs)
    assert list(jaxnn.state_dict(j_avg)) == list(t_avg.state_dict())
    for step in range(20):
        _perturb(t, j, step)
        t_avg.update_parameters(t)
        j_avg.update_parameters(j)
        expected, got = t_avg.state_dict(), jaxnn.state_dict(j_avg)
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], value.numpy(), rtol=1e-12, atol=1e-14, err_msg=f"step {step}: {key}")
    x = np.random.default_rng(9).standard_normal((5, 3))
    t_avg.eval(), j_avg.eval()
    np.testing.assert_allclose(j_avg(jnp.asarray(x)), t_avg(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_average_is_pure_and_jits(x64):
    t, j = _pair()
    avg = S.AveragedModel(j, multi_avg_fn=S.get_ema_multi_avg_fn(0.5))
    a, c = [jnp.ones(3), jnp.zeros((), jnp.int32)], [jnp.full(3, 3.0), jnp.asarray(4, jnp.int32)]
    out = jax.jit(avg.average)(a, c, jnp.asarray(2))
    np.testing.assert_allclose(out[0], 2.0)
    assert int(out[1]) == 2 and out[1].dtype == jnp.int32
    first = jax.jit(avg.average)(a, c, jnp.asarray(0))
    np.testing.assert_allclose(first[0], 3.0)


@pytest.mark.parametrize("args", [(0.05, 3, "cos"), (0.05, 4, "linear"), (0.2, 0, "cos"), (0.05, 1, "linear")])
def test_swalr_equals_torch(args):
    swa_lr, anneal_epochs, strategy = args
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.5)
    sched = TS.SWALR(opt, swa_lr, anneal_epochs, strategy)
    expected = [opt.param_groups[0]["lr"]]
    for _ in range(10):
        opt.step()
        sched.step()
        expected.append(opt.param_groups[0]["lr"])
    with jax.enable_x64(True):
        got = jax.vmap(S.SWALR(0.5, swa_lr, anneal_epochs, strategy))(jnp.arange(11))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("bad", [dict(anneal_strategy="exp"), dict(anneal_epochs=-1), dict(anneal_epochs=1.5)])
def test_swalr_bad_arguments_raise_as_torch(bad):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    with pytest.raises(ValueError) as theirs:
        TS.SWALR(opt, 0.1, **bad)
    with pytest.raises(ValueError) as ours:
        S.SWALR(0.5, 0.1, **bad)
    assert str(ours.value) == str(theirs.value)


def test_update_bn_equals_torch(x64):
    t, j = _pair()
    with torch.no_grad():
        t[1].momentum = 0.3
    j[1].momentum = 0.3
    rng = np.random.default_rng(3)
    batches = [(rng.standard_normal((4, 3)), rng.integers(0, 2, 4)) for _ in range(5)]
    t.eval(), j.eval()
    TS.update_bn([(torch.tensor(x), torch.tensor(y)) for x, y in batches], t)
    S.update_bn(batches, j)
    for key, value in t.state_dict().items():
        np.testing.assert_allclose(jaxnn.state_dict(j)[key], value.numpy(), rtol=1e-12, err_msg=key)
    assert j[1].momentum == 0.3 and not j.training and not j[1].training
