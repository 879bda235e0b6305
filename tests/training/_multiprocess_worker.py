"""One of 2 local processes on jax.distributed with gloo CPU collectives.

argv = process id, port, and optionally two directories: ``one`` holding a
checkpoint a single process saved after epoch 1 of :func:`fitted` on the
global batch, and ``two``, empty, for this pair's checkpoints.

Each process holds half of every global batch (process 0 the first rows);
the 2-process step and fit must equal the single-process run on the global
batch, which each process also computes on its own device. With the
directories, the pair's fit is checkpointed into ``two`` (steps 3 and 6),
and the pair resumes epoch 2 from its own step 3 and from ``one``'s; it also
saves (then restores) an array sharded across the two processes into
``two-sharded``. Prints one JSON line.
"""

import json
import os
import sys

import jax
import numpy as np
import optax
from jax.experimental.multihost_utils import sync_global_devices
from jax.sharding import NamedSharding, PartitionSpec

import jaxnn
from jaxnn.training import Checkpointer, make_train_step, split_model
from jaxnn.training.parallel import data_mesh, process_batch, replicate
from tests.training.models import MLP, plain, regression_data

HALF = 8


def local_rows(a, batch=16):
    """This process's half of every global batch of ``batch`` rows."""
    blocks, pid = a.reshape(-1, batch, *a.shape[1:]), jax.process_index()
    return blocks[:, pid * HALF : (pid + 1) * HALF].reshape(-1, *a.shape[1:])


def steps(mesh=None):
    model = MLP(sizes=(4, 16, 3), p=0.0)
    _, params, rest = split_model(model)
    opt = optax.adam(1e-2)
    opt_state = opt.init(params)
    step = make_train_step(model, jaxnn.MSELoss(), opt)
    x, y = regression_data(5 * 16)
    if mesh is not None:
        params, rest, opt_state = replicate((params, rest, opt_state), mesh)
        x, y = local_rows(x), local_rows(y)
    n = HALF if mesh is not None else 16
    for i in range(5):
        batch = (x[i * n : (i + 1) * n], y[i * n : (i + 1) * n])
        if mesh is not None:
            batch = process_batch(batch, mesh)
        params, rest, opt_state, _ = step(params, rest, opt_state, batch, jax.random.key(i))
    return jax.tree.map(lambda a: np.asarray(a.addressable_data(0)) if hasattr(a, "addressable_data") else a,
                        plain((params, rest)))


def fitted(mesh=None, directory=None):
    """2 epochs of 3 steps; with ``directory`` checkpointed there, resuming what it holds."""
    model = MLP(sizes=(4, 16, 3), p=0.0)
    x, y = regression_data(48)
    if mesh is not None:
        x, y = local_rows(x), local_rows(y)
    h = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), (x, y), epochs=2, batch_size=HALF if mesh else 16,
                  shuffle=False, mesh=mesh, progress=False, verbose=False, checkpoint_dir=directory,
                  resume=directory is not None)
    _, params, rest = split_model(model)
    return jax.tree.map(np.asarray, plain((params, rest))), [r["loss"] for r in h.steps]


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64))))
               for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


SHARDED = np.arange(12, dtype=np.float32).reshape(4, 3)


def sharded_round_trip(mesh, directory):
    """Saves SHARDED split by rows across the processes (each writes its half), restores it whole."""
    sharding = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
    tree = {"w": jax.make_array_from_callback(SHARDED.shape, sharding, lambda i: SHARDED[i]), "n": np.int32(7)}
    with Checkpointer(directory) as ckpt:
        ckpt.save(1, tree, {"note": "sharded"})
        restored, meta = ckpt.restore(1, {"w": np.zeros_like(SHARDED), "n": np.int32(0)})
    return bool(np.array_equal(restored["w"], SHARDED) and restored["n"] == 7 and meta["note"] == "sharded")


def checkpoints(mesh, one, two, fit_multi, loss_multi):
    """Resumes epoch 2 from the pair's own checkpoint of the run that gave ``fit_multi`` (bit-identical)
    and from the single process's (equal up to the all-reduce rounding of epoch 1)."""
    if jax.process_index() == 0:
        os.rename(os.path.join(two, "6"), two + "-epoch2")  # its newest is now the end of epoch 1
    sync_global_devices("epoch 2 moved aside")
    same, loss_same = fitted(mesh, directory=two)
    across, loss_across = fitted(mesh, directory=one)
    return {
        "resume_same": max_diff(fit_multi, same), "resume_same_loss": loss_same == loss_multi,
        "resume_across": max_diff(fit_multi, across),
        "resume_across_loss": float(np.max(np.abs(np.array(loss_across) - np.array(loss_multi)))),
        "sharded": sharded_round_trip(mesh, two + "-sharded"),
        "refused_without_mesh": refused_without_mesh(two + "-unused"),
    }


def refused_without_mesh(directory):
    """Without a mesh each process trains its own model: fit refuses to checkpoint, before any step."""
    try:
        fitted(directory=directory)
    except ValueError as err:
        return "needs mesh=" in str(err)
    return False


def main() -> None:
    # Before any computation: the distributed runtime and the CPU collectives are set up once per process.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"localhost:{sys.argv[2]}", num_processes=2, process_id=int(sys.argv[1]))
    jax.config.update("jax_default_matmul_precision", "highest")
    mesh = data_mesh()
    with jax.default_device(jax.local_devices()[0]):
        single = steps()
        fit_single, loss_single = fitted()
    one, two = sys.argv[3:5] if len(sys.argv) > 3 else (None, None)
    multi = steps(mesh)
    fit_multi, loss_multi = fitted(mesh, directory=two)
    result = {
        "process": jax.process_index(), "devices": jax.device_count(),
        "steps": max_diff(single, multi), "fit": max_diff(fit_single, fit_multi),
        "fit_loss": float(np.max(np.abs(np.array(loss_single) - np.array(loss_multi)))),
        "fit_single": [np.asarray(a).tolist() for a in jax.tree.leaves(fit_single)], "loss_single": loss_single,
    }
    if two is not None:
        result.update(checkpoints(mesh, one, two, fit_multi, loss_multi))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
