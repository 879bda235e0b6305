"""One of 2 local processes on jax.distributed with gloo CPU collectives.

argv = process id, port, and optionally two directories: ``one`` holding a
checkpoint a single process saved after epoch 1 of :func:`fitted` on the
global batch, and ``two``, empty, for this pair's checkpoints.

Each process holds half of every global batch (process 0 the first rows);
the 2-process step and fit must equal the single-process run on the global
batch, which each process also computes on its own device -- both for
replicated state and for ``fit(..., fsdp=True)`` on a wider model whose
weights (and Adam moments) are split across the processes. With the
directories, the pair's fits are checkpointed into ``two`` and ``two-fsdp``
(steps 3 and 6), and the pair resumes epoch 2 from its own step 3 (both)
and from ``one``'s (replicated only); it also saves (then restores) an
array sharded across the two processes into ``two-sharded``. Prints one
JSON line.
"""

import json
import os
import sys

import jax
import numpy as np
import optax
from jax.experimental.multihost_utils import process_allgather, sync_global_devices
from jax.sharding import NamedSharding, PartitionSpec

import jaxnn
from jaxnn.training import Checkpointer, make_train_step, split_model
from jaxnn.training.parallel import data_mesh, process_batch, replicate
from tests.training.models import MLP, plain, regression_data

HALF = 8
# fsdp=True shards leaves of >= 1024 elements: fc1.weight (512, 4) and fc2.weight (3, 512) and their Adam
# moments are split along the 512 across the 2 processes (BatchNorm's 512-vectors are placed whole).
WIDE = (4, 512, 3)


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


def whole(a):
    """The whole value of ``a`` in every process: a leaf split across the processes is gathered."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable and not a.is_fully_replicated:
        return np.asarray(process_allgather(a, tiled=True))
    return np.asarray(a)


def fitted(mesh=None, directory=None, fsdp=False):
    """2 epochs of 3 steps; with ``directory`` checkpointed there, resuming what it holds.
    Returns the trained state (whole), the per-step losses and the model (its arrays as fit left them)."""
    model = MLP(sizes=WIDE if fsdp else (4, 16, 3), p=0.0)
    x, y = regression_data(48)
    if mesh is not None:
        x, y = local_rows(x), local_rows(y)
    h = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), (x, y), epochs=2, batch_size=HALF if mesh else 16,
                  shuffle=False, mesh=mesh, fsdp=fsdp, progress=False, verbose=False, checkpoint_dir=directory,
                  resume=directory is not None)
    _, params, rest = split_model(model)
    return jax.tree.map(whole, plain((params, rest))), [r["loss"] for r in h.steps], model


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


def resumed(mesh, one, two, fit_multi, loss_multi, fsdp=False):
    """Resumes epoch 2 from the pair's own checkpoint of the run that gave ``fit_multi`` (bit-identical)
    and, given ``one``, from the single process's (equal up to the all-reduce rounding of epoch 1)."""
    if jax.process_index() == 0:
        os.rename(os.path.join(two, "6"), two + "-epoch2")  # its newest is now the end of epoch 1
    sync_global_devices(f"epoch 2 of {two} moved aside")
    same, loss_same, _ = fitted(mesh, directory=two, fsdp=fsdp)
    result = {"resume_same": max_diff(fit_multi, same), "resume_same_loss": loss_same == loss_multi}
    if one is not None:
        across, loss_across, _ = fitted(mesh, directory=one, fsdp=fsdp)
        result.update(resume_across=max_diff(fit_multi, across),
                      resume_across_loss=float(np.max(np.abs(np.array(loss_across) - np.array(loss_multi)))))
    return result


def layout(model):
    """This process's shard shapes of the wide model's two weights as fit left them (None if replicated)."""
    return {name: None if a.sharding.is_fully_replicated else [list(s.data.shape) for s in a.addressable_shards]
            for name, a in (("fc1", model.fc1.weight[...]), ("fc2", model.fc2.weight[...]))}


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
        fit_single, loss_single, _ = fitted()
        fsdp_single, fsdp_loss_single, _ = fitted(fsdp=True)
    one, two = sys.argv[3:5] if len(sys.argv) > 3 else (None, None)
    multi = steps(mesh)
    fit_multi, loss_multi, _ = fitted(mesh, directory=two)
    fsdp_multi, fsdp_loss_multi, wide = fitted(mesh, directory=two and two + "-fsdp", fsdp=True)
    result = {
        "process": jax.process_index(), "devices": jax.device_count(),
        "steps": max_diff(single, multi), "fit": max_diff(fit_single, fit_multi),
        "fit_loss": float(np.max(np.abs(np.array(loss_single) - np.array(loss_multi)))),
        "fit_single": [np.asarray(a).tolist() for a in jax.tree.leaves(fit_single)], "loss_single": loss_single,
        "fsdp_fit": max_diff(fsdp_single, fsdp_multi),
        "fsdp_fit_loss": float(np.max(np.abs(np.array(fsdp_loss_single) - np.array(fsdp_loss_multi)))),
        "fsdp_layout": layout(wide),
        "fsdp_single": [np.asarray(a).tolist() for a in jax.tree.leaves(fsdp_single)],
        "fsdp_loss_single": fsdp_loss_single,
    }
    if two is not None:
        result.update(resumed(mesh, one, two, fit_multi, loss_multi))
        result.update(sharded=sharded_round_trip(mesh, two + "-sharded"),
                      refused_without_mesh=refused_without_mesh(two + "-unused"))
        fsdp = resumed(mesh, None, two + "-fsdp", fsdp_multi, fsdp_loss_multi, fsdp=True)
        result.update({f"fsdp_{k}": v for k, v in fsdp.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
