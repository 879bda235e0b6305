"""Suites 2 and 3: training steps per second, and per-call dispatch overhead.

Contenders train the same model (weights copied from the torch model) on the
same batch with SGD(lr=0.01, momentum=0.9):

* ``jaxnn step``: ``jaxnn.training.make_train_step``, one jitted call a step;
* ``jaxnn scan``: many steps in one jitted ``lax.scan`` over stacked batches
  (time reported per step);
* ``torch eager`` and ``torch.compile`` (the model and criterion compiled,
  backward and ``optimizer.step()`` as usual);
* ``flax nnx.jit``: Flax's idiomatic ``nnx.jit`` step with ``nnx.Optimizer``;
* ``hand-written jax.jit`` (tiny model and MLP): the same model, loss and
  optimizer written directly over a dict of arrays with ``optax.sgd``, one
  donated ``jax.jit`` call a step -- JAX's own floor for a step, which
  ``jaxnn step`` is measured against (not a peer library).

The floor of a step is the larger of its FLOPs (3x the forward) at the
measured GEMM rate and its memory traffic (the batch, plus reading and
writing parameters, gradients and momentum) at the measured bandwidth.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Callable, Optional

import jax
import numpy as np
import torch
from flax import nnx

import jaxnn

from .config import Config, Env
from .harness import Contender, apply_floor, measure
from .loss_table import to_jax
from .models import CONFIGS, MODELS, State, torch_state
from .peers import CompileBudget, require_device, torch_contenders

LR, MOMENTUM = 0.01, 0.9
CONTENDERS = ("jaxnn step", "jaxnn scan", "hand-written jax.jit", "torch eager", "torch.compile", "flax nnx.jit")


def make_criterion(kind: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    return jaxnn.MSELoss() if kind == "mse" else jaxnn.CrossEntropyLoss()


def jaxnn_step(model: jaxnn.Module, criterion, optimizer):
    """The one call into jaxnn's step API: ``(state, step(state, batch) -> (state, loss or metrics))``.

    ``grad_norm=False``: like every other contender, the step computes the loss and the update only
    (the default step also returns the gradient's norm, ~2 us a call on the tiny model)."""
    graphdef, params, rest = jaxnn.training.split_model(model)
    step = jaxnn.training.make_train_step(graphdef, criterion, optimizer, grad_norm=False)

    def run(state, batch):
        params, rest, opt_state, loss = step(*state, batch)
        return (params, rest, opt_state), loss

    return (params, rest, optimizer.init(params)), run


def jaxnn_scan(model: jaxnn.Module, criterion, optimizer, unroll: int | bool = 1):
    """Many steps per call over stacked batches: ``jaxnn.training.make_multi_step``."""
    graphdef, params, rest = jaxnn.training.split_model(model)
    driver = jaxnn.training.make_multi_step(graphdef, criterion, optimizer, unroll=unroll, grad_norm=False)

    def run(state, batches):
        *state, metrics = driver(*state, batches)
        return tuple(state), metrics

    return (params, rest, optimizer.init(params)), run


def _hand_forward(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """The Linear/ReLU stacks of the tiny model and the MLP, written by hand over torch's state_dict keys."""
    prefixes = sorted({k.rsplit(".", 1)[0] for k in params if "." in k}) or [""]
    for i, prefix in enumerate(prefixes):
        dot = f"{prefix}." if prefix else ""
        x = x @ params[f"{dot}weight"].T + params[f"{dot}bias"]
        if i < len(prefixes) - 1:
            x = jax.nn.relu(x)
    return x


def hand_written_step(state: State, criterion_kind: str):
    """One SGD-with-momentum step over a plain dict, the way a JAX user writes it without any library."""
    import jax.numpy as jnp
    import optax

    def loss_fn(params, x, y):
        out = _hand_forward(params, x)
        if criterion_kind == "mse":
            return jnp.mean((out - y) ** 2)
        return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

    tx = optax.sgd(LR, momentum=MOMENTUM)

    @functools.partial(jax.jit, donate_argnums=(0,))
    def step(carry, batch):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    params = {k: jax.numpy.asarray(v) for k, v in state.items()}
    return (params, tx.init(params)), step


def _stateful(state, fn, data) -> Callable[[], Any]:
    """Threads donated state through repeated calls; returns the loss(es) to synchronise on."""
    cell = [state]

    def run():
        cell[0], loss = fn(cell[0], data)
        return loss

    return run


def torch_train_step(
    criterion_kind: str, model: torch.nn.Module, x, y, transform=lambda m: m, device: str = "cpu"
) -> Callable[[], Any]:
    """The training rows' torch step (SGD(LR, MOMENTUM), MSE or cross-entropy) on a copy of
    ``model``; ``transform`` is applied to model and loss together (``torch.compile``).
    Shared by the training suite and the side-by-side scripts (conv_ops, pool_ops, interop)."""
    model = copy.deepcopy(model).to(device).train()
    criterion = torch.nn.MSELoss() if criterion_kind == "mse" else torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    forward = transform(_WithLoss(model, criterion))
    tx = torch.from_numpy(x).to(device)
    ty = torch.from_numpy(y).to(device)

    def run():
        optimizer.zero_grad(set_to_none=True)
        loss = forward(tx, ty)
        loss.backward()
        optimizer.step()
        return loss

    return run


class _WithLoss(torch.nn.Module):
    """Forward and criterion as one module, so torch.compile sees both."""

    def __init__(self, model: torch.nn.Module, criterion: torch.nn.Module):
        super().__init__()
        self.model, self.criterion = model, criterion

    def forward(self, x, y):
        return self.criterion(self.model(x), y)


def _flax_step(model: jaxnn.Module, criterion, optimizer, batch) -> Callable[[], Any]:
    opt = nnx.Optimizer(model, optimizer, wrt=nnx.Param)

    @nnx.jit
    def step(model, opt, x, y):
        loss, grads = nnx.value_and_grad(lambda m: criterion(m(x), y))(model)
        opt.update(model, grads)
        return loss

    return lambda: step(model, opt, *batch)


def train_contenders(
    config: str, env: Env, cfg: Config, budget: CompileBudget, batch: Optional[int] = None
) -> tuple[list[Contender], dict[str, Any]]:
    """The five contenders for one configuration, and the group's description (floor, notes)."""
    model_name, default_batch, scan_steps = CONFIGS[config]
    batch = batch or default_batch
    scan_steps = max(2, round(scan_steps * cfg.scan_scale))
    spec = MODELS[model_name]
    torch.manual_seed(0)
    reference = spec.torch_model()
    state: State = torch_state(reference)
    rng = np.random.default_rng(0)
    x, y = spec.data(batch, rng)
    stacked = [spec.data(batch, rng) for _ in range(scan_steps)]
    xs, ys = np.stack([b[0] for b in stacked]), np.stack([b[1] for b in stacked])
    optimizer = jaxnn.optim.SGD(lr=LR, momentum=MOMENTUM)
    criterion = make_criterion(spec.criterion)

    def jax_build(kind: str) -> Callable[[], Callable[[], Any]]:
        def build():
            with jax.default_device(env.jax_device):
                model = spec.jaxnn_model(state)
                if kind == "step":
                    return _stateful(*jaxnn_step(model, criterion, optimizer), to_jax((x, y), env.jax_device))
                if kind == "hand":
                    return _stateful(*hand_written_step(state, spec.criterion), to_jax((x, y), env.jax_device))
                if kind == "scan":
                    return _stateful(*jaxnn_scan(model, criterion, optimizer, cfg.scan_unroll), to_jax((xs, ys), env.jax_device))
                return _flax_step(model, criterion, optimizer, to_jax((x, y), env.jax_device))

        return build

    contenders = [
        Contender("jaxnn step", jax_build("step"), peer=False),
        Contender("jaxnn scan", jax_build("scan"), peer=False, units=scan_steps),
        *([Contender("hand-written jax.jit", jax_build("hand"), peer=False)] if model_name in ("tiny", "mlp") else []),
        *torch_contenders(lambda transform: torch_train_step(spec.criterion, reference, x, y, transform, env.torch_device), env, budget, cfg),
        Contender("flax nnx.jit", jax_build("flax"), peer=True),
    ]
    param_bytes = sum(v.nbytes for k, v in state.items() if "running" not in k and "num_batches" not in k)
    flops = 3 * spec.forward_flops * batch
    memory_s = env.floor.memory_s(x.nbytes + y.nbytes + 3 * param_bytes, 3 * param_bytes)
    compute_s = env.floor.compute_s(flops)
    group = {
        "suite": "training",
        "name": config,
        "model": model_name,
        "batch": batch,
        "flops": flops,
        "scan_steps": scan_steps,
        "scan_unroll": cfg.scan_unroll,
        "notes": [] if cfg.scan_unroll == 1 else [f"jaxnn scan built with make_multi_step(..., unroll={cfg.scan_unroll})"],
        "floor_s": max(memory_s, compute_s),
        "floor_kind": "gemm" if compute_s >= memory_s else "memory",
    }
    return contenders, group


def run_training(env: Env, cfg: Config) -> list[dict[str, Any]]:
    budget = CompileBudget(cfg.compile_budget)
    groups = []
    for config in cfg.train_configs:
        if not cfg.selects("training", config):
            continue
        contenders, group = train_contenders(config, env, cfg, budget)
        group["results"] = measure(contenders, cfg.timing)
        apply_floor(group["results"], group["floor_s"])
        group["status"] = "ok"
        env.log(group)
        groups.append(group)
    return groups


def _noop_contenders(env: Env) -> list[Contender]:
    def jax_noop():
        f = jax.jit(lambda v: v + 1)
        v = jax.device_put(np.float32(1), env.jax_device)
        return lambda: f(v)

    def torch_noop():
        require_device(env)
        v = torch.ones((), device=env.torch_device)
        return lambda: v + 1

    return [Contender("jax.jit x+1", jax_noop, peer=False), Contender("torch eager x+1", torch_noop, peer=True)]


def run_dispatch(env: Env, cfg: Config) -> list[dict[str, Any]]:
    """Per-call cost where the work is nothing (x + 1) and where it is the tiny model at batch 1."""
    noop = {"suite": "dispatch", "name": "x + 1 (scalar)", "floor_s": None, "status": "ok"}
    noop["results"] = measure(_noop_contenders(env), cfg.timing)
    env.log(noop)
    contenders, step = train_contenders("tiny", env, cfg, CompileBudget(0.0), batch=1)
    keep = ("jaxnn step", "jaxnn scan", "hand-written jax.jit", "torch eager", "flax nnx.jit")
    step.update(suite="dispatch", name="tiny step, batch 1", floor_s=None, status="ok")
    step["results"] = measure([c for c in contenders if c.name in keep], cfg.timing)
    env.log(step)
    return [noop, step]
