"""One of 2 local processes on jax.distributed with gloo CPU collectives: argv = process id, port.

Each process holds half of every global batch (process 0 the first rows);
the 2-process step and fit must equal the single-process run on the global
batch, which each process also computes on its own device. Prints one JSON line.
"""

import json
import sys

import jax
import numpy as np
import optax

import jaxnn
from jaxnn.training import make_train_step, split_model
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


def fitted(mesh=None):
    model = MLP(sizes=(4, 16, 3), p=0.0)
    x, y = regression_data(48)
    if mesh is not None:
        x, y = local_rows(x), local_rows(y)
    h = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), (x, y), epochs=2, batch_size=HALF if mesh else 16,
                  shuffle=False, mesh=mesh, progress=False, verbose=False)
    _, params, rest = split_model(model)
    return jax.tree.map(np.asarray, plain((params, rest))), [r["loss"] for r in h.steps]


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64))))
               for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def main() -> None:
    # Before any computation: the distributed runtime and the CPU collectives are set up once per process.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"localhost:{sys.argv[2]}", num_processes=2, process_id=int(sys.argv[1]))
    jax.config.update("jax_default_matmul_precision", "highest")
    mesh = data_mesh()
    with jax.default_device(jax.local_devices()[0]):
        single = steps()
        fit_single, loss_single = fitted()
    multi = steps(mesh)
    fit_multi, loss_multi = fitted(mesh)
    print(json.dumps({
        "process": jax.process_index(), "devices": jax.device_count(),
        "steps": max_diff(single, multi), "fit": max_diff(fit_single, fit_multi),
        "fit_loss": float(np.max(np.abs(np.array(loss_single) - np.array(loss_multi)))),
    }))


if __name__ == "__main__":
    main()
