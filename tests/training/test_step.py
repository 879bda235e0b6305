"""The jitted train/eval/multi steps against a hand-written torch loop and against each other."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.training import make_eval_step, make_multi_step, make_train_step, split_model
from tests.training.models import MLP, plain, regression_data, torch_twin

def _torch_keyed(graphdef, params, rest):
    """The trained state under torch's state_dict keys, buffers included."""
    return jaxnn.state_dict(nnx.merge(graphdef, params, rest))


@pytest.mark.parametrize("max_norm", [None, 0.05])
def test_adam_cycle_matches_torch_for_100_steps(max_norm):
    steps, lr, batch = 100, 1e-2, 16
    model = MLP()
    graphdef, params, rest = split_model(model)
    twin = torch_twin(model)
    opt = jaxnn.optim.Adam(lr=lr, betas=(0.9, 0.999), eps=1e-8)
    if max_norm is not None:
        opt = optax.chain(jaxnn.optim.clip_grad_norm(max_norm), opt)
    opt_state = opt.init(params)
    topt = torch.optim.Adam(twin.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    step = make_train_step(model, jaxnn.MSELoss(), opt)
    x, y = regression_data(steps * batch)
    jl, tl, jn, tn = [], [], [], []
    for i in range(steps):
        xb, yb = x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]
        params, rest, opt_state, m = step(params, rest, opt_state, (xb, yb), None)
        jl.append(float(m["loss"]))
        jn.append(float(m["grad_norm"]))
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(twin(torch.tensor(xb)), torch.tensor(yb))
        tloss.backward()
        norm = torch.nn.utils.clip_grad_norm_(twin.parameters(), max_norm if max_norm else float("inf"))
        topt.step()
        tl.append(tloss.item())
        tn.append(float(norm))
    assert jl[-1] < jl[0] / 2, "the loss should fall"
    if max_norm is not None:
        assert min(tn) > max_norm, "clipping should act on every step for this test to mean anything"
    # Same float32 ops per step in torch's order (jaxnn.optim.Adam and
    # clip_grad_norm follow torch.optim), reduction order aside: the per-step
    # rounding difference (~1e-7 relative) accumulates over 100 steps of size
    # <= lr, which stays well inside 1e-5.
    chex.assert_trees_all_close(np.array(jl), np.array(tl), rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(np.array(jn), np.array(tn), rtol=1e-4)
    # Parameters and BatchNorm's running_mean/var/num_batches_tracked: the
    # buffers were threaded through all 100 steps.
    torch_state = {k: v.numpy() for k, v in twin.state_dict().items()}
    chex.assert_trees_all_close(_torch_keyed(graphdef, params, rest), torch_state, rtol=1e-5, atol=1e-5)


def _fresh(p=0.0, lr=1e-2):
    model = MLP(p=p)
    _, params, rest = split_model(model)
    opt = optax.adam(lr)
    return model, params, rest, opt, opt.init(params)


@pytest.mark.parametrize("unroll", [1, True])
def test_multi_step_scan_equals_one_step_loop(unroll):
    n, batch = 6, 8
    x, y = regression_data(n * batch)
    xs, ys = x.reshape(n, batch, -1), y.reshape(n, batch, -1)
    keys = jax.random.split(jax.random.key(3), n)

    model, params, rest, opt, opt_state = _fresh(p=0.3)
    step = make_train_step(model, jaxnn.MSELoss(), opt)
    losses = []
    for i in range(n):
        params, rest, opt_state, m = step(params, rest, opt_state, (xs[i], ys[i]), keys[i])
        losses.append(m["loss"])

    model2, params2, rest2, opt2, opt_state2 = _fresh(p=0.3)
    run = make_multi_step(model2, jaxnn.MSELoss(), opt2, unroll=unroll)
    params2, rest2, opt_state2, m2 = run(params2, rest2, opt_state2, (xs, ys), keys)
    assert m2["loss"].shape == (n,)
    # The scan body is the very step the loop calls; XLA may fuse it differently,
    # so allow float32 rounding, nothing more.
    chex.assert_trees_all_close(m2["loss"], jnp.stack(losses), rtol=1e-6, atol=1e-7)
    chex.assert_trees_all_close(plain((params2, rest2, opt_state2)), plain((params, rest, opt_state)), rtol=1e-6, atol=1e-7)


def test_multi_step_convolutions_leave_the_loop_body_as_dots():
    """XLA:CPU runs convolutions inside a loop body 12-15x slower (jax#12868), so the multi step
    traces them as im2col dots there (jaxnn/functional/conv.py): no convolution left in its loop,
    one in the single step, and the same training within float32 rounding."""
    n, batch = 3, 4
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((n, batch, 3, 8, 8)).astype(np.float32)
    ys = rng.integers(0, 5, (n, batch))

    def fresh():
        model = jaxnn.Sequential(jaxnn.Conv2d(3, 4, 3, padding=1, rngs=nnx.Rngs(0)), jaxnn.BatchNorm2d(4),
                                 jaxnn.ReLU(), jaxnn.Flatten(), jaxnn.Linear(4 * 8 * 8, 5, rngs=nnx.Rngs(1)))
        _, params, rest = split_model(model)
        opt = jaxnn.optim.SGD(lr=0.1, momentum=0.9)
        return model, params, rest, opt, opt.init(params)

    model, params, rest, opt, opt_state = fresh()
    step = make_train_step(model, jaxnn.CrossEntropyLoss(), opt)
    assert " convolution(" in step.lower(params, rest, opt_state, (xs[0], ys[0])).compile().as_text()
    for i in range(n):
        params, rest, opt_state, _ = step(params, rest, opt_state, (xs[i], ys[i]))

    model2, params2, rest2, opt2, opt_state2 = fresh()
    run = make_multi_step(model2, jaxnn.CrossEntropyLoss(), opt2)
    assert " convolution(" not in run.lower(params2, rest2, opt_state2, (xs, ys)).compile().as_text()
    params2, rest2, opt_state2, _ = run(params2, rest2, opt_state2, (xs, ys))
    chex.assert_trees_all_close(plain((params2, rest2)), plain((params, rest)), rtol=1e-5, atol=1e-6)


def test_accumulating_micro_batches_equals_one_big_batch():
    # A model without the batch-statistics layer's influence on the output mean:
    # with Centre, micro-batch means differ from the big batch's, as in torch.
    class Linear(jaxnn.Module):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.w = jaxnn.Parameter(rng.standard_normal((3, 4)).astype(np.float32))
            self.b = jaxnn.Parameter(np.zeros(3, np.float32))

        def __call__(self, x):
            return x @ self.w[...].T + self.b[...]

    x, y = regression_data(5 * 32)
    results = []
    for k in (1, 4):
        model = Linear()
        _, params, rest = split_model(model)
        opt = optax.adam(1e-2)
        opt_state = opt.init(params)
        step = make_train_step(model, jaxnn.MSELoss(), opt, accumulate_steps=k)
        for i in range(5):
            params, rest, opt_state, m = step(params, rest, opt_state, (x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]))
        results.append((params, float(m["loss"])))
    chex.assert_trees_all_close(results[1], results[0], rtol=1e-5, atol=1e-6)


