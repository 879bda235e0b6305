"""Max pooling's select-chain path (#20) against the path it replaced, one process, interleaved.

Per op: ``MaxPool2d(2)`` forward and forward+backward (a VJP with a random
cotangent) at the benchmark CNN's two pooling inputs, jitted; the CNN's
training step (``cnn64``: ``make_train_step``, SGD with momentum, batch 64).
Each time is the median of interleaved rounds, reported against torch eager.
The old path is compiled with ``pooling._BLOCKS_MAX_WINDOW = 0`` (XLA's
window max and its select-and-scatter gradient)::

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.pool_ops
"""

from __future__ import annotations

import contextlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

import jaxnn
from jaxnn.functional import pooling

from .models import MODELS, torch_state
from .training import LR, MOMENTUM, jaxnn_step, make_criterion, torch_train_step


@contextlib.contextmanager
def old_path():
    saved = pooling._BLOCKS_MAX_WINDOW
    pooling._BLOCKS_MAX_WINDOW = 0
    try:
        yield
    finally:
        pooling._BLOCKS_MAX_WINDOW = saved


def compiled(fn, *args, old: bool):
    """``fn`` jitted and traced now, with the old path if ``old``."""
    jitted = jax.jit(lambda *a: fn(*a))  # a fresh function: jax.jit caches traces by function
    with old_path() if old else contextlib.nullcontext():
        jax.block_until_ready(jitted(*args))
    return lambda: jax.block_until_ready(jitted(*args))


def per_op(shape, rng):
    x = rng.standard_normal(shape, dtype=np.float32)
    ct = rng.standard_normal(shape[:2] + (shape[2] // 2, shape[3] // 2), dtype=np.float32)
    xj, cj = jnp.asarray(x), jnp.asarray(ct)
    fwd = lambda a: jaxnn.functional.max_pool2d(a, 2)  # noqa: E731
    fb = lambda a, c: jax.vjp(fwd, a)[1](c)[0]  # noqa: E731
    tx, tc = torch.from_numpy(x), torch.from_numpy(ct)

    def torch_fb():
        a = tx.detach().requires_grad_()
        torch.nn.functional.max_pool2d(a, 2).backward(tc)
        return a.grad

    return {
        "forward": {
            "jaxnn new": compiled(fwd, xj, old=False),
            "jaxnn old": compiled(fwd, xj, old=True),
            "torch eager": lambda: torch.nn.functional.max_pool2d(tx, 2),
        },
        "forward+backward": {
            "jaxnn new": compiled(fb, xj, cj, old=False),
            "jaxnn old": compiled(fb, xj, cj, old=True),
            "torch eager": torch_fb,
        },
    }


def cnn_step(rng):
    spec = MODELS["cnn"]
    torch.manual_seed(0)
    reference = spec.torch_model()
    state = torch_state(reference)
    x, y = spec.data(64, rng)
    batch = (jnp.asarray(x), jnp.asarray(y))
    runs = {}
    for name, old in (("jaxnn new", False), ("jaxnn old", True)):
        carry, step = jaxnn_step(spec.jaxnn_model(state), make_criterion(spec.criterion), jaxnn.optim.SGD(LR, MOMENTUM))
        cell = [carry]

        def run(cell=cell, step=step):
            cell[0], loss = step(cell[0], batch)
            return jax.block_until_ready(loss)

        with old_path() if old else contextlib.nullcontext():
            run()
        runs[name] = run
    runs["torch eager"] = torch_train_step(spec.criterion, reference, x, y)
    return runs


def measure(fns, rounds, calls):
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return {name: float(np.median(t)) for name, t in times.items()}


def main():
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    print("| op | input | jaxnn new ms | jaxnn old ms | torch eager ms | new / torch | old / torch | new / old |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for shape in ((64, 16, 28, 28), (64, 32, 14, 14)):
        for op, fns in per_op(shape, rng).items():
            t = measure(fns, rounds=7, calls=20)
            new, old, ref = t["jaxnn new"], t["jaxnn old"], t["torch eager"]
            print(
                f"| MaxPool2d(2) {op} | {'x'.join(map(str, shape))} | {new * 1e3:.3f} | {old * 1e3:.3f} | "
                f"{ref * 1e3:.3f} | {new / ref:.2f}x | {old / ref:.2f}x | {new / old:.2f}x |"
            )
    t = measure(cnn_step(rng), rounds=7, calls=10)
    new, old, ref = t["jaxnn new"], t["jaxnn old"], t["torch eager"]
    print(
        f"| cnn64 training step | 64x1x28x28 | {new * 1e3:.2f} | {old * 1e3:.2f} | {ref * 1e3:.2f} | "
        f"{new / ref:.2f}x | {old / ref:.2f}x | {new / old:.2f}x |"
    )


if __name__ == "__main__":
    main()
