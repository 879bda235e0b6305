"""Convolutions one by one (issue #20): forward, input gradient and weight gradient of single
conv layers, jitted jaxnn against torch eager, float32, on the CPU.

Shapes: the CNN row's two convolutions (benchmarks/models.py, batch 64), a resnet18 layer4
3x3 convolution on its 2x2 map (512 channels, batch 16: ``benchmarks.interop``'s 64x64
input), the two Conv3d and the ConvTranspose3d of the spatial suite's conv3d block
(benchmarks/spatial.py) and the U-Net level's ConvTranspose2d.

Contenders per (shape, op): ``torch eager`` (``F.conv2d`` / ``F.conv3d``; the gradients are
``aten.convolution_backward`` with one output requested, what autograd calls), ``jaxnn``
(the per-shape lowering of jaxnn/functional/conv.py) and ``jaxnn lax`` (the same functions
traced with every convolution forced onto ``lax.conv_general_dilated``, the lowering before
issue #20). Each JAX contender is one jitted function: the output, or ``jax.vjp``'s
cotangent for the input or the weight (the unused half is dead code to XLA). Timing is
:func:`benchmarks.harness.measure`: interleaved rounds, medians.

``--models`` times whole steps instead, the same three ways: the spatial suite's conv3d
block and U-Net level (value and gradient), the training suite's CNN step (cnn64) and
resnet18 through ``from_torch`` (``benchmarks.interop``'s step, batch 16, 64x64 and 128x128).

Run ``OMP_WAIT_POLICY=PASSIVE python -m benchmarks.conv_ops`` (``--quick``: 3 rounds,
``--only`` a comma-separated list of shape or model names, ``--models``).
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
from .training import torch_train_step

# name -> (input shape, weight shape in torch's layout, stride, padding); "up" rows are transposed.
SHAPES: dict[str, tuple[tuple[int, ...], tuple[int, ...], int, int]] = {
    "cnn conv1": ((64, 1, 28, 28), (16, 1, 3, 3), 1, 1),
    "cnn conv2": ((64, 16, 14, 14), (32, 16, 3, 3), 1, 1),
    "resnet18 layer4 3x3": ((16, 512, 2, 2), (512, 512, 3, 3), 1, 1),
    "conv3d block conv1": ((4, 8, 16, 16, 16), (16, 8, 3, 3, 3), 1, 1),
    "conv3d block conv2": ((4, 16, 16, 16, 16), (16, 16, 3, 3, 3), 1, 1),
    "conv3d block up": ((4, 16, 8, 8, 8), (16, 8, 2, 2, 2), 2, 0),
    "unet2d block up": ((8, 64, 32, 32), (64, 32, 2, 2), 2, 0),
}
OPS = ("forward", "input grad", "weight grad")


def _transposed(name: str) -> bool:
    return name.endswith(" up")


def _out_shape(name: str) -> tuple[int, ...]:
    x_shape, w_shape, stride, padding = SHAPES[name]
    if _transposed(name):
        out = [(n - 1) * stride - 2 * padding + k for n, k in zip(x_shape[2:], w_shape[2:])]
        return (x_shape[0], w_shape[1], *out)
    out = [(n + 2 * padding - k) // stride + 1 for n, k in zip(x_shape[2:], w_shape[2:])]
    return (x_shape[0], w_shape[0], *out)


def _data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x_shape, w_shape, _, _ = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = (rng.standard_normal(w_shape) / math.sqrt(math.prod(w_shape[1:]))).astype(np.float32)
    g = rng.standard_normal(_out_shape(name), dtype=np.float32)
    return x, w, g


def _functions(name: str, nd: int) -> tuple[Callable, Callable]:
    """(jaxnn function, torch function) of a row."""
    suffix = f"{'_transpose' if _transposed(name) else ''}{nd}d"
    return getattr(F, "conv" + suffix), getattr(torch.nn.functional, "conv" + suffix)


def torch_op(name: str, op: str) -> Callable[[], Callable[[], Any]]:
    def build():
        x_shape, w_shape, stride, padding = SHAPES[name]
        nd = len(w_shape) - 2
        x, w, g = (torch.from_numpy(a) for a in _data(name))
        conv = _functions(name, nd)[1]
        if op == "forward":
            return lambda: conv(x, w, None, stride, padding)
        mask = [op == "input grad", op == "weight grad", False]
        index = 0 if op == "input grad" else 1
        return lambda: torch.ops.aten.convolution_backward(
            g, x, w, None, [stride] * nd, [padding] * nd, [1] * nd, _transposed(name), [0] * nd, 1, mask
        )[index]

    return build


def jaxnn_op(name: str, op: str, lowering: str | None = None) -> Callable[[], Callable[[], Any]]:
    def build():
        x_shape, w_shape, stride, padding = SHAPES[name]
        conv = _functions(name, len(w_shape) - 2)[0]
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
    nd = len(w_shape) - 2
    if _transposed(name):
        matmul = conv_module._transpose_as_matmul(w_shape[2:], (stride,) * nd, (padding,) * nd, (0,) * nd,
                                                  (1,) * nd, 1)
        return "transpose as matmul" if matmul else "lax"
    out = _out_shape(name)[2:]
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


def _model_steps() -> dict[str, Callable[[str | None], Callable[[], Callable[[], Any]]]]:
    """name -> make(lowering) -> builder, for jaxnn; the torch builder is make("torch")."""
    import jaxnn

    from . import interop, spatial
    from .models import MODELS, torch_state
    from tests.interop._torchvision import models as torchvision_models

    def traced(build, lowering):
        def go():
            run = build()
            with conv_module._lowering(lowering):
                jax.block_until_ready(run())  # the jitted step is traced here
            return run
        return go

    def block(name):
        def make(lowering):
            torch_c, jaxnn_c = None, None
            for c in spatial.contenders(name, False, False):
                if c.name == "torch eager":
                    torch_c = c
                else:
                    jaxnn_c = c
            return torch_c.build if lowering == "torch" else traced(jaxnn_c.build, lowering)
        return make

    def cnn(lowering):
        spec = MODELS["cnn"]
        torch.manual_seed(0)
        tmodel = spec.torch_model()
        x, y = spec.data(64, np.random.default_rng(0))
        if lowering == "torch":
            return lambda: torch_train_step(spec.criterion, tmodel, x, y)

        def jaxnn_build():
            model = spec.jaxnn_model(torch_state(tmodel))
            graphdef, params, rest = jaxnn.training.split_model(model)
            opt = jaxnn.optim.SGD(lr=0.01, momentum=0.9)
            step = jaxnn.training.make_train_step(graphdef, jaxnn.CrossEntropyLoss(), opt)
            state, batch = [(params, rest, opt.init(params))], (jnp.asarray(x), jnp.asarray(y))

            def run():
                *new, loss = step(*state[0], batch)
                state[0] = tuple(new)
                return loss
            return run
        return traced(jaxnn_build, lowering)

    def resnet18(size):
        def make(lowering):
            torch.manual_seed(0)
            tmodel = torchvision_models().resnet18(num_classes=10).train()
            x = np.random.default_rng(0).standard_normal((16, 3, size, size)).astype("float32")
            y = np.arange(16) % 10
            if lowering == "torch":
                return lambda: torch_train_step("cross_entropy", tmodel, x, y)
            return traced(lambda: interop._jaxnn_step(tmodel, x, y), lowering)
        return make

    return {"conv3d block": block("conv3d block"), "unet2d block": block("unet2d block"), "cnn64 step": cnn,
            "resnet18 step 64x64": resnet18(64), "resnet18 step 128x128": resnet18(128)}


def run_models(names: list[str], timing: Timing) -> None:
    print("| model | torch eager ms | jaxnn lax ms | jaxnn ms | jaxnn lax / torch | jaxnn / torch |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, make in _model_steps().items():
        if names and name not in names:
            continue
        results = measure([Contender("torch eager", make("torch"), peer=True),
                           Contender("jaxnn lax", make("lax"), peer=False),
                           Contender("jaxnn", make(None), peer=False)], timing)
        by = {r.contender: r for r in results}
        ms = [f"{by[c].median_s * 1e3:.1f}" if by[c].median_s else by[c].status for c in by]
        ratios = [f"{by[c].ratio_best_peer:.2f}" if by[c].ratio_best_peer else "" for c in ("jaxnn lax", "jaxnn")]
        print(f"| {name} | {' | '.join(ms)} | {' | '.join(ratios)} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--only", default="", help=f"comma-separated shape names ({', '.join(SHAPES)}) "
                        "or, with --models, model names (conv3d block, unet2d block, cnn64 step, "
                        "resnet18 step 64x64, resnet18 step 128x128)")
    parser.add_argument("--models", action="store_true", help="whole steps instead of single convolutions")
    args = parser.parse_args(argv)
    configure_torch(cores())
    timing = Timing(rounds=3 if args.quick else 7, min_sample_s=0.05)
    only = [n for n in args.only.split(",") if n]
    if args.models:
        run_models(only, Timing(rounds=3 if args.quick else 5, min_sample_s=0.2))
        return
    names = only or list(SHAPES)
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"--only: unknown shapes {unknown} (known: {', '.join(SHAPES)})")
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
