"""Data parallel on 4 forced CPU devices equals one device at rounding level (one subprocess)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_four_device_mesh_equals_one_device():
    env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"}
    proc = subprocess.run([sys.executable, "-m", "tests.training._parallel_worker"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["devices"] == 4
    # fit gives the steps out_shardings = the placed state's: without them XLA split the small FSDP
    # leaves placed whole, and the second step compiled again.
    assert r["step_compiles_fsdp"] == 1 and r["step_compiles_dp"] == 1
    assert r["batch_shards"] == [[4, 4]] * 4, "a batch of 16 is split 4 ways"
    assert r["block_shards"] == [[2, 4, 4]] * 4, "a stack of 2 batches is split on its batch axis"
    assert r["dp_w1_shards"] == [[16, 4]] * 4, "replicated parameters live whole on every device"
    assert r["fsdp_w1_shards"] == [[4, 4]] * 4, "FSDP splits fc1.weight (16, 4) along its 16 rows"
    # Sharding changes only the order of the batch reductions (an all-reduce of
    # 4 partial sums); 5-10 Adam steps of size <= 1e-2 keep that at float32 rounding.
    for key in ("dp", "fsdp", "fit_dp", "fit_loss"):
        assert r[key] < 1e-5, (key, r)