def test_accumulation_updates_buffers_once_per_micro_batch():
    x, _ = regression_data(8)
    y = np.zeros((8, 3), np.float32)
    model, params, rest, opt, opt_state = _fresh()
    step = make_train_step(model, jaxnn.MSELoss(), opt, accumulate_steps=2)
    _, rest, _, _ = step(params, rest, opt_state, (x, y))
    # torch's BatchNorm rule, micro-batch by micro-batch: momentum 0.1, the
    # unbiased variance for running_var, one count per forward pass.
    h = x @ np.asarray(model.fc1.weight[...]).T
    mean, var = np.zeros(8), np.ones(8)
    for half in (h[:4], h[4:]):
        mean, var = 0.9 * mean + 0.1 * half.mean(0), 0.9 * var + 0.1 * half.var(0, ddof=1)
    np.testing.assert_allclose(np.asarray(rest["bn"]["running_mean"][...]), mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(rest["bn"]["running_var"][...]), var, rtol=1e-5, atol=1e-7)
    assert int(rest["bn"]["num_batches_tracked"][...]) == 2


def test_dropout_rng_is_threaded():
    x, y = regression_data(16)
    model, params, rest, opt, _ = _fresh(p=0.5)
    step = make_train_step(model, jaxnn.MSELoss(), opt, donate=False)
    loss = lambda key, r=rest: float(step(params, r, opt.init(params), (x, y), key)[3]["loss"])  # noqa: E731
    k1, k2 = jax.random.key(1), jax.random.key(2)
    assert loss(k1) == loss(k1), "a step key fixes the dropout mask"
    assert loss(k1) != loss(k2), "another key, another mask"
    # Without a key the model's own stream advances through other_state.
    _, rest1, _, m1 = step(params, rest, opt.init(params), (x, y))
    _, _, _, m2 = step(params, rest1, opt.init(params), (x, y))
    assert float(m1["loss"]) != float(m2["loss"])
    assert int(rest1["drop"]["rngs"]["count"][...]) == int(rest["drop"]["rngs"]["count"][...]) + 1


