"""Adadelta, ASGD, Rprop, Adafactor, Muon, SparseAdam beyond the 30-step grid: a real model, state, checkpoints, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jaxnn.optim as jo

from ._runs import assert_close64, assert_rounding_level, jax_run, problem, torch_default_dtype, torch_run

MIXED = {"bias": (3,), "weight": (2, 3), "conv": (2, 1, 3)}


def _mlp_loss(p, x, y, xp):
    h = xp.tanh(x @ p["fc1.weight"].T + p["fc1.bias"])
    out = h @ p["fc2.weight"].T + p["fc2.bias"]
    return ((out - y) ** 2).mean()


@pytest.mark.parametrize(
    "name,kwargs,matrices_only",
    [
        ("Adadelta", dict(weight_decay=0.01), False),
        ("ASGD", dict(lr=0.05, t0=10), False),
        ("Rprop", dict(lr=0.01), False),
        ("Adafactor", dict(lr=0.05, weight_decay=0.01), False),
        ("Muon", dict(lr=0.02), True),
    ],
)
def test_mlp_30_steps_float32_matches_torch(name, kwargs, matrices_only):
    """An MLP on a fixed batch, its gradients from each framework's autodiff, 30 steps in float32."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    init = {
        "fc1.bias": rng.normal(size=5) * 0.1, "fc1.weight": rng.normal(size=(5, 4)) * 0.5,
        "fc2.bias": rng.normal(size=2) * 0.1, "fc2.weight": rng.normal(size=(2, 5)) * 0.5,
    }
    trained = [k for k in sorted(init) if not matrices_only or k.endswith("weight")]
    ts = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float32)) for k, v in init.items()}
    topt = getattr(torch.optim, name)([ts[k] for k in trained], **kwargs)
    expected = []
    for _ in range(30):
        topt.zero_grad()
        _mlp_loss(ts, torch.from_numpy(x), torch.from_numpy(y), torch).backward()
        topt.step()
        expected.append({k: ts[k].detach().numpy().copy() for k in trained})

    opt = jo.param_groups(getattr(jo, name), None, [kwargs]) if not matrices_only else getattr(jo, name)(**kwargs)
    frozen = {k: jnp.asarray(v, "float32") for k, v in init.items() if k not in trained}
    p = {k: jnp.asarray(init[k], "float32") for k in trained}

    @jax.jit
    def run(p):
        def body(carry, _):
            p, s = carry
            g = jax.grad(lambda q: _mlp_loss({**q, **frozen}, x, y, jnp))(p)
            u, s = opt.update(g, s, p)
            p = optax.apply_updates(p, u)
            return (p, s), p

        return jax.lax.scan(body, (p, opt.init(p)), None, length=30)[1]

    trace = run(p)
    for k in trained:
        np.testing.assert_allclose(trace[k], np.stack([e[k] for e in expected]), rtol=2e-4, atol=2e-5, err_msg=k)


def test_asgd_averaged_parameters_are_torchs_ax():
    params, grads = problem(3, steps=30, shapes={"bias": (3,), "weight": (2, 3)})
    kwargs = dict(lr=0.05, t0=12, lambd=1e-3)
    _, topt = torch_run(lambda ps: torch.optim.ASGD(ps, **kwargs), params, grads, "float64")
    with jax.enable_x64(True):
        _, state = jax_run(jo.ASGD(**kwargs), params, grads, "float64")
    for i, k in enumerate(sorted(params)):
        torch_state = topt.state_dict()["state"][i]
        np.testing.assert_allclose(state.slots["ax"][k], torch_state["ax"].numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(state.slots["eta"][k], torch_state["eta"].numpy(), rtol=1e-12)
        np.testing.assert_allclose(state.slots["mu"][k], torch_state["mu"].numpy(), rtol=1e-12)


def _sparse_grads(seed, steps, shapes):
    """Dense gradients whose rows are zero at random, as an embedding's gradient is."""
    params, grads = problem(seed, steps=steps, shapes=shapes)
    rng = np.random.default_rng(seed + 100)
    for k, g in grads.items():
        g *= (rng.random(g.shape[:2]) < 0.5).reshape(g.shape[:2] + (1,) * (g.ndim - 2))
    return params, grads


def _torch_sparse_adam(params, grads, dtype, kwargs):
    tdtype = getattr(torch, dtype)
    with torch_default_dtype(tdtype):
        ts = {k: torch.nn.Parameter(torch.tensor(v, dtype=tdtype)) for k, v in params.items()}
        opt = torch.optim.SparseAdam([ts[k] for k in sorted(ts)], **kwargs)
        out = {k: [] for k in ts}
        for s in range(len(next(iter(grads.values())))):
            for k, p in ts.items():
                p.grad = torch.tensor(grads[k][s], dtype=tdtype).to_sparse(1)
            opt.step()
            for k, p in ts.items():
                out[k].append(p.detach().double().numpy().copy())
    return {k: np.stack(v) for k, v in out.items()}, opt


@pytest.mark.parametrize("kwargs", [dict(lr=0.05), dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3, maximize=True)])
def test_sparse_adam_updates_only_touched_rows_like_torch(kwargs):
    params, grads = _sparse_grads(4, 30, {"embedding": (6, 3), "vector": (5,)})
    t64, _ = _torch_sparse_adam(params, grads, "float64", kwargs)
    t32, topt = _torch_sparse_adam(params, grads, "float32", kwargs)
    with jax.enable_x64(True):
        j64, _ = jax_run(jo.SparseAdam(**kwargs), params, grads, "float64")
    j32, state = jax_run(jo.SparseAdam(**kwargs), params, grads, "float32")
    assert_close64(j64, t64)
    assert_rounding_level(j32, t32, t64)
    # the state a checkpoint holds is torch's too (its step a Python int)
    ours = jo.state_dict(jo.SparseAdam(**kwargs), state, jax.tree.map(lambda v: v[-1], j32))
    theirs = topt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    for i in theirs["state"]:
        assert ours["state"][i]["step"] == theirs["state"][i]["step"] == 30
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(ours["state"][i][key].numpy(), theirs["state"][i][key].numpy(), rtol=1e-5, atol=1e-7)


