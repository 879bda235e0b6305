"""jaxnn.fit: data forms, history, evaluation, metrics, progress bar, early stopping, nan detection."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.training import EarlyStopping, NonFiniteLossError, make_train_step, split_model
from jaxnn.training.metrics import accuracy, resolve_metrics, top_k_accuracy
from tests.training.models import MLP, classification_data, plain, regression_data, torch_twin

QUIET = dict(progress=False, verbose=False)


def _manual(model, data, steps, batch_size, seed=0, lr=1e-2):
    """The loop fit promises: unshuffled batches in order, step keys fold_in(key(seed), step)."""
    x, y = data
    _, params, rest = split_model(model)
    opt = optax.adam(lr)
    opt_state = opt.init(params)
    step = make_train_step(model, jaxnn.MSELoss(), opt, skip_nonfinite=True)
    key = jax.random.key(seed)
    n_batches = -(-len(x) // batch_size)
    for s in range(1, steps + 1):
        i = (s - 1) % n_batches
        b = (x[i * batch_size : (i + 1) * batch_size], y[i * batch_size : (i + 1) * batch_size])
        params, rest, opt_state, _ = step(params, rest, opt_state, b, jax.random.fold_in(key, s))
    return params, rest


def _state(model):
    _, params, rest = split_model(model)
    return plain((params, rest))


def test_fit_classifier_history_eval_metrics_and_plot(tmp_path):
    x, y = classification_data(170)
    (x, xv), (y, yv) = np.split(x, [120]), np.split(y, [120])
    model = MLP(sizes=(4, 16, 3))
    h = jaxnn.fit(model, jaxnn.CrossEntropyLoss(), optax.adam(3e-2), (x, y), epochs=4, batch_size=32,
                  eval_data=(xv, yv), metrics=["accuracy", "top2"], **QUIET)
    assert [r["step"] for r in h.steps] == list(range(1, 17)), "4 batches per epoch (last one short), 4 epochs"
    assert [r["samples"] for r in h.steps[:4]] == [32, 32, 32, 24]
    first = h.steps[:4]
    assert h.epochs[0]["loss"] == pytest.approx(sum(r["loss"] * r["samples"] for r in first) / 120, rel=1e-6)
    assert h["loss"][-1] < h["loss"][0]
    # The model now holds the trained state; evaluate it independently in torch
    # (eval mode: BatchNorm's running statistics).
    with torch.no_grad():
        logits = torch_twin(model).eval()(torch.tensor(xv)).numpy()
    ce = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(yv, dtype=torch.long)).item()
    assert h["val_loss"][-1] == pytest.approx(ce, rel=1e-5)
    assert h["val_accuracy"][-1] == pytest.approx(np.mean(logits.argmax(1) == yv), abs=1e-6)
    top2 = np.mean([yv[i] in np.argsort(-logits[i])[:2] for i in range(len(yv))])
    assert h["val_top2_accuracy"][-1] == pytest.approx(top2, abs=1e-6)
    assert h["val_accuracy"][-1] > 0.8, "well-separated classes are learned"
    assert model.training, "fit leaves the model's mode alone"
    path = h.plot(tmp_path / "curves.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    restored = jaxnn.History.from_dict(h.to_dict())
    assert restored.epochs == h.epochs and restored.steps == h.steps


@pytest.mark.parametrize("steps_per_call", [1, 3])
def test_fit_equals_the_step_loop(steps_per_call):
    data = regression_data(40)
    model = MLP(p=0.2)
    jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), data, epochs=2, batch_size=8, shuffle=False,
              seed=5, steps_per_call=steps_per_call, **QUIET)
    expected = plain(_manual(MLP(p=0.2), data, steps=10, batch_size=8, seed=5))
    if steps_per_call == 1:
        chex.assert_trees_all_equal(_state(model), expected)
    else:
        # Blocks of 3 run in one lax.scan: the same step, fused differently by XLA.
        chex.assert_trees_all_close(_state(model), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("steps_per_call", [1, 2])
def test_nonfinite_loss_names_the_step_and_keeps_the_last_good_state(steps_per_call):
    x, y = regression_data(40)
    x[2 * 8 + 5, 1] = np.inf  # in the third batch (unshuffled, batch size 8)
    model = MLP()
    with pytest.raises(NonFiniteLossError, match=r"at step 3 \(epoch 1\).*after step 2") as err:
        jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), (x, y), epochs=1, batch_size=8, shuffle=False,
                  steps_per_call=steps_per_call, **QUIET)
    assert err.value.step == 3 and [r["step"] for r in err.value.history.steps] == [1, 2]
    chex.assert_trees_all_close(_state(model), plain(_manual(MLP(), (x, y), steps=2, batch_size=8)), rtol=1e-6, atol=1e-7)


def test_batches_from_a_list_and_a_torch_dataloader_equal_arrays():
    x, y = regression_data(24)
    runs = {}
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 24, 8)]
    for name, data, kw in [("arrays", (x, y), dict(batch_size=8, shuffle=False)), ("list", batches, {}), ("loader", loader, {})]:
        model = MLP()
        jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), data, epochs=2, **kw, **QUIET)
        runs[name] = _state(model)
    chex.assert_trees_all_equal(runs["list"], runs["arrays"])
    chex.assert_trees_all_equal(runs["loader"], runs["arrays"])


def test_a_generator_serves_one_epoch_only():
    x, y = regression_data(16)
    gen = ((x[i : i + 8], y[i : i + 8]) for i in (0, 8))
    with pytest.raises(ValueError, match="one-shot iterator"):
        jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.adam(1e-2), gen, epochs=2, **QUIET)


def test_progress_bar_only_on_a_terminal_outside_ci(monkeypatch, capsys):
    from jaxnn.training.loop import _progress_enabled

    monkeypatch.delenv("CI", raising=False)
    assert not _progress_enabled(None), "pytest's captured stderr is not a TTY"
    assert _progress_enabled(True)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert _progress_enabled(None) and not _progress_enabled(False)
    data = regression_data(16)

    def bar_shown():
        jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.sgd(0.1), data, epochs=1, batch_size=8, verbose=False)
        return "epoch 1/1:" in capsys.readouterr().err

    assert bar_shown()
    monkeypatch.setenv("CI", "true")
    assert not bar_shown()


def test_fit_drives_a_flax_model_with_batchnorm_and_dropout():
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.l1, self.bn = nnx.Linear(4, 16, rngs=rngs), nnx.BatchNorm(16, rngs=rngs)
            self.drop, self.l2 = nnx.Dropout(0.3, rngs=rngs), nnx.Linear(16, 3, rngs=rngs)

        def __call__(self, x):
            return self.l2(self.drop(jax.nn.relu(self.bn(self.l1(x)))))

    x, y = regression_data(96)
    model = Net(nnx.Rngs(0, dropout=1))
    h = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), (x[:64], y[:64]), epochs=2, batch_size=16,
                  eval_data=(x[64:], y[64:]), **QUIET)
    assert float(jnp.abs(model.bn.mean[...]).sum()) > 0, "batch statistics were threaded back into the model"
    assert not model.drop.deterministic, "still in training mode"
    model.eval()
    assert h["val_loss"][-1] == pytest.approx(float(jnp.mean((model(x[64:]) - y[64:]) ** 2)), rel=1e-5)


def test_early_stopping():
    stopper = EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05)
    assert stopper.epochs_since_best([1.0, 0.5, 0.47, 0.6]) == 2, "0.47 is not better than 0.5 by more than 0.05"
    assert EarlyStopping(mode="max").epochs_since_best([0.1, 0.3, 0.2]) == 1
    # Training loss falls every epoch, so monitoring it for a maximum stops at epoch 2.
    h = jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.adam(1e-2), regression_data(32), epochs=6, batch_size=8,
                  callbacks=[EarlyStopping(monitor="loss", mode="max")], **QUIET)
    assert len(h) == 2
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")


def test_metrics_match_torch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((20, 5)).astype(np.float32)
    target = rng.integers(0, 5, 20)
    t_logits, t_target = torch.tensor(logits), torch.tensor(target)
    np.testing.assert_array_equal(accuracy(logits, target), (t_logits.argmax(1) == t_target).numpy())
    topk = (t_logits.topk(3, dim=1).indices == t_target[:, None]).any(1).numpy()
    np.testing.assert_array_equal(top_k_accuracy(3)(logits, target), topk)
    # Probability targets: their argmax is the class.
    np.testing.assert_array_equal(accuracy(logits, jax.nn.one_hot(target, 5)), accuracy(logits, target))
    assert set(resolve_metrics(["accuracy", "top5"])) == {"accuracy", "top5_accuracy"}
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        resolve_metrics(["f1"])
    with pytest.raises(ValueError, match=r"target of shape \(20, 2\)"):
        accuracy(logits, np.zeros((20, 2)))


def test_bad_fit_arguments():
    data = regression_data(8)
    with pytest.raises(ValueError, match="epochs"):
        jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.sgd(0.1), data, epochs=0, **QUIET)
    with pytest.raises(ValueError, match=r"same length on axis 0, got sizes \[7, 8\]"):
        jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.sgd(0.1), (data[0][:7], data[1]), **QUIET)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_dir"):
        jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.sgd(0.1), data, resume=True, **QUIET)


def test_epochs_count_from_one_everywhere_and_logs_follow(tmp_path, capsys):
    """Before: printed from 1, stored and plotted from 0. Now the console, history and logger agree."""
    from jaxnn.training import CSVLogger

    csv_path, jsonl_path = tmp_path / "log.csv", tmp_path / "log.jsonl"
    h = jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.sgd(0.05), regression_data(16), epochs=2, batch_size=8,
                  shuffle=False, progress=False, verbose=True, callbacks=[CSVLogger(csv_path), CSVLogger(jsonl_path)])
    printed = [line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert printed == ["1/2", "2/2"]
    assert [e["epoch"] for e in h.epochs] == [1, 2]
    assert [r["epoch"] for r in h.steps] == [1, 1, 2, 2]
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "epoch,step,loss" and [r.split(",")[:2] for r in rows[1:]] == [["1", "2"], ["2", "4"]]
    assert float(rows[2].split(",")[2]) == h.epochs[1]["loss"]
    import json

    lines = [json.loads(s) for s in jsonl_path.read_text().splitlines()]
    assert lines == h.epochs


def test_metrics_without_eval_data_warn():
    """Before: silently computed nothing (the README tour did this)."""
    with pytest.warns(UserWarning, match=r"\['accuracy'\].*no eval_data"):
        h = jaxnn.fit(MLP(sizes=(4, 8, 3)), jaxnn.CrossEntropyLoss(), optax.sgd(0.1), classification_data(8),
                      epochs=1, batch_size=8, metrics=["accuracy"], **QUIET)
    assert "val_accuracy" not in h.epochs[0]


def test_fit_steps_reduce_lr_on_plateau_like_torchs_loop():
    """torch: one step per epoch, then scheduler.step(val_loss); the val set pulls the other way, so lr drops."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 2)).astype(np.float32)
    y, xv = x @ np.float32([[1.0], [-2.0]]), rng.standard_normal((8, 2)).astype(np.float32)
    yv = xv @ np.float32([[-1.0], [2.0]])
    model = jaxnn.nn.Linear(2, 1, rngs=nnx.Rngs(0))
    twin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(np.asarray(model.weight[...])))
        twin.bias.copy_(torch.tensor(np.asarray(model.bias[...])))
    opt = optax.chain(jaxnn.optim.SGD(lr=0.1), jaxnn.optim.lr_scheduler.ReduceLROnPlateau(0.1, factor=0.5, patience=0))
    h = jaxnn.fit(model, jaxnn.MSELoss(), opt, (x, y), epochs=5, batch_size=16, shuffle=False, eval_data=(xv, yv), **QUIET)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, factor=0.5, patience=0)
    lrs = []
    for _ in range(5):
        topt.zero_grad()
        torch.nn.functional.mse_loss(twin(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
        with torch.no_grad():
            sched.step(torch.nn.functional.mse_loss(twin(torch.tensor(xv)), torch.tensor(yv)).item())
        lrs.append(topt.param_groups[0]["lr"])
    assert min(lrs) < 0.1, "the test must see a reduction"
    np.testing.assert_allclose(h["lr"], lrs, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model.weight[...]), twin.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


def _tensorboard_scalars(log_dir):
    """(tag, step, value) from tensorboardX's event files, read as TFRecords by hand."""
    import struct

    from tensorboardX.proto import event_pb2

    out = []
    for path in sorted(log_dir.iterdir()):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
            pos += 12 + length + 4
            out += [(v.tag, event.step, v.simple_value) for v in event.summary.value]
    return out


def test_tensorboard_logger_writes_step_and_epoch_scalars(tmp_path):
    from jaxnn.training import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path)
    h = jaxnn.fit(MLP(), jaxnn.MSELoss(), optax.sgd(0.05), regression_data(16), epochs=2, batch_size=8,
                  eval_data=regression_data(8, seed=1), callbacks=[logger], **QUIET)
    logger.close()
    scalars = _tensorboard_scalars(tmp_path)
    steps = [(s, v) for tag, s, v in scalars if tag == "train/loss"]
    assert steps == [(r["step"], pytest.approx(r["loss"], rel=1e-6)) for r in h.steps]
    val = [(s, v) for tag, s, v in scalars if tag == "epoch/val_loss"]
    assert val == [(e["step"], pytest.approx(e["val_loss"], rel=1e-6)) for e in h.epochs]


def test_plot_draws_the_averaged_validation_loss_beside_the_models(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    h = jaxnn.History()
    h.steps = [{"step": s, "epoch": 1 + (s > 2), "loss": 1.0 / s, "samples": 4} for s in (1, 2, 3, 4)]
    h.epochs = [{"epoch": e, "step": 2 * e, "loss": 1.0 / e, "val_loss": 0.9 / e, "val_loss_averaged": 0.8 / e,
                 "val_accuracy": 0.5, "val_accuracy_averaged": 0.6} for e in (1, 2)]
    h.plot(tmp_path / "curves.png")
    loss_ax, metric_ax = figures[0].axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()][-2:] == [
        "validation loss", "validation loss, averaged model"]
    assert [t.get_text() for t in metric_ax.get_legend().get_texts()] == ["val_accuracy", "val_accuracy_averaged"]
