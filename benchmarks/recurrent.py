"""Recurrent training steps: LSTM and GRU (2 layers, hidden 256, seq 100, batch 32 by
default), jaxnn against torch and flax, same run, same machine.

Contenders train ``rnn(x)[0]`` under an MSE loss to a fixed target with SGD
(lr 0.01, momentum 0.9):

* ``jaxnn step``: ``jaxnn.training.make_train_step``, one jitted call a step;
* ``jaxnn scan``: ``make_multi_step``, ``--scan`` steps per call (time per step);
* ``torch eager`` and, with ``--compile``, ``torch.compile`` (model and loss);
* ``flax nnx.RNN``: flax's ``OptimizedLSTMCell`` / ``GRUCell`` stacked in
  ``nnx.RNN`` layers, an ``nnx.jit`` step with ``nnx.Optimizer`` (its own init:
  the same computation, not the same weights).

Run ``python -m benchmarks.recurrent [--seq 100 --batch 32 --hidden 256]``; it
prints seconds per step (median of ``--reps``) and each contender's ratio to
torch eager. On a shared machine, ``--clock cpu --threads 1`` with
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` compares single-threaded CPU
time, which other tenants disturb far less than wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

import jaxnn

LR, MOMENTUM = 0.01, 0.9


class _Output(jaxnn.Module):
    def __init__(self, rnn: jaxnn.Module) -> None:
        self.rnn = rnn

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.rnn(x)[0]


class _TorchOutput(torch.nn.Module):
    def __init__(self, rnn: torch.nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x, y):
        return torch.nn.functional.mse_loss(self.rnn(x)[0], y)


class _FlaxStack(nnx.Module):
    def __init__(self, kind: str, features: int, hidden: int, layers: int, rngs: nnx.Rngs) -> None:
        cell = nnx.OptimizedLSTMCell if kind == "LSTM" else nnx.GRUCell
        sizes = [features] + [hidden] * layers
        self.layers = nnx.List(
            [nnx.RNN(cell(sizes[i], hidden, rngs=rngs), time_major=True) for i in range(layers)]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x


def _time(run: Callable[[], Any], reps: int, units: int, clock: Callable[[], float]) -> float:
    jax.block_until_ready(run())
    jax.block_until_ready(run())
    times = []
    for _ in range(reps):
        start = clock()
        jax.block_until_ready(run())
        times.append((clock() - start) / units)
    return statistics.median(times)


def contenders(kind: str, args: argparse.Namespace) -> dict[str, Callable[[], Callable[[], Any]]]:
    rng = np.random.default_rng(0)
    shape = (args.seq, args.batch)
    x = rng.standard_normal(shape + (args.features,), dtype=np.float32)
    y = rng.standard_normal(shape + (args.hidden,), dtype=np.float32)
    xs = np.stack([x] * args.scan)
    ys = np.stack([y] * args.scan)
    torch.manual_seed(0)
    reference = getattr(torch.nn, kind)(args.features, args.hidden, args.layers)
    state = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    criterion, optimizer = jaxnn.MSELoss(), jaxnn.optim.SGD(lr=LR, momentum=MOMENTUM)

    def jaxnn_model():
        rnn = getattr(jaxnn, kind)(args.features, args.hidden, args.layers, rngs=nnx.Rngs(0), unroll=args.unroll)
        jaxnn.load_state_dict(rnn, state)
        return _Output(rnn)

    def jaxnn_step():
        model = jaxnn_model()
        graphdef, params, rest = jaxnn.training.split_model(model)
        step = jaxnn.training.make_train_step(graphdef, criterion, optimizer)
        cell = [(params, rest, optimizer.init(params))]
        batch = (jnp.asarray(x), jnp.asarray(y))

        def run():
            *new, metrics = step(*cell[0], batch)
            cell[0] = tuple(new)
            return metrics

        return run

    def jaxnn_scan():
        model = jaxnn_model()
        graphdef, params, rest = jaxnn.training.split_model(model)
        driver = jaxnn.training.make_multi_step(graphdef, criterion, optimizer)
        cell = [(params, rest, optimizer.init(params))]
        batches = (jnp.asarray(xs), jnp.asarray(ys))

        def run():
            *new, metrics = driver(*cell[0], batches)
            cell[0] = tuple(new)
            return metrics

        return run

    def torch_step(compiled: bool):
        def build():
            module = _TorchOutput(getattr(torch.nn, kind)(args.features, args.hidden, args.layers))
            module.rnn.load_state_dict(reference.state_dict())
            forward = torch.compile(module) if compiled else module
            opt = torch.optim.SGD(module.parameters(), lr=LR, momentum=MOMENTUM)
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)

            def run():
                opt.zero_grad(set_to_none=True)
                loss = forward(tx, ty)
                loss.backward()
                opt.step()
                return loss.detach().numpy()

            return run

        return build

    def flax_step():
        model = _FlaxStack(kind, args.features, args.hidden, args.layers, nnx.Rngs(0))
        opt = nnx.Optimizer(model, optax.sgd(LR, momentum=MOMENTUM), wrt=nnx.Param)
        batch = (jnp.asarray(x), jnp.asarray(y))

        @nnx.jit
        def step(model, opt, x, y):
            loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
            opt.update(model, grads)
            return loss

        return lambda: step(model, opt, *batch)

    out = {"jaxnn step": jaxnn_step, "jaxnn scan": jaxnn_scan, "torch eager": torch_step(False)}
    if args.compile:
        out["torch.compile"] = torch_step(True)
    out["flax nnx.RNN"] = flax_step
    return out


def run_recurrent(env, cfg) -> list[dict]:
    """The ``recurrent`` suite (rows ``lstm``, ``gru``): the contenders above, timed by the shared harness."""
    from .family import group
    from .harness import Contender, Skipped, measure

    s = cfg.family_scale
    hidden = max(8, int(256 * s))
    args = argparse.Namespace(seq=max(4, int(100 * s)), batch=max(2, int(32 * s)), features=hidden, hidden=hidden,
                              layers=2, scan=max(2, int(4 * cfg.scan_scale)), unroll=1, compile=True)
    groups = []
    for kind in ("LSTM", "GRU"):
        if not cfg.selects("recurrent", kind.lower()):
            continue
        builds = contenders(kind, args)

        def compiled(build=builds["torch.compile"]):
            if not cfg.torch_compile:
                raise Skipped("torch.compile off (--quick or --no-compile)")
            return build()

        timed = [
            Contender("jaxnn step", builds["jaxnn step"], peer=False),
            Contender("jaxnn scan", builds["jaxnn scan"], peer=False, units=args.scan),
            Contender("torch eager", builds["torch eager"], peer=True),
            Contender("torch.compile", compiled, peer=True, time_box=cfg.compile_timeout),
            Contender("flax nnx.RNN", builds["flax nnx.RNN"], peer=True, note="own init, same computation"),
        ]
        name = f"{kind} h{hidden} L2 seq{args.seq} b{args.batch}"
        g = group("recurrent", name, cfg, scan_steps=args.scan,
                  notes=["SGD(lr 0.01, momentum 0.9), MSE of the output sequence to a fixed target"])
        g["results"] = measure(timed, cfg.timing)
        env.log(g)
        groups.append(g)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--scan", type=int, default=4, help="steps per jaxnn scan call")
    parser.add_argument("--unroll", type=int, default=1, help="jaxnn time-loop unroll")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--kinds", default="LSTM,GRU")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="cpu: this process's CPU time")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"torch threads {torch.get_num_threads()}, jax {jax.__version__} on {jax.devices()[0].platform}; {vars(args)}")
    for kind in args.kinds.split(","):
        results = {}
        for name, build in contenders(kind, args).items():
            results[name] = _time(build(), args.reps, args.scan if name == "jaxnn scan" else 1, clock)
        base = results["torch eager"]
        for name, seconds in results.items():
            print(f"{kind:5s} {name:14s} {seconds * 1e3:9.1f} ms/step   x{base / seconds:5.2f} vs torch eager")


if __name__ == "__main__":
    main()
