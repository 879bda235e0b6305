"""Spatial blocks, forward + backward: jaxnn (one jitted value-and-grad) vs torch eager and torch.compile.

Two blocks, the same weights on both sides (torch's state_dict loaded into jaxnn):

* ``conv3d block``: Conv3d -> ReLU -> Conv3d -> ReLU -> MaxPool3d -> ConvTranspose3d
  (the 3-d convolutions and transposed convolution XLA:CPU is known to be slow at);
* ``unet2d block``: two Conv2d + ReLU, MaxPool2d, Conv2d + ReLU, ConvTranspose2d up,
  concatenation with the skip, Conv2d + ReLU (a U-Net level).

The work is the gradient of ``mean(out ** 2)`` with respect to every parameter.
Run ``python -m benchmarks.spatial`` (``--quick`` for small shapes, no torch.compile);
timing is :func:`benchmarks.harness.measure` (interleaved rounds, medians).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import torch
from flax import nnx

import jaxnn

from .harness import Contender, Timing, cores, measure
from .peers import configure_torch


class Conv3dBlock(jaxnn.Module):
    def __init__(self, c: int, *, rngs: nnx.Rngs) -> None:
        self.conv1 = jaxnn.Conv3d(c, 2 * c, 3, padding=1, rngs=rngs)
        self.conv2 = jaxnn.Conv3d(2 * c, 2 * c, 3, padding=1, rngs=rngs)
        self.pool = jaxnn.MaxPool3d(2)
        self.up = jaxnn.ConvTranspose3d(2 * c, c, 2, stride=2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jax.nn.relu(self.conv2(jax.nn.relu(self.conv1(x))))
        return self.up(self.pool(x))


class TorchConv3dBlock(torch.nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv3d(c, 2 * c, 3, padding=1)
        self.conv2 = torch.nn.Conv3d(2 * c, 2 * c, 3, padding=1)
        self.pool = torch.nn.MaxPool3d(2)
        self.up = torch.nn.ConvTranspose3d(2 * c, c, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.up(self.pool(x))


class UNet2dBlock(jaxnn.Module):
    def __init__(self, c: int, *, rngs: nnx.Rngs) -> None:
        self.enc1 = jaxnn.Conv2d(c, 2 * c, 3, padding=1, rngs=rngs)
        self.enc2 = jaxnn.Conv2d(2 * c, 2 * c, 3, padding=1, rngs=rngs)
        self.pool = jaxnn.MaxPool2d(2)
        self.mid = jaxnn.Conv2d(2 * c, 4 * c, 3, padding=1, rngs=rngs)
        self.up = jaxnn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2, rngs=rngs)
        self.dec = jaxnn.Conv2d(4 * c, 2 * c, 3, padding=1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        skip = jax.nn.relu(self.enc2(jax.nn.relu(self.enc1(x))))
        y = self.up(jax.nn.relu(self.mid(self.pool(skip))))
        return jax.nn.relu(self.dec(jnp.concatenate([y, skip], axis=1)))


class TorchUNet2dBlock(torch.nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.enc1 = torch.nn.Conv2d(c, 2 * c, 3, padding=1)
        self.enc2 = torch.nn.Conv2d(2 * c, 2 * c, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.mid = torch.nn.Conv2d(2 * c, 4 * c, 3, padding=1)
        self.up = torch.nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec = torch.nn.Conv2d(4 * c, 2 * c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = torch.relu(self.enc2(torch.relu(self.enc1(x))))
        y = self.up(torch.relu(self.mid(self.pool(skip))))
        return torch.relu(self.dec(torch.cat([y, skip], dim=1)))


# name -> (jaxnn block, torch block, channels, input shape (full), input shape (--quick))
BLOCKS: dict[str, tuple[Any, Any, int, tuple[int, ...], tuple[int, ...]]] = {
    "conv3d block": (Conv3dBlock, TorchConv3dBlock, 8, (4, 8, 16, 16, 16), (1, 8, 8, 8, 8)),
    "unet2d block": (UNet2dBlock, TorchUNet2dBlock, 16, (8, 16, 64, 64), (2, 16, 16, 16)),
}


def contenders(name: str, quick: bool, compile_torch: bool, time_box: float = 300) -> list[Contender]:
    jcls, tcls, channels, full, small = BLOCKS[name]
    shape = small if quick else full
    torch.manual_seed(0)
    tmodel = tcls(channels)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def jaxnn_build() -> Callable[[], Any]:
        model = jcls(channels, rngs=nnx.Rngs(0))
        jaxnn.load_state_dict(model, tmodel.state_dict())
        graphdef, params = nnx.split(model)

        def loss(p, a):
            return jnp.mean(nnx.merge(graphdef, p)(a) ** 2)

        step, xj = jax.jit(jax.value_and_grad(loss)), jnp.asarray(x)
        return lambda: step(params, xj)

    def torch_build(wrap: Callable[[Callable], Callable]) -> Callable[[], Any]:
        xt = torch.from_numpy(x)
        forward = wrap(tmodel)

        def run():
            tmodel.zero_grad(set_to_none=True)
            loss = forward(xt).pow(2).mean()
            loss.backward()
            return loss.detach()

        return run

    out = [
        Contender("jaxnn jit", jaxnn_build, peer=False),
        Contender("torch eager", lambda: torch_build(lambda fn: fn), peer=True),
    ]
    if compile_torch:
        out.append(Contender("torch.compile", lambda: torch_build(lambda fn: torch.compile(fn, dynamic=False)), peer=True, time_box=time_box))
    return out


def run_spatial(env, cfg) -> list[dict]:
    """The ``spatial`` suite (rows ``conv3d``, ``unet2d``); ``--quick`` takes the small shapes."""
    from .family import group
    from .harness import Contender, Skipped

    groups = []
    for name, (_, _, _, full, small) in BLOCKS.items():
        if not cfg.selects("spatial", name.split()[0]):
            continue
        timed = contenders(name, cfg.quick, True, cfg.compile_timeout)
        if not cfg.torch_compile:
            def off():
                raise Skipped("torch.compile off (--quick or --no-compile)")

            timed[-1] = Contender("torch.compile", off, peer=True)
        g = group("spatial", f"{name} {'x'.join(map(str, small if cfg.quick else full))}", cfg,
                  notes=["gradient of mean(out ** 2) w.r.t. every parameter, forward + backward"])
        g["results"] = measure(timed, cfg.timing)
        env.log(g)
        groups.append(g)
    return groups


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, no torch.compile, 3 rounds")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    args = parser.parse_args(argv)
    configure_torch(cores())
    timing = Timing(rounds=3 if args.quick else 7, min_sample_s=0.05)
    print(f"| block | input | {'contender':<14} | median ms | ratio to best torch |")
    print("|---|---|---|---:|---:|")
    for name, (_, _, _, full, small) in BLOCKS.items():
        results = measure(contenders(name, args.quick, not (args.quick or args.no_compile)), timing)
        for r in results:
            ms = f"{r.median_s * 1e3:.2f}" if r.median_s is not None else r.status
            ratio = f"{r.ratio_best_peer:.2f}" if r.ratio_best_peer is not None else ""
            print(f"| {name} | {small if args.quick else full} | {r.contender:<14} | {ms} | {ratio} |")


if __name__ == "__main__":
    main()
