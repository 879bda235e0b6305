"""Smoke test of the benchmark harness: structure and honesty of the work, never speed."""

import json
import time

import jax
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
import jaxnn.functional as JF
from benchmarks import report
from benchmarks.config import Config
from benchmarks.harness import Contender, NotAvailable, Skipped, Timing, measure
from benchmarks.loss_table import LOSSES
from benchmarks.models import MODELS, torch_state
from benchmarks.run import NoDevice, main, run_benchmarks

TINY = dict(
    quick=True,
    loss_sizes=(1000,),
    timing=Timing(rounds=2, min_sample_s=0.001, warmup=1),
    torch_compile=False,
    train_configs=("tiny",),
    scan_scale=0.05,
    floor_mib=8,
    gemm_n=128,
)


@pytest.fixture(scope="module")
def run():
    """One tiny run: l1 and mse rows (l1 hidden, as a loss missing from a build) and the tiny model."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(JF, "l1_loss")
        cfg = Config(only=("l1_loss", "mse_loss", "tiny"), modes=("fwd", "fwd+bwd"), **TINY)
        result = run_benchmarks(cfg, log=lambda group: None)
    return result


def test_report_has_machine_floor_and_selected_suites(run):
    assert set(run) >= {"mode", "machine", "floor", "timing", "suites"}
    assert {"cpu", "cores", "torch", "jax", "flax", "optax"} <= set(run["machine"])
    assert run["floor"]["read_gbs"] > 0 and run["floor"]["gemm_gflops"] > 0
    # Writing into new memory can only be as fast as writing into memory already touched.
    assert 0 < run["floor"]["fresh_write_gbs"] <= run["floor"]["write_gbs"]
    assert run["machine"]["allocator"]
    assert set(run["suites"]) == {"losses", "training"}


def test_missing_loss_is_reported_not_available(run):
    l1 = [g for g in run["suites"]["losses"] if g["name"] == "l1_loss"]
    assert [g["mode"] for g in l1] == ["fwd", "fwd+bwd"]
    for g in l1:
        assert g["status"].startswith("not available") and g["results"] == []


def test_loss_rows_have_every_contender_with_ordered_stats(run):
    mse = [g for g in run["suites"]["losses"] if g["name"] == "mse_loss"]
    assert [g["mode"] for g in mse] == ["fwd", "fwd+bwd"]
    for g in mse:
        by = {r.contender: r for r in g["results"]}
        assert list(by) == ["jaxnn", "torch eager", "torch.compile", "optax"]
        assert by["torch.compile"].status.startswith("skipped")
        timed = [r for r in g["results"] if r.status == "ok"]
        assert len(timed) == 3
        best_peer = min(r.median_s for r in timed if r.peer)
        for r in timed:
            assert r.min_s <= r.median_s <= r.max_s and len(r.samples) == 2
            assert r.ratio_best_peer == pytest.approx(r.median_s / best_peer)
            assert r.ratio_floor == pytest.approx(r.median_s / g["floor_s"])
    fwd, fwd_bwd = mse
    assert fwd_bwd["floor_s"] > fwd["floor_s"]  # the gradient write is part of the floor
    assert fwd["floor_fresh_s"] == pytest.approx(fwd["floor_s"])  # a scalar result: nothing new to write
    assert fwd_bwd["floor_fresh_s"] >= fwd_bwd["floor_s"]


def test_training_rows_cover_every_contender(run):
    (tiny,) = run["suites"]["training"]
    names = [r.contender for r in tiny["results"]]
    assert names == ["jaxnn step", "jaxnn scan", "hand-written jax.jit", "torch eager", "torch.compile", "flax nnx.jit"]
    assert all(r.median_s > 0 for r in tiny["results"] if r.status == "ok")
    assert tiny["floor_kind"] in {"memory", "gemm"} and tiny["flops"] == 3 * 2 * 9 * 32


def test_markdown_and_json(run):
    table = report.markdown(run)
    assert "| loss | mode | elements | floor | jaxnn | torch eager | torch.compile | optax |" in table
    assert table.count("| mse_loss |") == 2
    assert "not available in this build: l1_loss" in table
    assert "| tiny | jaxnn scan |" in table
    data = json.loads(report.to_json(run))
    assert data["suites"]["losses"][-1]["results"][0]["contender"] == "jaxnn"


def test_plots_are_written(run, tmp_path):
    paths = report.plots(run, str(tmp_path))
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["losses_fwd.png", "losses_fwd_bwd.png", "training.png"]
    labelled = report.plots(run, str(tmp_path), "-tcmalloc")
    assert sorted(p.rsplit("/", 1)[1] for p in labelled) == [
        "losses_fwd-tcmalloc.png", "losses_fwd_bwd-tcmalloc.png", "training-tcmalloc.png"
    ]


def _constant(value):
    return lambda: (lambda: value)


def test_contenders_are_interleaved_and_failures_reported():
    def unavailable():
        raise NotAvailable("no such thing")

    def skipped():
        raise Skipped("not today")

    def broken():
        raise ValueError("bad shapes")

    order = []
    contenders = [
        Contender("a", _constant(1), peer=False),
        Contender("b", _constant(2), peer=True),
        Contender("u", unavailable, peer=True),
        Contender("s", skipped, peer=True),
        Contender("x", broken, peer=True),
    ]
    results = measure(contenders, Timing(rounds=3, min_sample_s=0.0, warmup=0), order=order)
    assert order == ["a", "b"] * 3
    assert [r.status for r in results[2:]] == ["not available: no such thing", "skipped: not today", "failed: ValueError: bad shapes"]


def test_time_box_stops_a_slow_first_call():
    def slow():
        time.sleep(5)
        return lambda: None

    start = time.perf_counter()
    (result,) = measure([Contender("slow", slow, peer=True, time_box=0.2)], Timing(rounds=1))
    assert time.perf_counter() - start < 2
    assert result.status.startswith("failed: CompileTimeout")


def test_only_selects_suites_and_row_prefixes():
    cfg = Config(only=("mlp", "dispatch"))
    assert cfg.selects("training", "mlp128") and cfg.selects("training", "mlp1024")
    assert not cfg.selects("training", "tiny") and cfg.selects("dispatch")
    assert not cfg.runs("losses", tuple(r.name for r in LOSSES))
    assert not Config(quick=True).selects("memory") and Config().selects("memory")


@pytest.mark.parametrize("row", LOSSES, ids=lambda r: r.name)
def test_loss_inputs_are_valid_for_torch_optax_and_jaxnn(row):
    """Every row's inputs are accepted by torch; optax's entry and jaxnn (when present) give finite values.

    jaxnn must equal torch on the very inputs the benchmark times (the same
    work); optax's nearest equivalents are only required to run.
    """
    args = row.make(2000, np.random.default_rng(0))
    expected = getattr(torch.nn.functional, row.fn_name)(*map(torch.from_numpy, args), **row.kwargs)
    assert np.isfinite(expected.item())
    if row.optax is not None:
        assert np.isfinite(float(jax.jit(row.optax.fn)(*row.optax.prep(args))))
    ours = getattr(JF, row.fn_name, None)
    if ours is not None:
        jax_args = [a.astype(np.int32) if np.issubdtype(a.dtype, np.integer) else a for a in args]
        np.testing.assert_allclose(float(ours(*jax_args, **row.kwargs)), expected.item(), rtol=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_match_torch_forward_and_batchnorm_statistics(name):
    spec = MODELS[name]
    torch.manual_seed(0)
    reference = spec.torch_model().train()
    ours = spec.jaxnn_model(torch_state(reference))
    x, _ = spec.data(4, np.random.default_rng(1))
    expected = reference(torch.from_numpy(x)).detach().numpy()
    with jax.default_matmul_precision("highest"):
        # nnx.jit: one compile instead of one per eager op, and BatchNorm's buffer updates come back out.
        np.testing.assert_allclose(np.asarray(nnx.jit(lambda m, v: m(v))(ours, x)), expected, rtol=1e-4, atol=1e-5)
    # Parameters unchanged, BatchNorm's running_mean/var and num_batches_tracked
    # updated by the training-mode forward, every key by torch's name.
    ours_state, torch_state_after = jaxnn.state_dict(ours), torch_state(reference)
    # Key sets, not order: after nnx.jit writes the module back, jaxnn.state_dict
    # lists a layer's variables alphabetically (bias before weight).
    assert sorted(ours_state) == sorted(torch_state_after)
    for key, value in torch_state_after.items():
        np.testing.assert_allclose(ours_state[key], value, rtol=1e-4, atol=1e-6, err_msg=key)


def test_gpu_request_without_gpu_says_so():
    try:
        jax.devices("gpu")
        pytest.skip("a GPU is present")
    except RuntimeError:
        pass
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU")
    with pytest.raises(NoDevice, match="no CUDA GPU is available"):
        run_benchmarks(Config(device="gpu", **TINY), log=lambda group: None)


def test_only_with_an_unknown_name_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "mse_loss,no_such_row"])
    assert exit_info.value.code == 2
    assert "--only no_such_row: no suite or row of that name" in capsys.readouterr().err


def test_label_is_validated(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "tiny", "--label", "a/b"])
    assert exit_info.value.code == 2
    assert "--label must be letters, digits, '-' or '_', got 'a/b'" in capsys.readouterr().err


def test_scan_unroll_is_validated(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "tiny", "--scan-unroll", "0"])
    assert exit_info.value.code == 2
    assert "--scan-unroll must be a positive number of steps or 'all', got '0'" in capsys.readouterr().err


def test_memory_child_reports_a_peak():
    """The memory suite's child process runs a contender and reports its peak RSS (a broken child reports 'failed')."""
    from benchmarks.memory import run_memory

    cfg = Config(memory_config="tiny", memory_steps=2, torch_compile=False)
    (group,) = run_memory(cfg, contenders=("jaxnn step",))
    (row,) = group["rows"]
    assert row["status"] == "ok", row["status"]
    assert row["peak_rss_mib"] >= row["rss_before_mib"] > 0


