"""torchvision's resnet18 converted with jaxnn.from_torch: one jitted jaxnn training
step (SGD, cross-entropy, BatchNorm in training mode) against the same step in
torch eager, on the same batch, on CPU.

    python -m benchmarks.interop [--batch 16] [--size 64] [--steps 10]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import torch

import jaxnn
from tests.interop._torchvision import models


def _time(fn, steps: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main(batch: int = 16, size: int = 64, steps: int = 10) -> dict[str, float]:
    torch.manual_seed(0)
    tmodel = models().resnet18(num_classes=10).train()
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype("float32")
    y = np.arange(batch) % 10
    jmodel = jaxnn.from_torch(tmodel)

    tx = jaxnn.optim.SGD(lr=0.01, momentum=0.9)
    graphdef, params, rest = jaxnn.split_model(jmodel)
    state = [params, rest, tx.init(params)]
    step = jaxnn.make_train_step(graphdef, jaxnn.CrossEntropyLoss(), tx)
    xb, yb = jax.device_put(x), jax.device_put(y)

    def jax_step() -> None:
        params, rest, opt_state, metrics = step(*state, (xb, yb))
        state[:] = [params, rest, opt_state]
        jax.block_until_ready(metrics)

    opt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)

    def torch_step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(xt), yt).backward()
        opt.step()

    result = {"jaxnn (from_torch, jit)": _time(jax_step, steps), "torch eager": _time(torch_step, steps)}
    for name, seconds in result.items():
        print(f"{name:26} {seconds * 1e3:8.1f} ms/step  (resnet18, batch {batch}, {size}x{size}, {torch.get_num_threads()} torch threads)")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    main(**vars(parser.parse_args()))
