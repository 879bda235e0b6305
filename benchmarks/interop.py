"""torchvision's resnet18 converted with jaxnn.from_torch: one jitted jaxnn training
step (SGD with momentum, cross-entropy, BatchNorm in training mode) against the
same step in torch eager and under torch.compile, on the same batch, in one
process, on CPU.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.interop [--batch 16] [--size 64] [--steps 5] [--rounds 3]
        [--compile-timeout 300]

Each contender owns a copy of the same initial weights. The first call of each
(XLA compile for jaxnn, Dynamo + Inductor for torch.compile: forward and
criterion compiled as one module, backward through AOTAutograd's compiled graph,
the optimizer step eager) is timed apart and left out. torch.compile's first
call is time-boxed (``--compile-timeout``): on a small loaded machine Inductor's
C++ build can take minutes, and a timeout is printed instead of hanging. Then
``--rounds`` rounds run ``--steps`` steps of every contender in turn
(interleaved, so load from other tenants hits them alike); the figure is the
median round's time per step, and the ratios are to jaxnn's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable

import jax
import numpy as np
import torch

import jaxnn
from tests.interop._torchvision import models

from .harness import CompileTimeout, time_box
from .peers import configure_torch
from .training import LR, MOMENTUM, torch_train_step


def _jaxnn_step(tmodel: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    jmodel = jaxnn.from_torch(tmodel)
    tx = jaxnn.optim.SGD(lr=LR, momentum=MOMENTUM)
    graphdef, params, rest = jaxnn.split_model(jmodel)
    state = [params, rest, tx.init(params)]
    step = jaxnn.make_train_step(graphdef, jaxnn.CrossEntropyLoss(), tx)
    batch = (jax.device_put(x), jax.device_put(y))

    def run() -> None:
        params, rest, opt_state, metrics = step(*state, batch)
        state[:] = [params, rest, opt_state]
        jax.block_until_ready(metrics)

    return run


def _torch_step(tmodel: torch.nn.Module, x: np.ndarray, y: np.ndarray, compiled: bool) -> Callable[[], None]:
    compile_ = (lambda m: torch.compile(m, dynamic=False)) if compiled else (lambda m: m)
    return torch_train_step("cross_entropy", tmodel, x, y, compile_)


def main(
    batch: int = 16, size: int = 64, steps: int = 5, rounds: int = 3, compile_timeout: float = 300.0
) -> dict[str, float]:
    load_at_start = os.getloadavg()[0]
    configure_torch(os.cpu_count() or 1)
    torch.manual_seed(0)
    tmodel = models().resnet18(num_classes=10).train()
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype("float32")
    y = np.arange(batch) % 10

    builders = {
        "jaxnn (from_torch, jit)": lambda: _jaxnn_step(tmodel, x, y),
        "torch eager": lambda: _torch_step(tmodel, x, y, compiled=False),
        "torch.compile": lambda: _torch_step(tmodel, x, y, compiled=True),
    }
    runs, first_call = {}, {}
    for name, build in builders.items():
        start = time.perf_counter()
        try:
            with time_box(compile_timeout if name == "torch.compile" else None):
                run = build()
                run()
        except CompileTimeout as error:
            print(f"{name}: {error}; left out")
            continue
        first_call[name] = time.perf_counter() - start
        runs[name] = run

    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(steps):
                run()
            times[name].append((time.perf_counter() - start) / steps)

    result = {name: statistics.median(t) for name, t in times.items()}
    reference = result.get("jaxnn (from_torch, jit)")
    print(
        f"resnet18, batch {batch}, {size}x{size}, SGD momentum, {torch.get_num_threads()} torch threads, "
        f"{rounds} interleaved rounds of {steps} steps, load average {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    for name, seconds in result.items():
        ratio = f"{seconds / reference:5.2f}x jaxnn's time" if reference else ""
        print(f"{name:26} {seconds * 1e3:8.1f} ms/step  {ratio}   (first call {first_call[name]:.1f} s)")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile-timeout", type=float, default=300.0)
    main(**vars(parser.parse_args()))