@pytest.fixture(scope="module")
def family_run():
    """The three model-family suites at a twentieth of their sizes, one row each, no torch.compile."""
    cfg = Config(only=("encoder", "lce", "lstm", "unet2d"), family_scale=0.05, **TINY)
    return run_benchmarks(cfg, log=lambda group: None)


def test_family_suites_have_their_peers_side_by_side(family_run):
    suites = family_run["suites"]
    assert set(suites) == {"transformer", "recurrent", "spatial"}
    encoder, lce = suites["transformer"]
    (lstm,) = suites["recurrent"]
    (unet,) = suites["spatial"]
    expected = {
        encoder["name"]: ["jaxnn step", "jaxnn scan", "torch eager", "torch.compile", "flax nnx"],
        lstm["name"]: ["jaxnn step", "jaxnn scan", "torch eager", "torch.compile", "flax nnx.RNN"],
        unet["name"]: ["jaxnn jit", "torch eager", "torch.compile"],
    }
    for g in (encoder, lstm, unet):
        results = {r.contender: r for r in g["results"]}
        assert list(results) == expected[g["name"]]
        assert results["torch.compile"].status.startswith("skipped")
        for name, r in results.items():
            if name != "torch.compile":
                assert r.status == "ok" and r.median_s > 0 and r.ratio_best_peer > 0, (g["name"], name, r.status)
    assert encoder["name"].startswith("encoder d12 h4 L4") and lstm["name"].startswith("LSTM h12 L2")
    # The scan driver's time is per step, over scan_steps steps a call.
    assert encoder["scan_steps"] >= 2 and lstm["scan_steps"] >= 2


