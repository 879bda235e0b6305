"""2 local processes on jax.distributed (gloo CPU collectives) equal one process on the global batch."""

import json
import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_on_the_global_batch():
    env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-m", "tests.training._multiprocess_worker", str(i), port], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    for r in results:
        assert r["devices"] == 2
        # Only the order of the batch reductions differs (an all-reduce of 2 partial sums).
        for key in ("steps", "fit", "fit_loss"):
            assert r[key] < 1e-5, (key, r)
