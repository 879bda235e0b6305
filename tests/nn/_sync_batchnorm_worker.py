"""Run under XLA_FLAGS=--xla_force_host_platform_device_count=2: SyncBatchNorm across 2 devices
against torch's BatchNorm on the whole global batch (what torch's DDP + SyncBatchNorm computes).

Prints one JSON line: the device count, how the batch was laid out, and the largest
differences from torch of (a) three data-parallel train steps (jaxnn's step over a
batch sharded on a 2-device mesh) and (b) one forward inside ``shard_map`` with
``process_group`` naming the mesh axis.
"""

import json

import jax
import numpy as np
import optax
import torch
from flax import nnx
from jax.sharding import PartitionSpec as P

import jaxnn
from jaxnn.training import make_train_step, split_model
from jaxnn.training.parallel import data_mesh, replicate, shard_batch

jax.config.update("jax_default_matmul_precision", "highest")
jax.config.update("jax_enable_x64", True)


def max_diff(got: dict, expected: dict) -> float:
    assert got.keys() == expected.keys(), (sorted(got), sorted(expected))
    return max(float(np.max(np.abs(np.asarray(got[k], np.float64) - expected[k].double().numpy()))) for k in got)


def data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 4)) * 3 + 1, rng.standard_normal((8, 2))


torch.manual_seed(0)
tmodel = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Linear(6, 2)).double()
model = jaxnn.Sequential(jaxnn.Linear(4, 6, rngs=nnx.Rngs(0), dtype="float64"), jaxnn.BatchNorm1d(6, dtype="float64"),
                         jaxnn.ReLU(), jaxnn.Linear(6, 2, rngs=nnx.Rngs(0), dtype="float64"))
model = jaxnn.SyncBatchNorm.convert_sync_batchnorm(model)
assert type(model[1]) is jaxnn.SyncBatchNorm
jaxnn.load_state_dict(model, tmodel.state_dict())

mesh = data_mesh()
graphdef, params, rest = split_model(model)
opt, topt = optax.sgd(0.1), torch.optim.SGD(tmodel.parameters(), lr=0.1)
opt_state = opt.init(params)
params, rest, opt_state = replicate((params, rest, opt_state), mesh)
step = make_train_step(graphdef, jaxnn.MSELoss(), opt)
for i in range(3):
    x, y = data(i)
    batch = shard_batch((x, y), mesh)
    params, rest, opt_state, _ = step(params, rest, opt_state, batch)
    topt.zero_grad()
    torch.nn.functional.mse_loss(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
    topt.step()
trained = jaxnn.state_dict(nnx.merge(graphdef, params, rest))

# shard_map: each device sees 4 of the 8 samples; process_group names the axis to average over
tbn = torch.nn.BatchNorm2d(3).double()
bn = jaxnn.SyncBatchNorm(3, process_group="data", dtype="float64")
x = np.random.default_rng(5).standard_normal((8, 3, 2, 2)) * 2 + 0.5
bn_graphdef, bn_state = nnx.split(bn)


def forward(state, x):
    module = nnx.merge(bn_graphdef, state)
    return module(x), nnx.state(module)


sharded = jax.jit(jax.shard_map(forward, mesh=mesh, in_specs=(P(), P("data")), out_specs=(P("data"), P())))
out, new_state = sharded(bn_state, x)
nnx.update(bn, new_state)
tout = tbn(torch.tensor(x))

print(json.dumps({
    "devices": jax.device_count(),
    "batch_shards": [s.data.shape for s in shard_batch(data(0), mesh)[0].addressable_shards],
    "step": max_diff(trained, tmodel.state_dict()),
    "num_batches_tracked": int(trained["1.num_batches_tracked"]),
    "shard_map_out": float(np.max(np.abs(np.asarray(out) - tout.detach().numpy()))),
    "shard_map_state": max_diff(jaxnn.state_dict(bn), tbn.state_dict()),
}))
