"""Suite 1: every loss, forward and forward+backward, jaxnn against torch, torch.compile and optax.

Forward+backward means the value and the gradients with respect to the
model-output arguments (``LossRow.wrt``): ``jax.jit(jax.value_and_grad(...))``
for JAX, ``loss.backward()`` with fresh ``.grad`` buffers for torch. The
memory floor of a group is reading every input once (plus writing each
gradient once for forward+backward) at the measured bandwidth; the
fresh-page floor counts those gradient writes at the bandwidth of writing
into newly allocated memory, which is what every contender here does (see
``floor.py``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np
import torch
import torch.nn.functional as TF

import jaxnn.functional as JF

from .config import Config, Env
from .harness import Contender, apply_floor, measure
from .loss_table import LOSSES, Args, LossRow, to_jax
from .peers import CompileBudget, torch_contenders


def _jax_fn(fn: Callable[..., jax.Array], kwargs: dict[str, Any], mode: str, wrt: tuple[int, ...]):
    f = functools.partial(fn, **kwargs)
    return jax.jit(f if mode == "fwd" else jax.value_and_grad(f, argnums=wrt))


def _jax_contender(name: str, fn, args, kwargs, mode, wrt, env: Env, peer: bool, note: str = "") -> Contender:
    def build():
        compiled = _jax_fn(fn, kwargs, mode, wrt)
        inputs = to_jax(args, env.jax_device)
        return lambda: compiled(*inputs)

    return Contender(name, build, peer=peer, note=note)


def _torch_run(fn: Callable[..., torch.Tensor], args, kwargs, mode, wrt, env: Env) -> Callable[[], Any]:
    inputs = [torch.from_numpy(np.ascontiguousarray(a)).to(env.torch_device) for a in args]
    if mode == "fwd":
        def run():
            with torch.no_grad():
                return fn(*inputs, **kwargs)
        return run
    leaves = [inputs[i].requires_grad_(True) for i in wrt]

    def run():
        for leaf in leaves:
            leaf.grad = None
        loss = fn(*inputs, **kwargs)
        loss.backward()
        return loss

    return run


def _group(row: LossRow, args: Args, mode: str, env: Env, cfg: Config, budget: CompileBudget) -> dict[str, Any]:
    wrt = row.wrt if mode == "fwd+bwd" else ()
    reads = sum(a.nbytes for a in args)
    writes = sum(args[i].nbytes for i in wrt)
    group = {
        "suite": "losses",
        "name": row.name,
        "mode": mode,
        "elements": int(args[0].size),
        "shapes": [list(a.shape) for a in args],
        "floor_s": env.floor.memory_s(reads, writes),
        "floor_fresh_s": env.floor.memory_fresh_s(reads, [args[i].nbytes for i in wrt]),
        "floor_kind": "memory",
    }
    jaxnn_fn = getattr(JF, row.fn_name, None)
    if jaxnn_fn is None:
        group["status"] = f"not available: jaxnn.functional.{row.fn_name} is missing in this build"
        group["results"] = []
        return group
    contenders = [_jax_contender("jaxnn", jaxnn_fn, args, row.kwargs, mode, row.wrt, env, peer=False)]
    torch_fn = getattr(TF, row.fn_name)
    contenders += torch_contenders(
        lambda transform: _torch_run(transform(torch_fn), args, row.kwargs, mode, row.wrt, env), env, budget, cfg
    )
    if row.optax is not None:
        optax_args = row.optax.prep(args)
        optax_wrt = tuple(i for i in row.wrt if i < len(optax_args))
        contenders.append(
            _jax_contender("optax", row.optax.fn, optax_args, {}, mode, optax_wrt, env, peer=True, note=row.optax.note)
        )
    results = measure(contenders, cfg.timing)
    apply_floor(results, group["floor_s"])
    group["status"] = "ok"
    group["results"] = results
    return group


def run_losses(env: Env, cfg: Config) -> list[dict[str, Any]]:
    """Largest size first, so a spent torch.compile budget costs the small, dispatch-bound rows."""
    budget = CompileBudget(cfg.compile_budget)
    groups = []
    rows = [r for r in LOSSES if cfg.selects("losses", r.name)]
    fixed_done: set[str] = set()
    for n in sorted(cfg.loss_sizes, reverse=True):
        for row in rows:
            if row.fixed_size:
                if row.name in fixed_done:
                    continue
                fixed_done.add(row.name)
            args = row.make(n, np.random.default_rng(0))
            for mode in cfg.modes:
                groups.append(_group(row, args, mode, env, cfg, budget))
                env.log(groups[-1])
    return groups