ROUND_TRIP = [
    ("Adadelta", dict(lr=0.5, weight_decay=0.1), MIXED),
    ("ASGD", dict(lr=0.05, t0=5), MIXED),
    ("Rprop", dict(lr=0.05), MIXED),
    ("Adafactor", dict(lr=0.05), MIXED),
    ("Muon", dict(lr=0.05), {"a": (3, 2), "b": (2, 4)}),
]


@pytest.mark.parametrize("name,kwargs,shapes", ROUND_TRIP, ids=[r[0] for r in ROUND_TRIP])
def test_state_dict_round_trip_torch_jaxnn_torch(name, kwargs, shapes):
    """torch 10 steps -> jaxnn loads and runs 10 -> torch loads jaxnn's export and runs 10 == torch 30 steps."""
    params, grads = problem(5, steps=30, shapes=shapes)
    parts = [{k: v[i * 10:(i + 1) * 10] for k, v in grads.items()} for i in range(3)]
    make = lambda ps: getattr(torch.optim, name)(ps, **kwargs)  # noqa: E731
    full, _ = torch_run(make, params, grads, "float32")
    first, topt = torch_run(make, params, parts[0], "float32")
    opt = getattr(jo, name)(**kwargs)
    mid = {k: v[-1] for k, v in first.items()}
    state = jo.load_state_dict(opt, jax.tree.map(jnp.asarray, mid), topt.state_dict())
    second, state = jax_run(opt, mid, parts[1], "float32", state=state)
    late = {k: v[-1] for k, v in second.items()}
    exported = jo.state_dict(opt, state, jax.tree.map(jnp.asarray, late))
    assert exported["param_groups"][0].keys() == topt.state_dict()["param_groups"][0].keys()
    for i, entry in topt.state_dict()["state"].items():
        assert list(exported["state"][i]) == list(entry)
    third, _ = torch_run(make, late, parts[2], "float32", start_state=exported)
    for k in params:
        np.testing.assert_allclose(np.concatenate([first[k], second[k], third[k]]), full[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_adafactor_keeps_torchs_factored_state_shapes():
    params = {k: jnp.zeros(s) for k, s in MIXED.items()}
    state = jo.Adafactor().init(params)
    assert state.slots["row_var"]["weight"].shape == (2, 1) and state.slots["col_var"]["weight"].shape == (1, 3)
    assert state.slots["row_var"]["conv"].shape == (2, 1, 1) and state.slots["col_var"]["conv"].shape == (2, 1, 3)
    assert state.slots["variance"]["bias"].shape == (3,)


def test_muon_refuses_parameters_that_are_not_2d_with_torchs_message():
    with pytest.raises(ValueError) as theirs:
        torch.optim.Muon([torch.nn.Parameter(torch.zeros(3))])
    opt = jo.Muon()
    with pytest.raises(ValueError) as ours:
        opt.init({"w": jnp.zeros((2, 2)), "b": jnp.zeros(3)})
    assert str(ours.value) == str(theirs.value).replace("torch.Size([3])", "(3,)")


def test_muon_newton_schulz_is_torchs_to_the_bit():
    from torch.optim._muon import _zeropower_via_newtonschulz

    from jaxnn.optim.muon import zeropower_via_newtonschulz

    rng = np.random.default_rng(0)
    for shape in [(4, 7), (9, 3), (5, 5)]:
        g = rng.normal(size=shape).astype("float32")
        theirs = _zeropower_via_newtonschulz(torch.from_numpy(g), (3.4445, -4.775, 2.0315), 5, 1e-7)
        ours = zeropower_via_newtonschulz(jnp.asarray(g), (3.4445, -4.775, 2.0315), 5, 1e-7)
        assert ours.dtype == jnp.bfloat16
        np.testing.assert_array_equal(np.asarray(ours.astype("float32")), theirs.float().numpy())
