"""2 local processes on jax.distributed (gloo CPU collectives) equal one process on the global batch;
their checkpoints are written once and resume in either process count. State replicated, and split
across the processes (``fit(..., fsdp=True)``)."""

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
from jaxnn.training.parallel import data_mesh
from tests.training._multiprocess_worker import WIDE
from tests.training.models import MLP, plain, regression_data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _fit_one_process(directory, epochs, fsdp=False):
    """The worker's ``fitted(fsdp=fsdp)`` on the global batch in this (single) process, checkpointed and
    resuming; with ``fsdp`` on a mesh of this process's devices, so a restored checkpoint goes through
    ``fsdp_shard``."""
    model = MLP(sizes=WIDE if fsdp else (4, 16, 3), p=0.0)
    h = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), regression_data(48), epochs=epochs, batch_size=16,
                  shuffle=False, progress=False, verbose=False, checkpoint_dir=directory, resume=True,
                  mesh=data_mesh() if fsdp else None, fsdp=fsdp)
    _, params, rest = split_model(model)
    return [np.asarray(a) for a in jax.tree.leaves(plain((params, rest)))], [r["loss"] for r in h.steps]


def _written_by(checkpoint):
    """{process: the keys (leaf/chunk) it wrote} of a checkpoint's arrays, from orbax's per-process OCDBT stores."""
    import tensorstore as ts

    state = os.path.join(checkpoint, "state")
    written = {}
    for name in os.listdir(state):
        if name.startswith("ocdbt.process_"):
            store = ts.KvStore.open({"driver": "ocdbt", "base": "file://" + os.path.join(state, name)}).result()
            written[int(name.rsplit("_", 1)[1])] = set(store.list().result())
    return written


def test_two_processes_equal_one_on_the_global_batch_and_share_checkpoints(tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    _fit_one_process(one, epochs=1)  # epoch 1 (steps 1-3) saved by one process, for the pair to resume
    env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    port = str(_free_port())
    # Output to files, not pipes: a worker blocked on a full pipe (its JSON line is ~130 kB) while the test
    # waits on the other one, which waits for it in jax.distributed's shutdown, would hang all three.
    logs = [(open(tmp_path / f"worker{i}.out", "w+"), open(tmp_path / f"worker{i}.err", "w+")) for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.training._multiprocess_worker", str(i), port, one, two],
                              cwd=ROOT, env=env, stdout=out, stderr=err, text=True) for i, (out, err) in enumerate(logs)]
    try:
        for p in procs:
            p.wait(timeout=240)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    outs = []
    for out, err in logs:
        with out, err:
            out.seek(0), err.seek(0)
            outs.append((out.read(), err.read()))
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    for r in results:
        assert r["devices"] == 2
        # Only the order of the batch reductions differs (an all-reduce of 2 partial sums).
        for key in ("steps", "fit", "fit_loss", "resume_across", "resume_across_loss"):
            assert r[key] < 1e-5, (key, r)
            if key in ("fit", "fit_loss"):
                assert r[f"fsdp_{key}"] < 1e-5, (f"fsdp_{key}", r)
        # Saved and resumed by the same 2 processes: bit-identical to their uninterrupted run.
        for prefix in ("", "fsdp_"):
            assert r[f"{prefix}resume_same"] == 0.0 and r[f"{prefix}resume_same_loss"], (prefix, r)
        assert r["sharded"] and r["refused_without_mesh"], r
        # fsdp=True: the big weights (their Adam moments placed by the same shape rule) stay split in half
        # across the processes through training. (BatchNorm's 512-vectors, placed whole as under fsdp_shard's
        # min_size, come out of the step split too: XLA picks the step's output layout.)
        assert r["fsdp_layout"] == {"fc1": [[256, 4]], "fc2": [[3, 256]]}, r["fsdp_layout"]
    # Written once: the pair's directories hold their two checkpoints (epoch ends; 6 re-saved on resuming) only,
    # replicated state written by process 0 alone, a split leaf's halves each by the process holding it.
    for directory in (two, two + "-fsdp"):
        assert sorted(os.listdir(directory)) == ["3", "6"]
        for step in ("3", "6"):
            written = _written_by(os.path.join(directory, step))
            assert written[0] and written[0].isdisjoint(written.get(1, set())), written
            assert (1 in written) == directory.endswith("-fsdp"), written
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
    # The same for fsdp=True: its checkpoint holds the split leaves whole, resumed on this process's mesh.
    os.rename(os.path.join(two + "-fsdp", "6"), str(tmp_path / "fsdp-epoch2"))
    state, losses = _fit_one_process(two + "-fsdp", epochs=2, fsdp=True)
    for a, b in zip(state, uninterrupted["fsdp_single"]):
        np.testing.assert_allclose(a, np.asarray(b, a.dtype), rtol=0, atol=1e-5)
    np.testing.assert_allclose(losses, uninterrupted["fsdp_loss_single"], rtol=0, atol=1e-5)
