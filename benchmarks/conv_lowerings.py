"""The candidate lowerings tried for issue #20, as written for the trial (only some were kept in
jaxnn/functional/conv.py), each timed per op (forward, input gradient, weight gradient)
against torch eager in one process; and an ablation of the CNN row's training step.

Candidates for a convolution in torch's layouts (input ``(N, C, *spatial)``, weight ``(O, C, *k)``):

* ``lax``: ``lax.conv_general_dilated`` with NC.../OI... dimension numbers (jaxnn before #20);
* ``lax nhwc``: transposes to NHWC / HWIO around a channels-last ``conv_general_dilated``;
* ``im2col``: the kernel taps as strided slices stacked to ``(N, C * taps, P)`` and one
  ``dot_general`` with the ``(O, C * taps)`` weight (output ``(O, N, P)``, then transposed);
* ``im2col rows``: the same patches as ``(N * P, C * taps)`` rows times the weight transposed;
* ``im2col batched``: the same patches times the weight broadcast over the batch, one batched
  ``dot_general`` whose output is already ``(N, O, P)`` (kept as rule 3 for ``C * taps <= 25``);
* ``taps``: ``sum over (c, tap)`` of a shifted slice times a weight column (tiny ``C``);
* ``depth stack`` (3-d): the ``kD`` depth-shifted slices stacked into channels, depth folded
  into the batch, one 2-d ``conv_general_dilated``;
* ``depth sum`` (3-d): ``kD`` 2-d convolutions over the depth-shifted slices, summed.

``--in-scan`` runs each JAX op as the body of a 4-step ``lax.scan`` (inputs stacked 4 times)
and reports the time per op: XLA:CPU keeps a loop body's convolutions on its generic emitter,
which is why jaxnn's multi step traces them as im2col.

``--cnn-ablation`` times the cnn64 training step (benchmarks/models.py, SGD momentum) with
parts swapped out at trace time: the max pools by strided slicing, BatchNorm by identity, the
convolutions by a broadcast -- not the same function, only to see where the time goes.

Run ``OMP_WAIT_POLICY=PASSIVE python -m benchmarks.conv_lowerings [--only SHAPES] [--candidates NAMES]``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import torch
from jax import lax

from .harness import Contender, Timing, cores, measure
from .peers import configure_torch
from .training import torch_train_step


def _pads(kernel, pad):
    return [(pad, pad)] * len(kernel)


def conv_lax(x, w, stride, pad):
    sp = "DHW"[-(w.ndim - 2):]
    return lax.conv_general_dilated(x, w, stride, _pads(w.shape[2:], pad), dimension_numbers=("NC" + sp, "OI" + sp, "NC" + sp))


def conv_lax_nhwc(x, w, stride, pad):
    sp = "DHW"[-(w.ndim - 2):]
    xt, wt = jnp.moveaxis(x, 1, -1), jnp.moveaxis(jnp.moveaxis(w, 0, -1), 0, -2)
    y = lax.conv_general_dilated(xt, wt, stride, _pads(w.shape[2:], pad), dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))
    return jnp.moveaxis(y, -1, 1)


def _slices(x, kernel, stride, pad):
    n, c = x.shape[:2]
    xp = jnp.pad(x, [(0, 0), (0, 0)] + _pads(kernel, pad))
    out = [(m - k) // s + 1 for m, k, s in zip(xp.shape[2:], kernel, stride)]
    cols = []
    for tap in itertools.product(*(range(k) for k in kernel)):
        limit = (n, c) + tuple(i + (o - 1) * s + 1 for i, o, s in zip(tap, out, stride))
        cols.append((tap, lax.slice(xp, (0, 0) + tap, limit, (1, 1) + tuple(stride))))
    return cols, out


def conv_im2col(x, w, stride, pad):
    n, o = x.shape[0], w.shape[0]
    cols, out = _slices(x, w.shape[2:], stride, pad)
    p = jnp.stack([c for _, c in cols], axis=2).reshape(n, -1, math.prod(out))
    y = lax.dot_general(w.reshape(o, -1), p, (((1,), (1,)), ((), ())))
    return jnp.swapaxes(y, 0, 1).reshape((n, o, *out))


def conv_im2col_batched(x, w, stride, pad):
    n, o = x.shape[0], w.shape[0]
    cols, out = _slices(x, w.shape[2:], stride, pad)
    p = jnp.stack([c for _, c in cols], axis=2).reshape(n, -1, math.prod(out))
    wb = jnp.broadcast_to(w.reshape(1, o, -1), (n, o, p.shape[1]))
    return lax.dot_general(wb, p, (((2,), (1,)), ((0,), (0,)))).reshape((n, o, *out))


def conv_im2col_rows(x, w, stride, pad):
    n, o = x.shape[0], w.shape[0]
    cols, out = _slices(x, w.shape[2:], stride, pad)
    p = jnp.moveaxis(jnp.stack([c for _, c in cols], axis=-1), 1, -2).reshape(n * math.prod(out), -1)
    return jnp.moveaxis((p @ w.reshape(o, -1).T).reshape((n, *out, o)), -1, 1)


def conv_taps(x, w, stride, pad):
    o, c = w.shape[:2]
    cols, out = _slices(x, w.shape[2:], stride, pad)
    y = 0
    for tap, s in cols:
        column = w[(slice(None), slice(None)) + tap]
        for i in range(c):
            y = y + s[:, i : i + 1] * column[:, i].reshape((1, o) + (1,) * len(out))
    return y


def _depth_slices(x, kd, stride, pad):
    xp = jnp.pad(x, [(0, 0), (0, 0), (pad, pad), (0, 0), (0, 0)])
    d_out = (xp.shape[2] - kd) // stride[0] + 1
    return [lax.slice_in_dim(xp, i, i + (d_out - 1) * stride[0] + 1, stride[0], axis=2) for i in range(kd)], d_out


def conv_depth_stack(x, w, stride, pad):
    n, c = x.shape[:2]
    o, _, kd, kh, kw = w.shape
    slices, d_out = _depth_slices(x, kd, stride, pad)
    s = jnp.moveaxis(jnp.stack(slices, axis=3), 2, 1).reshape((n * d_out, c * kd) + x.shape[3:])
    y = lax.conv_general_dilated(s, w.reshape(o, c * kd, kh, kw), stride[1:], [(pad, pad)] * 2,
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return jnp.moveaxis(y.reshape((n, d_out, o) + y.shape[2:]), 1, 2)


def conv_depth_sum(x, w, stride, pad):
    n, c = x.shape[:2]
    o, kd = w.shape[0], w.shape[2]
    slices, d_out = _depth_slices(x, kd, stride, pad)
    y = 0
    for i, s in enumerate(slices):
        s = jnp.moveaxis(s, 2, 1).reshape((n * d_out, c) + x.shape[3:])
        y = y + lax.conv_general_dilated(s, w[:, :, i], stride[1:], [(pad, pad)] * 2,
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return jnp.moveaxis(y.reshape((n, d_out, o) + y.shape[2:]), 1, 2)


CANDIDATES: dict[str, Callable] = {
    "lax": conv_lax, "lax nhwc": conv_lax_nhwc, "im2col": conv_im2col, "im2col rows": conv_im2col_rows,
    "im2col batched": conv_im2col_batched,
    "taps": conv_taps, "depth stack": conv_depth_stack, "depth sum": conv_depth_sum,
}
# name -> (input shape, weight shape, stride, padding, candidates that apply)
_2D, _3D = ("lax", "lax nhwc", "im2col", "im2col rows", "im2col batched"), ("lax", "im2col", "depth stack", "depth sum")
SHAPES: dict[str, tuple[tuple[int, ...], tuple[int, ...], int, int, tuple[str, ...]]] = {
    "cnn conv1": ((64, 1, 28, 28), (16, 1, 3, 3), 1, 1, _2D + ("taps",)),
    "cnn conv2": ((64, 16, 14, 14), (32, 16, 3, 3), 1, 1, _2D),
    "grey 5x5 -> 32": ((64, 1, 28, 28), (32, 1, 5, 5), 1, 2, _2D),
    "2ch 3x3 32x32": ((64, 2, 32, 32), (32, 2, 3, 3), 1, 1, _2D),
    "rgb 3x3 32x32": ((64, 3, 32, 32), (64, 3, 3, 3), 1, 1, _2D),
    "rgb 5x5 32x32": ((64, 3, 32, 32), (16, 3, 5, 5), 1, 2, _2D),
    "resnet18 stem 7x7/2": ((16, 3, 64, 64), (64, 3, 7, 7), 2, 3, ("lax", "im2col", "taps")),
    "resnet18 64ch 16x16": ((16, 64, 16, 16), (64, 64, 3, 3), 1, 1, _2D),
    "resnet18 128ch 8x8": ((16, 128, 8, 8), (128, 128, 3, 3), 1, 1, _2D),
    "resnet18 256ch 4x4": ((16, 256, 4, 4), (256, 256, 3, 3), 1, 1, _2D),
    "resnet18 512ch 2x2": ((16, 512, 2, 2), (512, 512, 3, 3), 1, 1, _2D),
    "resnet18 1x1/2 128->256": ((16, 128, 8, 8), (256, 128, 1, 1), 2, 0, ("lax", "im2col")),
    "resnet18 1x1/2 256->512": ((16, 256, 4, 4), (512, 256, 1, 1), 2, 0, ("lax", "im2col")),
    "1x1 64->256 16x16": ((16, 64, 16, 16), (256, 64, 1, 1), 1, 0, ("lax", "im2col")),
    "1x1 64->64 32x32": ((16, 64, 32, 32), (64, 64, 1, 1), 1, 0, ("lax", "im2col")),
    "conv3d block conv1": ((4, 8, 16, 16, 16), (16, 8, 3, 3, 3), 1, 1, _3D),
    "conv3d block conv2": ((4, 16, 16, 16, 16), (16, 16, 3, 3, 3), 1, 1, _3D),
}
OPS = ("forward", "input grad", "weight grad")


def _data(name):
    x_shape, w_shape, stride, pad, _ = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = (rng.standard_normal(w_shape) / math.sqrt(math.prod(w_shape[1:]))).astype(np.float32)
    out = [(n + 2 * pad - k) // stride + 1 for n, k in zip(x_shape[2:], w_shape[2:])]
    return x, w, rng.standard_normal((x_shape[0], w_shape[0], *out), dtype=np.float32)


def _torch(name, op):
    x_shape, w_shape, stride, pad, _ = SHAPES[name]
    nd = len(w_shape) - 2
    x, w, g = (torch.from_numpy(a) for a in _data(name))
    conv = torch.nn.functional.conv2d if nd == 2 else torch.nn.functional.conv3d
    if op == "forward":
        return lambda: conv(x, w, None, stride, pad)
    mask, index = [op == "input grad", op == "weight grad", False], 0 if op == "input grad" else 1
    return lambda: torch.ops.aten.convolution_backward(
        g, x, w, None, [stride] * nd, [pad] * nd, [1] * nd, False, [0] * nd, 1, mask)[index]


SCAN_STEPS = 4


def _jax(name, op, candidate, in_scan=False):
    x_shape, w_shape, stride, pad, _ = SHAPES[name]
    impl = CANDIDATES[candidate]
    x, w, g = (jnp.asarray(a) for a in _data(name))

    def f(x, w):
        return impl(x, w, (stride,) * (len(w_shape) - 2), pad)

    if op == "forward":
        fn, args = jax.jit(f), (x, w)
    elif op == "input grad":
        fn, args = jax.jit(lambda x, w, g: jax.vjp(lambda x: f(x, w), x)[1](g)[0]), (x, w, g)
    else:
        fn, args = jax.jit(lambda x, w, g: jax.vjp(lambda w: f(x, w), w)[1](g)[0]), (x, w, g)
    if in_scan:  # the same op as the body of a lax.scan over stacked copies of its inputs
        body = fn.__wrapped__ if hasattr(fn, "__wrapped__") else fn
        stacked = tuple(jnp.stack([a] * SCAN_STEPS) for a in args)
        fn, args = jax.jit(lambda *xs: lax.scan(lambda c, a: (c, body(*a)), 0, xs)[1][0]), stacked
    return lambda: fn(*args)


def per_op(names, candidates, timing, in_scan=False) -> None:
    print("| conv | op | torch eager ms | " + " | ".join(f"{c} / torch" for c in candidates) + " |")
    print("|---|---|---:|" + "---:|" * len(candidates))
    for name in names:
        for op in OPS:
            torch_run = _torch(name, op)
            reference = np.asarray(torch_run())
            timed = [Contender("torch eager", lambda t=torch_run: t, peer=True)]
            for c in candidates:
                if c in SHAPES[name][4]:
                    run = _jax(name, op, c, in_scan)
                    error = np.max(np.abs(np.asarray(run()) - reference)) / np.max(np.abs(reference))
                    if error > 1e-5:  # a check that it is the same function; parity is tested in tests/
                        raise AssertionError(f"{name} {op} {c}: {error:.1e} from torch")
                    timed.append(Contender(c, lambda r=run: r, peer=False, units=SCAN_STEPS if in_scan else 1))
            by = {r.contender: r for r in measure(timed, timing)}
            ratios = [f"{by[c].ratio_best_peer:.2f}" if c in by and by[c].ratio_best_peer else "-" for c in candidates]
            print(f"| {name} | {op} | {by['torch eager'].median_s * 1e3:.3f} | {' | '.join(ratios)} |", flush=True)


def cnn_ablation(timing) -> None:
    import jaxnn

    from .models import MODELS, torch_state

    spec = MODELS["cnn"]
    torch.manual_seed(0)
    tmodel = spec.torch_model()
    x, y = spec.data(64, np.random.default_rng(0))
    batch = (jnp.asarray(x), jnp.asarray(y))

    @contextlib.contextmanager
    def swap(*pairs):
        old = [(cls, cls.__call__) for cls, _ in pairs]
        for cls, fn in pairs:
            cls.__call__ = fn
        try:
            yield
        finally:
            for cls, fn in old:
                cls.__call__ = fn

    def no_conv(self, x):
        o = self.weight.shape[0]
        return jnp.broadcast_to(x[:, :1] * self.weight[0, 0, 0, 0], (x.shape[0], o) + x.shape[2:]) + self.bias[:, None, None]

    pool = (jaxnn.MaxPool2d, lambda self, x: x[:, :, ::2, ::2])
    bn = (jaxnn.BatchNorm2d, lambda self, x: x)
    conv = (jaxnn.Conv2d, no_conv)

    def jaxnn_step(*pairs):
        def build():
            model = spec.jaxnn_model(torch_state(tmodel))
            graphdef, params, rest = jaxnn.training.split_model(model)
            opt = jaxnn.optim.SGD(lr=0.01, momentum=0.9)
            step = jaxnn.training.make_train_step(graphdef, jaxnn.CrossEntropyLoss(), opt)
            state = [(params, rest, opt.init(params))]

            def run():
                *new, loss = step(*state[0], batch)
                state[0] = tuple(new)
                return loss

            with swap(*pairs):
                jax.block_until_ready(run())  # traced with the parts swapped
            return run
        return build

    def torch_step():
        return torch_train_step(spec.criterion, tmodel, x, y)

    variants = {"jaxnn": (), "max pools -> strided slice": (pool,), "BatchNorm -> identity": (bn,),
                "convs -> broadcast": (conv,), "pools and BatchNorm out": (pool, bn)}
    results = measure([Contender("torch eager", torch_step, peer=True)]
                      + [Contender(k, jaxnn_step(*v), peer=False) for k, v in variants.items()], timing)
    print("| cnn64 step | ms | / torch eager |")
    print("|---|---:|---:|")
    for r in results:
        print(f"| {r.contender} | {r.median_s * 1e3:.1f} | {r.ratio_best_peer:.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help=f"comma-separated shapes ({', '.join(SHAPES)})")
    parser.add_argument("--candidates", default="", help=f"comma-separated ({', '.join(CANDIDATES)})")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--in-scan", action="store_true", help="each JAX op as the body of a lax.scan")
    parser.add_argument("--cnn-ablation", action="store_true", help="the cnn64 step with parts swapped out")
    args = parser.parse_args(argv)
    configure_torch(cores())
    if args.cnn_ablation:
        cnn_ablation(Timing(rounds=args.rounds, min_sample_s=0.2))
        return
    names = [n for n in args.only.split(",") if n] or list(SHAPES)
    candidates = [c for c in args.candidates.split(",") if c] or list(CANDIDATES)
    bad = [n for n in names if n not in SHAPES] + [c for c in candidates if c not in CANDIDATES]
    if bad:
        parser.error(f"unknown shapes or candidates: {bad}")
    per_op(names, candidates, Timing(rounds=args.rounds, min_sample_s=0.03), args.in_scan)


if __name__ == "__main__":
    main()
