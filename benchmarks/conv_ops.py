"""Convolutions one by one (issue #20): forward, input gradient and weight gradient of single
conv layers, jitted jaxnn against torch eager, float32, on the CPU.

Shapes: the CNN row's two convolutions (benchmarks/models.py, batch 64), a resnet18 layer4
3x3 convolution on its 2x2 map (512 channels, batch 16: ``benchmarks.interop``'s 64x64
input), and the two Conv3d of the spatial suite's conv3d block (benchmarks/spatial.py).

Contenders per (shape, op): ``torch eager`` (``F.conv2d`` / ``F.conv3d``; the gradients are
``aten.convolution_backward`` with one output requested, what autograd calls), ``jaxnn``
(the per-shape lowering of jaxnn/functional/conv.py) and ``jaxnn lax`` (the same functions
traced with every convolution forced onto ``lax.conv_general_dilated``, the lowering before
issue #20). Each JAX contender is one jitted function: the output, or ``jax.vjp``'s
cotangent for the input or the weight (the unused half is dead code to XLA). Timing is
:func:`benchmarks.harness.measure`: interleaved rounds, medians.

Run ``OMP_WAIT_POLICY=PASSIVE python -m benchmarks.conv_ops`` (``--quick``: 3 rounds,
``--only`` a comma-separated list of shape names).
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import torch

import jaxnn.functional as F
from jaxnn.functional import conv as conv_module

from .harness import Contender, Timing, cores, measure
from .peers import configure_torch

# name -> (input shape, weight shape, stride, padding)
SHAPES: dict[str, tuple[tuple[int, ...], tuple[int, ...], int, int]] = {
    "cnn conv1": ((64, 1, 28, 28), (16, 1, 3, 3), 1, 1),
    "cnn conv2": ((64, 16, 14, 14), (32, 16, 3, 3), 1, 1),
    "resnet18 layer4 3x3": ((16, 512, 2, 2), (512, 512, 3, 3), 1, 1),
    "conv3d block conv1": ((4, 8, 16, 16, 16), (16, 8, 3, 3, 3), 1, 1),
    "conv3d block conv2": ((4, 16, 16, 16, 16), (16, 16, 3, 3, 3), 1, 1),
}
OPS = ("forward", "input grad", "weight grad")


def _data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x_shape, w_shape, stride, padding = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = (rng.standard_normal(w_shape) / math.sqrt(math.prod(w_shape[1:]))).astype(np.float32)
    nd = len(w_shape) - 2
    out = [(n + 2 * padding - k) // stride + 1 for n, k in zip(x_shape[2:], w_shape[2:])]
    g = rng.standard_normal((x_shape[0], w_shape[0], *out), dtype=np.float32)
    assert len(out) == nd
    return x, w, g


def torch_op(name: str, op: str) -> Callable[[], Callable[[], Any]]:
    def build():
        x_shape, w_shape, stride, padding = SHAPES[name]
        nd = len(w_shape) - 2
        x, w, g = (torch.from_numpy(a) for a in _data(name))
        conv = torch.nn.functional.conv2d if nd == 2 else torch.nn.functional.conv3d
        if op == "forward":
            return lambda: conv(x, w, None, stride, padding)
        mask = [op == "input grad", op == "weight grad", False]
        index = 0 if op == "input grad" else 1
        return lambda: torch.ops.aten.convolution_backward(
            g, x, w, None, [stride] * nd, [padding] * nd, [1] * nd, False, [0] * nd, 1, mask
        )[index]

    return build


def jaxnn_op(name: str, op: str, lowering: str | None = None) -> Callable[[], Callable[[], Any]]:
    def build():
        x_shape, w_shape, stride, padding = SHAPES[name]
        conv = F.conv2d if len(w_shape) == 4 else F.conv3d
        x, w, g = (jnp.asarray(a) for a in _data(name))

        def f(x, w):
            return conv(x, w, None, stride, padding)

        if op == "forward":
            fn = jax.jit(f)
        elif op == "input grad":
            fn = jax.jit(lambda x, w, g: jax.vjp(lambda x: f(x, w), x)[1](g)[0])
        else:
            fn = jax.jit(lambda x, w, g: jax.vjp(lambda w: f(x, w), w)[1](g)[0])
        args = (x, w) if op == "forward" else (x, w, g)
        with conv_module._lowering(lowering):
            jax.block_until_ready(fn(*args))  # traced (and compiled) here, under the lowering asked for
        return lambda: fn(*args)

    return build


def rule(name: str) -> str:
    """The lowering jaxnn's rules pick for a shape (a 3-d fold names its 2-d rule too)."""
    x_shape, w_shape, stride, padding = SHAPES[name]
    out = tuple((n + 2 * padding - k) // stride + 1 for n, k in zip(x_shape[2:], w_shape[2:]))
    picked = conv_module._rule(len(w_shape) - 2, w_shape, 1, out)
    if picked == "fold":
        inner_w = (w_shape[0], w_shape[1] * w_shape[2], *w_shape[3:])
        picked += " + " + conv_module._rule(2, inner_w, 1, out[1:])
    return picked


def contenders(name: str, op: str) -> list[Contender]:
    return [
        Contender("torch eager", torch_op(name, op), peer=True),
        Contender("jaxnn lax", jaxnn_op(name, op, "lax"), peer=False),
        Contender("jaxnn", jaxnn_op(name, op), peer=False),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--only", default="", help=f"comma-separated shape names ({', '.join(SHAPES)})")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SHAPES)
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"--only: unknown shapes {unknown} (known: {', '.join(SHAPES)})")
    configure_torch(cores())
    timing = Timing(rounds=3 if args.quick else 7, min_sample_s=0.05)
    print("| conv | input -> weight | op | torch eager ms | jaxnn lax / torch | jaxnn / torch | jaxnn rule |")
    print("|---|---|---|---:|---:|---:|---|")
    for name in names:
        x_shape, w_shape, _, _ = SHAPES[name]
        for op in OPS:
            by = {r.contender: r for r in measure(contenders(name, op), timing)}
            torch_s = by["torch eager"].median_s

            def ratio(contender: str) -> str:
                r = by[contender]
                return f"{r.median_s / torch_s:.2f}" if r.median_s and torch_s else r.status

            torch_ms = f"{torch_s * 1e3:.3f}" if torch_s else by["torch eager"].status
            shapes = f"{'x'.join(map(str, x_shape))} -> {'x'.join(map(str, w_shape))}"
            print(f"| {name} | {shapes} | {op} | {torch_ms} | {ratio('jaxnn lax')} | {ratio('jaxnn')} | {rule(name)} |",
                  flush=True)


if __name__ == "__main__":
    main()
