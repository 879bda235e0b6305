"""fit(..., averaged_model=...): an EMA/SWA of the weights kept inside the compiled step, against torch's loop.

The truth is torch's ``opt.step(); averaged.update_parameters(model)`` loop on
the same batches (float64, so the comparison can be tight), a run that was
never interrupted (resume) and a run that stopped before the bad batch (nan).
"""

import chex
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import torch.optim.swa_utils as TS
from flax import nnx

import jaxnn
from jaxnn.optim import swa_utils as S
from jaxnn.training import NonFiniteLossError, split_model
from tests.training.models import MLP, plain, regression_data

QUIET = dict(progress=False, verbose=False)


def _twins():
    """Linear -> BatchNorm1d -> ReLU -> Linear in float64, jaxnn and torch holding the same weights."""
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    t = t.double()
    j = jaxnn.Sequential(
        jaxnn.Linear(3, 4, rngs=nnx.Rngs(0), dtype=jnp.float64), jaxnn.BatchNorm1d(4, dtype=jnp.float64),
        jaxnn.ReLU(), jaxnn.Linear(4, 2, rngs=nnx.Rngs(1), dtype=jnp.float64),
    )
    jaxnn.load_state_dict(j, t.state_dict())
    return t, j


def _torch_run(t, averaged, x, y, xv, yv, epochs, batch_size, k):
    """torch's loop: unshuffled batches, k accumulated micro-batches, opt.step() then the average; val per epoch."""
    opt = torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9)
    mse = torch.nn.functional.mse_loss
    val = []
    for _ in range(epochs):
        t.train()
        for i in range(0, len(x), batch_size):
            xb, yb = torch.tensor(x[i : i + batch_size]), torch.tensor(y[i : i + batch_size])
            opt.zero_grad()
            for xc, yc in zip(xb.chunk(k), yb.chunk(k)):
                (mse(t(xc), yc) / k).backward()
            opt.step()
            averaged.update_parameters(t)
        averaged.eval()
        with torch.no_grad():
            val.append(mse(averaged(torch.tensor(xv)), torch.tensor(yv)).item())
    return val


@pytest.mark.parametrize(
    "kind, use_buffers, steps_per_call, accumulate_steps",
    [("ema", True, 1, 1), ("swa", False, 2, 2)],
    ids=["ema-buffers", "swa-blocks-accumulated"],
)
def test_averaged_model_equals_torchs_loop(kind, use_buffers, steps_per_call, accumulate_steps, x64):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((24, 3)), rng.standard_normal((24, 2))
    xv, yv = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    t, j = _twins()
    ours = {"multi_avg_fn": S.get_ema_multi_avg_fn(0.8)} if kind == "ema" else {}
    theirs = {"multi_avg_fn": TS.get_ema_multi_avg_fn(0.8)} if kind == "ema" else {}
    t_avg = TS.AveragedModel(t, use_buffers=use_buffers, **theirs)
    j_avg = S.AveragedModel(j, use_buffers=use_buffers, **ours)
    h = jaxnn.fit(j, jaxnn.MSELoss(), jaxnn.optim.SGD(lr=0.1, momentum=0.9), (x, y), epochs=2, batch_size=8,
                  shuffle=False, eval_data=(xv, yv), steps_per_call=steps_per_call,
                  accumulate_steps=accumulate_steps, averaged_model=j_avg, **QUIET)
    val = _torch_run(t, t_avg, x, y, xv, yv, epochs=2, batch_size=8, k=accumulate_steps)
    expected, got = t_avg.state_dict(), jaxnn.state_dict(j_avg)
    assert list(got) == list(expected)
    assert int(got["n_averaged"]) == int(expected["n_averaged"]) == 6
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
    # fit's losses are float32 (torch's loss.item() of a float32 run); the forward is float64.
    np.testing.assert_allclose(h["val_loss_averaged"], val, rtol=1e-6)
    assert h["val_loss"] != h["val_loss_averaged"], "the model and its average are evaluated apart"


class _Crash(jaxnn.Callback):
    def on_step_end(self, history, logs):
        if logs["step"] == 5:
            raise KeyboardInterrupt


def _run(checkpoint_dir=None, resume=False, callbacks=()):
    model = MLP(p=0.2)
    averaged = S.AveragedModel(model, multi_avg_fn=S.get_ema_multi_avg_fn(0.7), use_buffers=True)
    jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), regression_data(24), epochs=2, batch_size=8, seed=3,
              checkpoint_dir=checkpoint_dir, checkpoint_every=2, resume=resume, callbacks=callbacks,
              averaged_model=averaged, **QUIET)
    return plain(split_model(averaged)[1:]), plain(split_model(model)[1:])


def test_resumed_run_keeps_the_average_bit_identical(tmp_path):
    # 3 shuffled steps an epoch; checkpoints at 2, 3 (epoch end), 4; the crash after step 5 resumes
    # from step 4, in the middle of epoch 2.
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, callbacks=[_Crash()])
    resumed = _run(tmp_path, resume=True)
    uninterrupted = _run()
    chex.assert_trees_all_equal(resumed, uninterrupted)
    assert int(resumed[0][1]["n_averaged"]) == 6


def test_a_nonfinite_step_leaves_the_average_at_the_last_good_step():
    x, y = regression_data(24)
    x[2 * 8 + 1, 0] = np.inf  # the third batch
    model = MLP()
    averaged = S.AveragedModel(model, multi_avg_fn=S.get_ema_multi_avg_fn(0.5))
    with pytest.raises(NonFiniteLossError, match="at step 3"):
        jaxnn.fit(model, jaxnn.MSELoss(), optax.sgd(0.1), (x, y), batch_size=8, shuffle=False, steps_per_call=3,
                  averaged_model=averaged, **QUIET)
    twin = MLP()
    expected = S.AveragedModel(twin, multi_avg_fn=S.get_ema_multi_avg_fn(0.5))
    jaxnn.fit(twin, jaxnn.MSELoss(), optax.sgd(0.1), (x[:16], y[:16]), batch_size=8, shuffle=False,
              averaged_model=expected, **QUIET)
    assert int(averaged.n_averaged[...]) == 2
    chex.assert_trees_all_close(plain(split_model(averaged)[1:]), plain(split_model(expected)[1:]), rtol=1e-6)


def test_an_average_of_another_model_is_refused_naming_both():
    data = regression_data(8)
    model = MLP()
    with pytest.raises(ValueError, match=r"built on another model: it averages a MLP .* model is a Sequential"):
        jaxnn.fit(jaxnn.Sequential(jaxnn.Linear(4, 3, rngs=nnx.Rngs(0))), jaxnn.MSELoss(), optax.sgd(0.1), data,
                  averaged_model=S.AveragedModel(model), **QUIET)
    with pytest.raises(ValueError, match=r"'fc1.weight' of shape \(6, 4\) in the average and 'fc1.weight' of shape"):
        jaxnn.fit(model, jaxnn.MSELoss(), optax.sgd(0.1), data, averaged_model=S.AveragedModel(MLP(sizes=(4, 6, 3))),
                  **QUIET)
    with pytest.raises(TypeError, match="jaxnn.optim.swa_utils.AveragedModel"):
        jaxnn.fit(model, jaxnn.MSELoss(), optax.sgd(0.1), data, averaged_model=TS.AveragedModel(torch.nn.Linear(4, 3)),
                  **QUIET)