def test_eval_step_uses_eval_mode_and_leaves_model_alone():
    x, y = regression_data(10)
    model, params, rest, _, _ = _fresh(p=0.9)
    rest["bn"]["running_mean"] = jnp.full((8,), 0.25)
    rest["bn"]["running_var"] = jnp.full((8,), 4.0)
    ev = make_eval_step(model, jaxnn.MSELoss(), metrics={"abs": lambda o, t: jnp.abs(o - t).mean(axis=1)})
    out = ev(params, rest, (x, y))
    # Eval mode: BatchNorm uses the running statistics (weight 1, bias 0 at init), dropout is off.
    h = np.maximum((x @ np.asarray(model.fc1.weight[...]).T - 0.25) / np.sqrt(4.0 + 1e-5), 0)
    pred = h @ np.asarray(model.fc2.weight[...]).T + np.asarray(model.fc2.bias[...])
    np.testing.assert_allclose(float(out["loss"]), np.mean((pred - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(float(out["abs"]), np.mean(np.abs(pred - y)), rtol=1e-5)
    assert model.training and model.drop.training, "building the eval step must not switch the model"


def test_nonfinite_step_is_skipped_when_asked():
    x, y = regression_data(8)
    x[3, 0] = np.nan
    model, params, rest, opt, opt_state = _fresh()
    before = jax.tree.map(np.asarray, plain((params, rest, opt_state)))
    step = make_train_step(model, jaxnn.MSELoss(), opt, skip_nonfinite=True)
    params, rest, opt_state, m = step(params, rest, opt_state, (x, y))
    assert np.isnan(float(m["loss"]))
    chex.assert_trees_all_equal(plain((params, rest, opt_state)), before)


def test_grad_norm_false_drops_only_the_norm():
    """grad_norm=False: the same update and loss bit for bit, metrics without the norm, one output less
    in the compiled program; with skip_nonfinite the (unreturned) norm still guards the update."""
    x, y = regression_data(8)
    outs = {}
    for flag in (True, False):
        model, params, rest, opt, opt_state = _fresh()
        step = make_train_step(model, jaxnn.MSELoss(), opt, grad_norm=flag)
        outs[flag] = step(params, rest, opt_state, (x, y))
        n_out = len(step.lower(params, rest, opt_state, (x, y)).out_info[3])
        assert n_out == (2 if flag else 1)
    assert set(outs[False][3]) == {"loss"}
    chex.assert_trees_all_equal(plain(outs[True][:3]), plain(outs[False][:3]))
    chex.assert_trees_all_equal(outs[True][3]["loss"], outs[False][3]["loss"])
    assert float(outs[True][3]["grad_norm"]) > 0

    # A finite loss with a nan gradient (0 * inf in fc1's weight gradient): only the norm can see it.
    x[3, 0] = np.inf
    finite_part = lambda o, t: jnp.mean(jnp.where(jnp.isfinite(o), o - t, 0.0) ** 2)  # noqa: E731
    model, params, rest, opt, opt_state = _fresh()
    before = jax.tree.map(np.asarray, plain((params, rest, opt_state)))
    step = make_train_step(model, finite_part, opt, skip_nonfinite=True, grad_norm=False)
    params, rest, opt_state, m = step(params, rest, opt_state, (x, y))
    assert set(m) == {"loss"} and np.isfinite(float(m["loss"]))
    chex.assert_trees_all_equal(plain((params, rest, opt_state)), before)


def test_static_loss_scale_is_exact_for_powers_of_two():
    x, y = regression_data(16)
    outs = []
    for scale in (None, 2.0**12):
        model, params, rest, opt, opt_state = _fresh()
        step = make_train_step(model, jaxnn.MSELoss(), opt, loss_scale=scale)
        outs.append(step(params, rest, opt_state, (x, y)))
    chex.assert_trees_all_equal(plain(outs[0]), plain(outs[1]))


def test_float16_gradients_underflow_without_loss_scale():
    x, y = regression_data(16)
    tiny = lambda o, t: 1e-7 * jnp.mean((o - t) ** 2)  # noqa: E731
    norms = {}
    for scale in (None, 2.0**16):
        model, params, rest, _, _ = _fresh()
        opt = optax.sgd(1.0)
        step = make_train_step(model, tiny, opt, compute_dtype=jnp.float16, loss_scale=scale)
        params, _, _, m = step(params, rest, opt.init(params), (x, y))
        assert params["fc1"]["weight"][...].dtype == jnp.float32, "master parameters stay float32"
        norms[scale] = float(m["grad_norm"])
    assert norms[None] < 0.5 * norms[2.0**16]


def test_bfloat16_compute_tracks_float32():
    x, y = regression_data(64)
    results = []
    for dtype in (None, jnp.bfloat16):
        model, params, rest, opt, opt_state = _fresh()
        step = make_train_step(model, jaxnn.MSELoss(), opt, compute_dtype=dtype)
        for _ in range(3):
            params, rest, opt_state, m = step(params, rest, opt_state, (x, y))
        results.append((float(m["loss"]), params))
    assert results[1][1]["fc1"]["weight"][...].dtype == jnp.float32
    # bfloat16 keeps 8 bits of mantissa: ~0.4% relative error in activations.
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=2e-2)
    chex.assert_trees_all_close(results[1][1], results[0][1], atol=2e-3)


def test_bad_batch_and_accumulation_arguments():
    x, y = regression_data(10)
    model, params, rest, opt, opt_state = _fresh()
    step = make_train_step(model, jaxnn.MSELoss(), opt, jit=False, donate=False)
    with pytest.raises(TypeError, match="pair"):
        step(params, rest, opt_state, (x, y, y))
    step = make_train_step(model, jaxnn.MSELoss(), opt, accumulate_steps=3)
    with pytest.raises(ValueError, match=r"accumulate_steps=3.*\(10, 4\)"):
        step(params, rest, opt_state, (x, y))
    with pytest.raises(ValueError, match="accumulate_steps"):
        make_train_step(model, jaxnn.MSELoss(), opt, accumulate_steps=0)
    with pytest.raises(TypeError, match="nnx.Module or an nnx.GraphDef"):
        make_train_step(object(), jaxnn.MSELoss(), opt)


class DocsModel(jaxnn.Module):
    def __init__(self, *, rngs):
        self.weight = jaxnn.Parameter(jax.random.normal(rngs.params(), (3, 3)))
        self.bias = jaxnn.Parameter(jax.random.normal(rngs.params(), (3,)))

    def __call__(self, x):
        return x @ self.weight + self.bias


class TorchDocsModel(torch.nn.Module):
    def __init__(self, w, b):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor(w))
        self.bias = torch.nn.Parameter(torch.tensor(b))

    def forward(self, x):
        return x @ self.weight + self.bias


def _batches(steps, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    w_true = rng.standard_normal((3, 3)).astype(np.float32)
    xs = rng.standard_normal((steps, batch, 3)).astype(np.float32)
    ys = (xs @ w_true + 0.5 + 0.01 * rng.standard_normal((steps, batch, 3))).astype(np.float32)
    return xs, ys


def test_sgd_cycle_matches_torch_for_100_steps():
    steps, lr = 100, 0.05
    model = DocsModel(rngs=nnx.Rngs(0))
    _, params, rest = split_model(model)
    tmodel = TorchDocsModel(np.asarray(model.weight[...]), np.asarray(model.bias[...]))
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
    tcrit = torch.nn.MSELoss()

    opt = optax.sgd(lr)
    opt_state = opt.init(params)
    step = make_train_step(model, jaxnn.MSELoss(), opt)
    xs, ys = _batches(steps)
    jl, tl = [], []
    for x, y in zip(xs, ys):
        params, rest, opt_state, metrics = step(params, rest, opt_state, (x, y))
        jl.append(float(metrics["loss"]))
        topt.zero_grad()
        tloss = tcrit(tmodel(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        tl.append(tloss.item())
    assert jl[-1] < jl[0] / 10, "the loss should fall"
    # Both sides run the same float32 ops per step; rounding differs only in the
    # order of the 16x3 reductions, so the drift stays within a few ulps of the
    # parameters' magnitude (~1) over 100 steps.
    chex.assert_trees_all_close(np.array(jl), np.array(tl), rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(params["weight"][...], tmodel.weight.detach().numpy(), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(params["bias"][...], tmodel.bias.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_dynamic_loss_scale_follows_torch_gradscaler_rule():
    from jaxnn.training import dynamic_loss_scale

    x, y = regression_data(16)
    model, params, rest, _, _ = _fresh()
    opt = dynamic_loss_scale(optax.sgd(0.1), init_scale=2.0**20, growth_interval=2)
    opt_state = opt.init(params)
    step = make_train_step(model, jaxnn.MSELoss(), opt, compute_dtype=jnp.float16, skip_nonfinite=True)
    scales, changed = [], []
    for _ in range(6):
        before = np.asarray(params["fc1"]["weight"][...])
        params, rest, opt_state, m = step(params, rest, opt_state, (x, y))
        scales.append(float(opt_state.scale))
        changed.append(not np.array_equal(before, np.asarray(params["fc1"]["weight"][...])))
    # 2**20 times an O(1) loss overflows float16's 65504 in the backward pass:
    # such steps are skipped (parameters unchanged) and halve the scale; a
    # clean step keeps it, and every 2nd clean step in a row doubles it.
    assert changed[0] is False and True in changed
    scale, good = 2.0**20, 0
    for clean, observed in zip(changed, scales):
        good = good + 1 if clean else 0
        scale = (scale * 2 if good == 2 else scale) if clean else scale / 2
        good = 0 if good == 2 else good
        assert observed == scale
    # Deliberate change: the scaler is found in the optimizer state, so the clash shows at the first call.
    clash = make_train_step(model, jaxnn.MSELoss(), opt, loss_scale=8.0)
    _, p2, r2 = split_model(model)
    with pytest.raises(ValueError, match="loss_scale must be None"):
        clash(p2, r2, opt.init(p2), (x, y))


def test_jitted_steps_take_and_return_plain_dicts():
    """Deliberate change: the steps cross the jit boundary as plain nested dicts (jit's C++ flattening path)."""
    x, y = regression_data(8)
    model, params, rest, opt, opt_state = _fresh()
    assert type(params) is dict and type(params["fc1"]) is dict and isinstance(params["fc1"]["weight"], jax.Array)
    structure = jax.tree.structure((params, rest, opt_state))
    step = make_train_step(model, jaxnn.MSELoss(), opt)
    reference = make_train_step(model, jaxnn.MSELoss(), opt, jit=False)
    expected = reference(*jax.tree.map(jnp.copy, (params, rest, opt_state)), (x, y))
    got = step(params, rest, opt_state, (x, y))
    assert jax.tree.structure(got[:3]) == structure
    chex.assert_trees_all_close(plain(got), plain(expected), rtol=1e-6, atol=1e-7)
    assert params["fc1"]["weight"].is_deleted(), "the state leaves are donated"
    # A second call (cached compiled function) and the scan driver agree with it.
    again = step(*got[:3], (x, y))
    run = make_multi_step(model, jaxnn.MSELoss(), opt)
    *scanned, _ = run(*jax.tree.map(jnp.copy, expected[:3]), (x[None], y[None]))
    chex.assert_trees_all_close(plain(tuple(scanned)), plain(again[:3]), rtol=1e-6, atol=1e-7)
    # nnx.State from nnx.split is still taken; what comes back is plain dicts.
    _, sp, sr = nnx.split(MLP(), nnx.Param, ...)
    sp, sr = jax.tree.map(jnp.copy, (sp, sr))
    out = step(sp, sr, opt.init(sp), (x, y))
    assert type(out[0]) is dict and jax.tree.structure(out[0]) == jax.tree.structure(params)
    # The results write back into the model and through it into torch's state_dict keys.
    nnx.update(model, again[0], again[1])
    np.testing.assert_array_equal(np.asarray(model.fc1.weight[...]), np.asarray(again[0]["fc1"]["weight"]))
    assert set(jaxnn.state_dict(model)) >= {"fc1.weight", "bn.running_mean"}


def test_reusing_donated_state_says_what_to_do():
    x, y = regression_data(8)
    model, params, rest, opt, opt_state = _fresh()
    step = make_train_step(model, jaxnn.MSELoss(), opt)
    step(params, rest, opt_state, (x, y))
    with pytest.raises(ValueError, match=r"already donated.*nnx.update\(model, params, other_state\)"):
        step(params, rest, opt_state, (x, y))


def test_torch_optimizer_is_refused_with_advice():
    twin = torch.nn.Linear(3, 3)
    with pytest.raises(TypeError, match=r"torch optimizer.*jaxnn.optim.SGD\(lr=...\)"):
        make_train_step(MLP(), jaxnn.MSELoss(), torch.optim.SGD(twin.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="torch optimizer"):
        jaxnn.fit(MLP(), jaxnn.MSELoss(), torch.optim.SGD(twin.parameters(), lr=0.1), regression_data(8))


def test_master_weights_are_never_rounded_through_the_compute_dtype(x64):
    """float64 masters, float32 compute, lr=0: the masters come back bit-identical (not via float32)."""
    model = jaxnn.nn.Sequential(jaxnn.nn.Linear(3, 2, rngs=nnx.Rngs(0)), jaxnn.nn.Linear(2, 1, rngs=nnx.Rngs(1)))
    graphdef, params, rest = split_model(model)
    params = jax.tree.map(lambda a: a.astype(jnp.float64) + 1e-12, params)  # not representable in float32
    before = jax.tree.map(np.asarray, params)
    opt = optax.sgd(0.0)
    step = make_train_step(graphdef, jaxnn.MSELoss(), opt, compute_dtype=jnp.float32)
    x, y = jnp.ones((4, 3), jnp.float64), jnp.zeros((4, 1), jnp.float64)
    new, _, _, metrics = step(params, rest, opt.init(params), (x, y))
    assert metrics["grad_norm"] > 0
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(before)):
        assert a.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(a), b)
    # And a real step is p - lr * g exactly, g from the float32 pass.
    opt = optax.sgd(0.5)
    step = make_train_step(graphdef, jaxnn.MSELoss(), opt, compute_dtype=jnp.float32, jit=False)
    params = jax.tree.map(jnp.asarray, before)
    new, _, _, _ = step(params, rest, opt.init(params), (x, y))
    used = jax.tree.map(lambda a: a.astype(jnp.float32), params)
    m32 = nnx.merge(graphdef, used, rest)
    grads = nnx.to_pure_dict(nnx.grad(lambda m: jnp.mean(m(x.astype(jnp.float32)) ** 2))(m32))
    expected = jax.tree.map(lambda p, g: p - 0.5 * g.astype(jnp.float64), params, grads)
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_state_with_unhashable_metadata_still_dispatches():
    class Tagged(jaxnn.Module):
        def __init__(self):
            self.w = jaxnn.Parameter(jnp.ones((2,)), tags=["a", "b"])  # a list: unhashable node metadata

        def __call__(self, x):
            return x * self.w

    model = Tagged()
    graphdef, params, rest = split_model(model)
    opt = optax.sgd(0.5)
    step = make_train_step(graphdef, jaxnn.MSELoss(reduction="sum"), opt)
    x, y = jnp.ones((1, 2)), jnp.zeros((1, 2))
    state = (params, rest, opt.init(params))
    for expected_w in (0.0, 0.0):  # w -= 0.5 * 2 * (w - 0): 1 -> 0 -> 0, through the cached entry the second time
        *state, _ = step(*state, (x, y))
        np.testing.assert_allclose(np.asarray(state[0]["w"]), expected_w)
    nnx.update(model, state[0], state[1])
    assert model.w.get_metadata()["tags"] == ["a", "b"]


@pytest.mark.parametrize("accumulate_steps", [1, 2])
def test_embedding_max_norm_renorm_persists_through_the_step_as_in_torch(accumulate_steps):
    """torch renormalises the looked-up rows in place during forward; the optimizer then steps from them."""
    torch.manual_seed(0)
    twin = torch.nn.Sequential(torch.nn.Embedding(10, 4, max_norm=1.0), torch.nn.Linear(4, 1))
    with torch.no_grad():
        twin[0].weight.mul_(2.0)  # every row longer than max_norm
    model = jaxnn.nn.Sequential(jaxnn.nn.Embedding(10, 4, max_norm=1.0, rngs=nnx.Rngs(0)), jaxnn.nn.Linear(4, 1, rngs=nnx.Rngs(0)))
    jaxnn.load_state_dict(model, {k: v.detach().numpy() for k, v in twin.state_dict().items()})
    graphdef, params, rest = split_model(model)
    opt = jaxnn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    step = make_train_step(graphdef, jaxnn.MSELoss(), opt, accumulate_steps=accumulate_steps)
    state = (params, rest, opt.init(params))
    rng = np.random.default_rng(0)
    for _ in range(4):
        idx = rng.integers(0, 6, size=(4, 3))  # rows 6..9 are never looked up: never renormed
        target = rng.standard_normal((4, 3, 1)).astype(np.float32)
        *state, _ = step(*state, (jnp.asarray(idx), jnp.asarray(target)))
        topt.zero_grad()
        k = accumulate_steps
        for part in range(k):
            sl = slice(part * 4 // k, (part + 1) * 4 // k)
            loss = torch.nn.functional.mse_loss(twin(torch.tensor(idx[sl])), torch.tensor(target[sl])) / k
            loss.backward()
        topt.step()
    theirs = {k: v.detach().numpy() for k, v in twin.state_dict().items()}
    chex.assert_trees_all_close(_torch_keyed(graphdef, state[0], state[1]), theirs, rtol=1e-5, atol=1e-6)
    norms = np.linalg.norm(theirs["0.weight"], axis=1)
    assert (norms[6:] > 1.5).all(), "rows never looked up keep their length"


def test_dynamic_loss_scale_inside_a_chain_is_found():
    """Before: a scaler inside optax.chain was missed and the scale silently became 1.0 (float16 underflow)."""
    from jaxnn.training import dynamic_loss_scale, find_loss_scale

    x, y = regression_data(16)
    results = []
    for wrap in (lambda o: o, lambda o: optax.chain(optax.clip_by_global_norm(1e6), o)):
        model, params, rest, _, _ = _fresh()
        opt = wrap(dynamic_loss_scale(optax.sgd(0.1), init_scale=2.0**20, growth_interval=2))
        opt_state = opt.init(params)
        step = make_train_step(model, jaxnn.MSELoss(), opt, compute_dtype=jnp.float16, skip_nonfinite=True)
        scales = []
        for _ in range(4):
            params, rest, opt_state, _ = step(params, rest, opt_state, (x, y))
            scales.append(float(find_loss_scale(opt_state).scale))
        results.append((scales, params))
    assert results[0][0] == results[1][0] and results[0][0][0] == 2.0**19, "the first step overflows and halves"
    chex.assert_trees_all_equal(results[0][1], results[1][1])
    with pytest.raises(ValueError, match="2 dynamic_loss_scale states"):
        find_loss_scale((results, opt_state, opt_state))


def test_forward_written_parameter_keeps_unwritten_elements_as_masters_under_compute_dtype():
    """Embedding max_norm under bfloat16 compute: looked-up rows renormed, the other rows exactly their masters."""
    model = jaxnn.nn.Sequential(jaxnn.nn.Embedding(10, 4, max_norm=1.0, rngs=nnx.Rngs(0)),
                                jaxnn.nn.Linear(4, 1, rngs=nnx.Rngs(0)))
    graphdef, params, rest = split_model(model)
    params = jax.tree.map(lambda a: a * 3 + 1e-4, params)  # rows longer than max_norm, not bfloat16-representable
    before = jax.tree.map(np.asarray, params)
    opt = optax.sgd(0.0)
    step = make_train_step(graphdef, jaxnn.MSELoss(), opt, compute_dtype=jnp.bfloat16)
    new, _, _, _ = step(params, rest, opt.init(params), (jnp.array([[0, 1]]), jnp.zeros((1, 2, 1))))
    w = np.asarray(new["0"]["weight"])
    np.testing.assert_allclose(np.linalg.norm(w[:2], axis=1), 1.0, rtol=1e-2)  # renormed in bfloat16
    np.testing.assert_array_equal(w[2:], before["0"]["weight"][2:])
    np.testing.assert_array_equal(np.asarray(new["1"]["weight"]), before["1"]["weight"])
