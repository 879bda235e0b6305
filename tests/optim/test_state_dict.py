"""Optimizer state to and from torch's optimizer.state_dict(): resuming runs across frameworks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxnn.optim as jo

from ._runs import TWO_LEAVES, jax_run, problem, torch_run

LABELS = lambda p: {k: int(v.ndim == 1) for k, v in p.items()}  # noqa: E731


def _split(grads, at):
    return {k: v[:at] for k, v in grads.items()}, {k: v[at:] for k, v in grads.items()}


def test_torch_adam_resumed_in_jaxnn_equals_40_torch_steps():
    params, grads = problem(4, steps=40, shapes=TWO_LEAVES)
    first, second = _split(grads, 20)
    kwargs = dict(lr=0.05, amsgrad=True, weight_decay=0.1)
    # torch orders parameters as given: bias, weight (sorted names), like jax.tree.leaves
    full, _ = torch_run(lambda ps: torch.optim.Adam(ps, **kwargs), params, grads, "float32")
    half, topt = torch_run(lambda ps: torch.optim.Adam(ps, **kwargs), params, first, "float32")
    saved = topt.state_dict()
    resumed_params = {k: v[-1] for k, v in half.items()}
    opt = jo.Adam(**kwargs)
    p = jax.tree.map(jnp.asarray, resumed_params)
    state = jo.load_state_dict(opt, p, saved)
    assert int(state.count) == 20
    trace, _ = jax_run(opt, resumed_params, second, "float32", state=state)
    for k in params:
        np.testing.assert_allclose(trace[k], full[k][20:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name,defaults,overrides",
    [
        ("NAdam", dict(lr=0.05, weight_decay=0.1), dict(lr=0.02, betas=(0.5, 0.9))),
        ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), dict(momentum=0.0, nesterov=False)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01), dict(initial_accumulator_value=0.3)),
        ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5), dict(weight_decay=0.1)),
    ],
)
def test_jaxnn_state_resumed_in_torch(name, defaults, overrides):
    """jaxnn runs 10 steps with two param groups, torch loads the export and continues == 20 torch steps."""
    params, grads = problem(5, steps=20, shapes=TWO_LEAVES)
    first, second = _split(grads, 10)
    opt = jo.param_groups(getattr(jo, name), LABELS, [{}, overrides], **defaults)
    make_torch = lambda groups: getattr(torch.optim, name)(  # noqa: E731
        [{"params": groups[0]}, {"params": groups[1], **overrides}], **defaults
    )
    groups = [["weight"], ["bias"]]
    full, _ = torch_run(make_torch, params, grads, "float32", groups=groups)
    trace, state = jax_run(opt, params, first, "float32")
    mid = {k: v[-1] for k, v in trace.items()}
    exported = jo.state_dict(opt, state, mid)
    # leaves are (bias, weight); torch's order is group 0 (weight) then group 1 (bias)
    assert exported["param_groups"][0]["params"] == [0] and exported["param_groups"][1]["params"] == [1]
    # the round trip gives back the same jaxnn state (before torch updates the tensors in place)
    # torch's SGD saves no step: the count must be given (default: 1 once a buffer exists)
    count = 10 if name == "SGD" else None
    back = jo.load_state_dict(opt, jax.tree.map(jnp.asarray, mid), exported, count=count)
    jax.tree.map(np.testing.assert_array_equal, back, state)
    resumed, _ = torch_run(make_torch, mid, second, "float32", groups=groups, start_state=exported)
    for k in params:
        np.testing.assert_allclose(resumed[k], full[k][10:], rtol=1e-5, atol=1e-6)


def test_export_matches_torch_layout_and_keys():
    params, grads = problem(6, steps=3, shapes=TWO_LEAVES)
    _, topt = torch_run(lambda ps: torch.optim.NAdam(ps, lr=0.05), params, grads, "float32")
    opt = jo.NAdam(lr=0.05)
    _, state = jax_run(opt, params, grads, "float32")
    ours = jo.state_dict(opt, state, params)
    theirs = topt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    for i in theirs["state"]:
        assert list(ours["state"][i]) == list(theirs["state"][i])
        for key, value in theirs["state"][i].items():
            assert ours["state"][i][key].dtype == value.dtype
            np.testing.assert_allclose(ours["state"][i][key].numpy(), value.numpy(), rtol=1e-5, atol=1e-7)


def test_load_rejects_mismatches():
    params = jax.tree.map(jnp.asarray, problem(7, steps=1, shapes=TWO_LEAVES)[0])
    p = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, 3))]
    topt = torch.optim.Adam(p, lr=0.01)
    for q in p:
        q.grad = torch.ones_like(q)
    topt.step()
    saved = topt.state_dict()
    with pytest.raises(ValueError, match="saved lr=0.01 differs"):
        jo.load_state_dict(jo.Adam(lr=0.02), params, saved)
    with pytest.raises(ValueError, match=r"shape \(3,\), the parameter leaf 1 needs \(2, 3\)"):
        jo.load_state_dict(jo.Adam(lr=0.01), params, saved, order=[1, 0])
    with pytest.raises(ValueError, match="has 1 parameter groups, the optimizer 2"):
        jo.load_state_dict(jo.param_groups(jo.Adam, LABELS, [{}, {}], lr=0.01), params, saved)


def test_one_cycle_momentum_state_round_trips_through_torch():
    """Export puts the scheduled momentum of the current step in the group; torch's cycled groups load back."""
    params, grads = problem(6, steps=8, shapes=TWO_LEAVES)
    schedule = jo.lr_scheduler.OneCycleLR(0.1, total_steps=20)
    opt = jo.SGD(lr=schedule, momentum=0.9)
    trace, state = jax_run(opt, params, grads, "float32")
    mid = {k: v[-1] for k, v in trace.items()}
    exported = jo.state_dict(opt, state, mid)
    np.testing.assert_allclose(exported["param_groups"][0]["momentum"], float(schedule.momentum(8)), rtol=1e-6)
    np.testing.assert_allclose(exported["param_groups"][0]["lr"], float(schedule(8)), rtol=1e-6)
    # torch's own state after 8 steps (its groups carry max_momentum/base_momentum) loads into the same optimizer.
    _, topt = torch_run(
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), params, grads, "float32",
        scheduler=lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=20),
    )
    loaded = jo.load_state_dict(opt, jax.tree.map(jnp.asarray, mid), topt.state_dict(), count=8)
    assert int(loaded.count) == 8
    for k in params:
        np.testing.assert_allclose(
            loaded.slots["momentum_buffer"][k], topt.state_dict()["state"][sorted(params).index(k)]["momentum_buffer"],
            rtol=1e-5, atol=1e-6,
        )
