"""Transformer-family benchmarks, run on their own (not yet a suite of ``run.py``):

* ``lce``: linear_cross_entropy's chunked path against the reference path, value
  and gradient w.r.t. input and weight: XLA's temporary memory from
  ``jax.jit(...).lower(...).compile().memory_analysis()`` (no run needed) and the
  median time of a call;
* ``encoder``: one training step (forward, backward, AdamW) of a
  TransformerEncoder, jaxnn (split once, ``jax.jit`` over the pure step) against
  torch eager, on the same shapes.

    python -m benchmarks.transformer                 # the issue's sizes
    python -m benchmarks.transformer --scale 0.25    # every size divided by 4
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

import jaxnn
from jaxnn import LinearCrossEntropyOptions
from jaxnn.functional import linear_cross_entropy


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def lce(n: int, d: int, c: int, chunk: int, repeats: int) -> list[dict]:
    key = jax.random.key(0)
    x = jax.random.normal(key, (n, d), jnp.float32)
    w = jax.random.normal(jax.random.fold_in(key, 1), (c, d), jnp.float32) / d**0.5
    t = jax.random.randint(jax.random.fold_in(key, 2), (n,), 0, c)
    rows = []
    for name, options in (("reference", None), (f"chunked({chunk})", LinearCrossEntropyOptions(batch_chunk_size=chunk))):
        f = jax.jit(jax.value_and_grad(lambda x, w: linear_cross_entropy(x, w, t, options=options), argnums=(0, 1)))
        compiled = f.lower(x, w).compile()
        temp = compiled.memory_analysis().temp_size_in_bytes
        seconds = _median_s(lambda: jax.block_until_ready(compiled(x, w)), repeats) if repeats else float("nan")
        rows.append(dict(path=name, temp_mib=temp / 2**20, ms=seconds * 1e3))
    return rows


def encoder(d: int, heads: int, layers: int, seq: int, batch: int, repeats: int) -> list[dict]:
    ff = 4 * d
    tmodel = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(d, heads, ff, 0.0, batch_first=True), layers, enable_nested_tensor=False
    )
    jmodel = jaxnn.TransformerEncoder(
        jaxnn.TransformerEncoderLayer(d, heads, ff, 0.0, batch_first=True, rngs=nnx.Rngs(0)), layers,
        enable_nested_tensor=False,
    )
    jaxnn.load_state_dict(jmodel, tmodel.state_dict())
    x = np.random.default_rng(0).standard_normal((batch, seq, d)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((batch, seq, d)).astype(np.float32)

    tx = jaxnn.optim.AdamW(lr=1e-3)
    graphdef, params, rest = nnx.split(jmodel, nnx.Param, ...)
    state = [params, tx.init(params)]

    @jax.jit
    def step(params, opt_state, x, y):
        loss, g = jax.value_and_grad(lambda p: jnp.mean((nnx.merge(graphdef, p, rest)(x) - y) ** 2))(params)
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    jx, jy = jnp.asarray(x), jnp.asarray(y)

    def jax_step():
        state[0], state[1], loss = step(state[0], state[1], jx, jy)
        jax.block_until_ready(loss)

    topt = torch.optim.AdamW(tmodel.parameters(), lr=1e-3)
    tx_, ty_ = torch.tensor(x), torch.tensor(y)

    def torch_step():
        topt.zero_grad()
        loss = torch.mean((tmodel(tx_) - ty_) ** 2)
        loss.backward()
        topt.step()

    return [
        dict(contender="jaxnn (jax.jit step)", ms=_median_s(jax_step, repeats) * 1e3),
        dict(contender="torch eager", ms=_median_s(torch_step, repeats) * 1e3),
    ]


class _FlaxEncoderLayer(nnx.Module):
    """torch's post-norm TransformerEncoderLayer (ReLU, no dropout) from flax.nnx parts."""

    def __init__(self, d: int, heads: int, ff: int, rngs: nnx.Rngs) -> None:
        self.attn = nnx.MultiHeadAttention(heads, d, decode=False, rngs=rngs)
        self.linear1, self.linear2 = nnx.Linear(d, ff, rngs=rngs), nnx.Linear(ff, d, rngs=rngs)
        self.norm1, self.norm2 = nnx.LayerNorm(d, epsilon=1e-5, rngs=rngs), nnx.LayerNorm(d, epsilon=1e-5, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.linear2(jax.nn.relu(self.linear1(x))))


class _FlaxEncoder(nnx.Module):
    def __init__(self, d: int, heads: int, ff: int, layers: int, rngs: nnx.Rngs) -> None:
        self.layers = nnx.List([_FlaxEncoderLayer(d, heads, ff, rngs) for _ in range(layers)])

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x


ENCODER = dict(d=256, heads=4, layers=4, seq=128, batch=32)
LCE = dict(n=8192, d=512, c=50000, chunk=512)


