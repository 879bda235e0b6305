"""LBFGS against torch.optim.LBFGS step by step: Rosenbrock and a least-squares model, with and without strong_wolfe."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxnn.optim as jo

from ._runs import torch_default_dtype


def rosenbrock(x, xp=jnp):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _least_squares_data(dtype):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(16, 3))
    targets = features @ np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]]) + 0.1 * rng.normal(size=(16, 2))
    params = {"bias": rng.normal(size=2), "weight": rng.normal(size=(2, 3))}
    return params, features.astype(dtype), targets.astype(dtype)


def _torch_trajectory(params, loss_fn, kwargs, steps, dtype):
    """torch LBFGS steps; params in ``jax.tree.leaves`` order (sorted names) as one param list."""
    tdtype = getattr(torch, dtype)
    with torch_default_dtype(torch.float64 if dtype == "float64" else torch.float32):
        ts = {k: torch.tensor(v, dtype=tdtype, requires_grad=True) for k, v in params.items()}
        opt = torch.optim.LBFGS([ts[k] for k in sorted(ts)], **kwargs)

        def closure():
            opt.zero_grad()
            loss = loss_fn(ts)
            loss.backward()
            return loss

        out, counts = [], []
        for _ in range(steps):
            opt.step(closure)
            out.append({k: v.detach().double().numpy().copy() for k, v in ts.items()})
            state = opt.state[ts[sorted(ts)[0]]]
            counts.append((state["func_evals"], state["n_iter"]))
    return out, counts, opt


def _jax_trajectory(params, loss_fn, kwargs, steps, dtype):
    opt = jo.LBFGS(**kwargs)
    p = {k: jnp.asarray(v, dtype) for k, v in params.items()}
    state = opt.init(p)

    @jax.jit
    def step(p, state):
        updates, state = opt.update(jax.grad(loss_fn)(p), state, p, value_fn=loss_fn)
        return jax.tree.map(jnp.add, p, updates), state

    out, counts = [], []
    for _ in range(steps):
        p, state = step(p, state)
        out.append(jax.tree.map(np.asarray, p))
        counts.append((int(state.func_evals), int(state.n_iter)))
    return out, counts, state


def _assert_same(got, expected, rtol, atol):
    for step, (g, e) in enumerate(zip(got, expected)):
        for k in e:
            np.testing.assert_allclose(g[k], e[k], rtol=rtol, atol=atol, err_msg=f"step {step + 1}, {k}")


@pytest.mark.parametrize(
    "kwargs,steps",
    [
        (dict(), 8),
        (dict(line_search_fn="strong_wolfe"), 6),
        # a history of 2 drops old pairs; max_eval below max_iter cuts iterations short
        (dict(lr=0.5, history_size=2, max_iter=7, max_eval=5), 8),
        (dict(history_size=2, max_iter=30, line_search_fn="strong_wolfe", tolerance_change=1e-12), 3),
    ],
    ids=["plain", "strong_wolfe", "short-history", "wolfe-short-history"],
)
def test_rosenbrock_matches_torch_every_step(kwargs, steps, x64):
    params = {"x": np.linspace(-1.2, 1.0, 5)}
    loss = lambda p, xp=jnp: rosenbrock(p["x"], xp)  # noqa: E731
    expected, t_counts, topt = _torch_trajectory(params, lambda ts: loss(ts, torch), kwargs, steps, "float64")
    got, j_counts, state = _jax_trajectory(params, loss, kwargs, steps, "float64")
    _assert_same(got, expected, rtol=1e-9, atol=1e-12)
    assert j_counts == t_counts
    # torch's per-parameter state, read from jaxnn's. Gradient differences y = g - g_prev cancel near the
    # optimum and Rosenbrock's Hessian (~1e3) scales the parameters' 1e-9 agreement: compared looser.
    torch_state = topt.state[topt.param_groups[0]["params"][0]]
    np.testing.assert_allclose(state.d, torch_state["d"].numpy(), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(float(state.t), float(torch_state["t"]), rtol=1e-9)
    np.testing.assert_allclose(float(state.prev_loss), torch_state["prev_loss"], rtol=1e-9, atol=1e-14)
    n = int(state.num_old)
    assert n == len(torch_state["old_dirs"])
    np.testing.assert_allclose(state.old_dirs[:n], torch.stack(torch_state["old_dirs"]).numpy(), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(state.ro[:n], torch.stack(torch_state["ro"]).numpy(), rtol=1e-5)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_least_squares_model_matches_torch(line_search_fn, dtype, x64):
    params, features, targets = _least_squares_data(dtype)

    def loss(p, xp=jnp, asarray=jnp.asarray):
        pred = asarray(features) @ p["weight"].T + p["bias"]
        return xp.mean((pred - asarray(targets)) ** 2)

    kwargs = dict(lr=0.8, max_iter=5, history_size=3, line_search_fn=line_search_fn)
    expected, t_counts, _ = _torch_trajectory(params, lambda ts: loss(ts, torch, torch.from_numpy), kwargs, 4, dtype)
    got, j_counts, _ = _jax_trajectory(params, loss, kwargs, 4, dtype)
    if dtype == "float64":
        _assert_same(got, expected, rtol=1e-9, atol=1e-12)
        assert j_counts == t_counts
    else:
        # float32: torch keeps the loss as a Python double; jaxnn in float32. Same iterations, rounding-level steps.
        _assert_same(got, expected, rtol=1e-4, atol=1e-5)


def test_stops_at_once_when_the_gradient_is_below_tolerance_grad():
    opt = jo.LBFGS()
    p = {"x": jnp.ones(3)}
    f = lambda p: rosenbrock(p["x"])  # noqa: E731 - minimum at ones, gradient exactly 0
    updates, state = opt.update(jax.grad(f)(p), opt.init(p), p, value_fn=f)
    np.testing.assert_array_equal(updates["x"], 0.0)
    assert (int(state.func_evals), int(state.n_iter)) == (1, 0)  # torch: func_evals 1, n_iter 0


def test_signature_is_torchs():
    import inspect

    ours = inspect.signature(jo.LBFGS)
    theirs = inspect.signature(torch.optim.LBFGS.__init__)
    expected = [p for p in theirs.parameters.values() if p.name not in ("self", "params")]
    assert [(p.name, p.default) for p in ours.parameters.values()] == [(p.name, p.default) for p in expected]


def test_bad_arguments():
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS(p, lr=-1.0)
    with pytest.raises(ValueError) as ours:
        jo.LBFGS(lr=-1.0)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="line_search_fn: only 'strong_wolfe' is supported, got 'armijo'"):
        jo.LBFGS(line_search_fn="armijo")
    opt = jo.LBFGS()
    params = {"x": jnp.zeros(2)}
    with pytest.raises(ValueError, match="LBFGS.update needs value_fn"):
        opt.update(params, opt.init(params), params)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        jo.param_groups(jo.LBFGS, None, [{}, {"lr": 0.1}])


def test_state_dict_round_trip_torch_jaxnn_torch(x64):
    """torch 3 steps -> jaxnn loads, 3 steps -> torch loads jaxnn's export, 3 steps == torch 9 steps."""
    params, features, targets = _least_squares_data("float64")

    def loss(p, xp=jnp, asarray=jnp.asarray):
        return xp.mean((asarray(features) @ p["weight"].T + p["bias"] - asarray(targets)) ** 2)

    torch_loss = lambda ts: loss(ts, torch, torch.from_numpy)  # noqa: E731
    kwargs = dict(lr=0.5, max_iter=4, history_size=3, line_search_fn="strong_wolfe")
    full, _, _ = _torch_trajectory(params, torch_loss, kwargs, 9, "float64")
    first, _, topt = _torch_trajectory(params, torch_loss, kwargs, 3, "float64")
    opt = jo.LBFGS(**kwargs)
    p = {k: jnp.asarray(v) for k, v in first[-1].items()}
    state = jo.load_state_dict(opt, p, topt.state_dict())
    assert int(state.n_iter) == topt.state_dict()["state"][0]["n_iter"]

    @jax.jit
    def step(p, state):
        updates, state = opt.update(jax.grad(loss)(p), state, p, value_fn=loss)
        return jax.tree.map(jnp.add, p, updates), state

    second = []
    for _ in range(3):
        p, state = step(p, state)
        second.append(jax.tree.map(np.asarray, p))
    exported = jo.state_dict(opt, state, p)
    assert list(exported["state"][0]) == [k for k in topt.state_dict()["state"][0] if k != "al"]
    ts = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in p.items()}
    topt2 = torch.optim.LBFGS([ts[k] for k in sorted(ts)], **kwargs)
    topt2.load_state_dict(exported)

    def closure():
        topt2.zero_grad()
        value = torch_loss(ts)
        value.backward()
        return value

    third = []
    for _ in range(3):
        topt2.step(closure)
        third.append({k: v.detach().numpy().copy() for k, v in ts.items()})
    _assert_same(first + second + third, full, rtol=1e-9, atol=1e-12)
