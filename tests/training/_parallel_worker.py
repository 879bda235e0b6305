"""Run under XLA_FLAGS=--xla_force_host_platform_device_count=4: one device vs a 4-device mesh.

Prints one JSON line: the device count, the largest differences between the
single-device and the sharded results, and how the sharded arrays were laid out.
"""

import json
import logging

import jax
import numpy as np
import optax

import jaxnn
from jaxnn.training import make_train_step, split_model
from jaxnn.training.parallel import data_mesh, fsdp_shard, replicate, shard_batch
from tests.training.models import MLP, plain, regression_data

jax.config.update("jax_default_matmul_precision", "highest")


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
               for x, y in zip(jax.tree.leaves(plain(a)), jax.tree.leaves(plain(b))))


def steps(layout=None, mesh=None):
    model = MLP(sizes=(4, 16, 3), p=0.2)
    _, params, rest = split_model(model)
    opt = optax.adam(1e-2)
    opt_state = opt.init(params)
    if layout is not None:
        params, rest, opt_state = layout((params, rest, opt_state), mesh)
    step = make_train_step(model, jaxnn.MSELoss(), opt)
    x, y = regression_data(5 * 16)
    for i in range(5):
        batch = (x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16])
        if mesh is not None:
            batch = shard_batch(batch, mesh)
        params, rest, opt_state, m = step(params, rest, opt_state, batch, jax.random.key(i))
    return (params, rest, opt_state), params


def fitted(mesh=None, steps_per_call=1):
    model = MLP(sizes=(4, 16, 3), p=0.2)
    # 46 samples in batches of 16: the last batch (14) is not divisible by 4 and runs replicated;
    # with steps_per_call=2 the first two run as one scanned block sharded on its batch axis (1).
    h = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), regression_data(46), epochs=2, batch_size=16,
                  mesh=mesh, steps_per_call=steps_per_call, progress=False, verbose=False)
    _, params, rest = split_model(model)
    return (params, rest), [r["loss"] for r in h.steps]


class _Compiles(logging.Handler):
    """Counts XLA compilations of fit's training step (``jax_log_compiles`` records)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def emit(self, record):
        self.count += "Compiling jit(step)" in record.getMessage()


def step_compiles(mesh, fsdp):
    """fit on 48 samples in batches of 16 (each divisible by the 4 devices): the step must compile once.

    Width 512: FSDP splits fc1.weight (512, 4) and places the small leaves (the biases) whole."""
    counter = _Compiles()
    logger = logging.getLogger("jax._src.interpreters.pxla")
    logger.addHandler(counter)
    jax.config.update("jax_log_compiles", True)
    try:
        jaxnn.fit(MLP(sizes=(4, 512, 3), p=0.0), jaxnn.MSELoss(), optax.adam(1e-2), regression_data(48), epochs=2,
                  batch_size=16, mesh=mesh, fsdp=fsdp, progress=False, verbose=False)
    finally:
        jax.config.update("jax_log_compiles", False)
        logger.removeHandler(counter)
    return counter.count


mesh = data_mesh()
single, _ = steps()
dp, dp_params = steps(replicate, mesh)
fs, fs_params = steps(lambda t, m: fsdp_shard(t, m, min_size=16), mesh)
fit_single, loss_single = fitted()
fit_dp, loss_dp = fitted(mesh, steps_per_call=2)
print(json.dumps({
    "devices": jax.device_count(),
    "dp": max_diff(single, dp),
    "fsdp": max_diff(single, fs),
    "fit_dp": max_diff(fit_single, fit_dp),
    "fit_loss": float(np.max(np.abs(np.array(loss_single) - np.array(loss_dp)))),
    "step_compiles_fsdp": step_compiles(mesh, fsdp=True),
    "step_compiles_dp": step_compiles(mesh, fsdp=False),
    "dp_w1_shards": [s.data.shape for s in dp_params["fc1"]["weight"][...].addressable_shards],
    "fsdp_w1_shards": [s.data.shape for s in fs_params["fc1"]["weight"][...].addressable_shards],
    "batch_shards": [s.data.shape for s in shard_batch(regression_data(16), mesh)[0].addressable_shards],
    "block_shards": [s.data.shape for s in shard_batch(np.zeros((2, 16, 4)), mesh, axis=1).addressable_shards],
}))