def _encoder_group(env, cfg, budget) -> tuple[list, dict]:
    from .family import group, jaxnn_contenders, torch_step
    from .harness import Contender
    from .peers import torch_contenders

    s = cfg.family_scale
    d, heads, layers = max(8, int(ENCODER["d"] * s)), ENCODER["heads"], ENCODER["layers"]
    seq, batch, ff = max(4, int(ENCODER["seq"] * s)), max(2, int(ENCODER["batch"] * s)), 4 * d
    torch.manual_seed(0)
    tmodel = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(d, heads, ff, 0.0, batch_first=True), layers, enable_nested_tensor=False
    )
    state = {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}
    x = np.random.default_rng(0).standard_normal((batch, seq, d)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((batch, seq, d)).astype(np.float32)

    def jaxnn_model():
        model = jaxnn.TransformerEncoder(
            jaxnn.TransformerEncoderLayer(d, heads, ff, 0.0, batch_first=True, rngs=nnx.Rngs(0)), layers,
            enable_nested_tensor=False,
        )
        jaxnn.load_state_dict(model, state)
        return model

    def flax_build():
        model = _FlaxEncoder(d, heads, ff, layers, nnx.Rngs(0))
        opt = nnx.Optimizer(model, optax.adamw(1e-3, weight_decay=0.01), wrt=nnx.Param)
        xj, yj = jnp.asarray(x), jnp.asarray(y)

        @nnx.jit
        def step(model, opt, x, y):
            loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
            opt.update(model, grads)
            return loss

        return lambda: step(model, opt, xj, yj)

    scan_steps = max(2, int(4 * cfg.scan_scale))
    contenders = [
        *jaxnn_contenders(jaxnn_model, jaxnn.MSELoss(), jaxnn.optim.AdamW(lr=1e-3), x, y, scan_steps),
        *torch_contenders(torch_step(tmodel, lambda p: torch.optim.AdamW(p, lr=1e-3), x, y, env), env, budget, cfg),
        Contender("flax nnx", flax_build, peer=True, note="own init, same computation"),
    ]
    name = f"encoder d{d} h{heads} L{layers} seq{seq} b{batch}"
    return contenders, group("transformer", name, cfg, scan_steps=scan_steps,
                             notes=["AdamW(lr 1e-3), MSE to a fixed target; flax nnx: nnx.MultiHeadAttention layers, its own init"])


def _lce_group(cfg) -> tuple[list, dict]:
    from .family import group
    from .harness import Contender

    s = cfg.family_scale
    n, d, c, chunk = (max(8, int(LCE[k] * s)) for k in ("n", "d", "c", "chunk"))
    key = jax.random.key(0)
    x = jax.random.normal(key, (n, d), jnp.float32)
    w = jax.random.normal(jax.random.fold_in(key, 1), (c, d), jnp.float32) / d**0.5
    t = jax.random.randint(jax.random.fold_in(key, 2), (n,), 0, c)
    temp: dict[str, float] = {}

    def build(label: str, options):
        def go():
            f = jax.jit(jax.value_and_grad(lambda x, w: linear_cross_entropy(x, w, t, options=options), argnums=(0, 1)))
            compiled = f.lower(x, w).compile()
            temp[label] = compiled.memory_analysis().temp_size_in_bytes / 2**20
            return lambda: compiled(x, w)

        return go

    contenders = [
        Contender(f"chunked({chunk})", build(f"chunked({chunk})", LinearCrossEntropyOptions(batch_chunk_size=chunk)), peer=False),
        # The unchunked path is the denominator: "x peer" is chunked time over unchunked time.
        Contender("unchunked", build("unchunked", None), peer=True),
    ]
    return contenders, group("transformer", f"linear_cross_entropy N{n} d{d} C{c}", cfg, temp_mib=temp,
                             notes=["value and grad w.r.t. input and weight, float32; targets: chunked temp >= 4x "
                                    "smaller, time within 1.3x of unchunked"])


def run_transformer(env, cfg) -> list[dict]:
    """The ``transformer`` suite: the encoder training step (``encoder``) and linear_cross_entropy (``lce``)."""
    from .harness import measure
    from .peers import CompileBudget

    groups = []
    budget = CompileBudget(cfg.compile_budget)
    for row, make in (("encoder", lambda: _encoder_group(env, cfg, budget)), ("lce", lambda: _lce_group(cfg))):
        if not cfg.selects("transformer", row):
            continue
        contenders, g = make()
        g["results"] = measure(contenders, cfg.timing)
        env.log(g)
        groups.append(g)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="divide every size by 1/scale")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--suite", choices=["lce", "encoder", "all"], default="all")
    args = parser.parse_args()
    s = args.scale
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.suite in ("lce", "all"):
        n, d, c = int(8192 * s), int(512 * s), int(50000 * s)
        print(f"linear_cross_entropy N={n} d={d} C={c}, value and grad (float32)")
        for row in lce(n, d, c, chunk=max(1, int(512 * s)), repeats=args.repeats):
            print(f"  {row['path']:<16} temp {row['temp_mib']:9.1f} MiB  {row['ms']:9.2f} ms")
    if args.suite in ("encoder", "all"):
        d, seq, batch = int(256 * s), int(128 * s), int(32 * s)
        print(f"TransformerEncoder training step d_model={d} heads=4 layers=4 seq={seq} batch={batch}")
        for row in encoder(d, 4, 4, seq, batch, args.repeats):
            print(f"  {row['contender']:<22} {row['ms']:9.2f} ms")


if __name__ == "__main__":
    main()
