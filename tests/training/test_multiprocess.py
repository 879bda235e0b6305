"""2 local processes on jax.distributed (gloo CPU collectives) equal one process on the global batch;
their checkpoints are written once and resume in either process count."""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import optax

import jaxnn
from jaxnn.training import Checkpointer, split_model
from tests.training.models import MLP, plain, regression_data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _fit_one_process(directory, epochs):
    """The worker's ``fitted()`` on the global batch in this (single) process, checkpointed and resuming."""
    model = MLP(sizes=(4, 16, 3), p=0.0)
    h = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), regression_data(48), epochs=epochs, batch_size=16,
                  shuffle=False, progress=False, verbose=False, checkpoint_dir=directory, resume=True)
    _, params, rest = split_model(model)
    return [np.asarray(a) for a in jax.tree.leaves(plain((params, rest)))], [r["loss"] for r in h.steps]


def test_two_processes_equal_one_on_the_global_batch_and_share_checkpoints(tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    _fit_one_process(one, epochs=1)  # epoch 1 (steps 1-3) saved by one process, for the pair to resume
    env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-m", "tests.training._multiprocess_worker", str(i), port, one, two],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    for r in results:
        assert r["devices"] == 2
        # Only the order of the batch reductions differs (an all-reduce of 2 partial sums).
        for key in ("steps", "fit", "fit_loss", "resume_across", "resume_across_loss"):
            assert r[key] < 1e-5, (key, r)
        # Saved and resumed by the same 2 processes: bit-identical to their uninterrupted run.
        assert r["resume_same"] == 0.0 and r["resume_same_loss"], r
        assert r["sharded"] and r["refused_without_mesh"], r
    # Written once: the pair's directory holds its two checkpoints (epoch ends; 6 re-saved on resuming) only.
    assert sorted(os.listdir(two)) == ["3", "6"]
    with Checkpointer(two + "-sharded") as ckpt:
        restored, _ = ckpt.restore(1, {"w": np.zeros((4, 3), np.float32), "n": np.int32(0)})
    np.testing.assert_array_equal(restored["w"], np.arange(12, dtype=np.float32).reshape(4, 3))
    # Saved by 2 processes, resumed by 1: equal to one process's uninterrupted run up to the all-reduce rounding.
    os.rename(os.path.join(two, "6"), str(tmp_path / "epoch2"))  # its newest is now the end of epoch 1
    state, losses = _fit_one_process(two, epochs=2)
    uninterrupted = results[0]
    for a, b in zip(state, uninterrupted["fit_single"]):
        np.testing.assert_allclose(a, np.asarray(b, a.dtype), rtol=0, atol=1e-5)
    np.testing.assert_allclose(losses, uninterrupted["loss_single"], rtol=0, atol=1e-5)