def test_linear_cross_entropy_row_records_xla_temporary_memory(family_run):
    lce = family_run["suites"]["transformer"][1]
    assert [r.contender for r in lce["results"]] == ["chunked(25)", "unchunked"]
    temp = lce["temp_mib"]
    # The unchunked path holds the (N, C) logits and their gradient; chunks of 25 rows cannot.
    assert temp["unchunked"] > 4 * temp["chunked(25)"] > 0
    assert lce["results"][1].ratio_best_peer == 1.0


def test_family_markdown_sections(family_run):
    table = report.markdown(family_run)
    for title in ("## Transformer", "## Recurrent training steps", "## Spatial blocks, forward + backward"):
        assert title in table
    assert "XLA temporary memory chunked(25)" in table
    assert "| LSTM h12 L2 seq5 b2 | flax nnx.RNN |" in table


def test_only_selects_family_rows():
    cfg = Config(only=("lstm", "conv3d"))
    assert cfg.selects("recurrent", "lstm") and not cfg.selects("recurrent", "gru")
    assert cfg.selects("spatial", "conv3d") and not cfg.selects("spatial", "unet2d")
    assert not cfg.selects("transformer", "encoder") and Config(only=("transformer",)).selects("transformer", "lce")
    assert not Config(quick=True).selects("spatial") and Config(quick=True, only=("spatial",)).selects("spatial")


@pytest.mark.parametrize("shape", ["resnet18 layer4 3x3", "conv3d block up"])
def test_conv_ops_contenders_do_the_same_work(shape):
    """benchmarks.conv_ops: torch eager, jaxnn lax and jaxnn compute the same output and gradients."""
    from benchmarks import conv_ops

    for op in conv_ops.OPS:
        outs = [np.asarray(c.build()(), dtype=np.float64) for c in conv_ops.contenders(shape, op)]
        assert [c.name for c in conv_ops.contenders(shape, op)] == ["torch eager", "jaxnn lax", "jaxnn"]
        for out in outs[1:]:
            assert out.shape == outs[0].shape, (shape, op)
            assert np.max(np.abs(out - outs[0])) <= 2e-6 * np.max(np.abs(outs[0])), (shape, op)


def test_conv_ops_rules_are_reported():
    from benchmarks import conv_ops

    assert conv_ops.rule("resnet18 layer4 3x3") == "im2col"
    assert conv_ops.rule("conv3d block conv2") == "fold + lax"
    assert conv_ops.rule("cnn conv1") == "batched"  # one input channel: rule 3
    assert conv_ops.rule("cnn conv2") == "lax"
    assert conv_ops.rule("conv3d block up") == "transpose as matmul"
