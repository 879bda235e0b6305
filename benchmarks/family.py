"""What the model-family suites (transformer, recurrent, spatial) share: jaxnn's two step
drivers and a torch training step, as harness contenders on one (x, y) batch."""

from __future__ import annotations

import copy
from typing import Any, Callable

import jax.numpy as jnp
import numpy as np
import torch

import jaxnn

from .config import Config, Env
from .harness import Contender


def jaxnn_contenders(make_model: Callable[[], jaxnn.Module], criterion, optimizer, x: np.ndarray, y: np.ndarray,
                     scan_steps: int) -> list[Contender]:
    """``make_train_step`` (one jitted call a step) and ``make_multi_step`` (``scan_steps`` steps a call)."""

    def stateful(driver, state, data):
        cell = [state]

        def run():
            *new, metrics = driver(*cell[0], data)
            cell[0] = tuple(new)
            return metrics

        return run

    def build(multi: bool):
        def go():
            graphdef, params, rest = jaxnn.training.split_model(make_model())
            state = (params, rest, optimizer.init(params))
            if multi:
                driver = jaxnn.training.make_multi_step(graphdef, criterion, optimizer)
                batches = (jnp.asarray(np.stack([x] * scan_steps)), jnp.asarray(np.stack([y] * scan_steps)))
                return stateful(driver, state, batches)
            return stateful(jaxnn.training.make_train_step(graphdef, criterion, optimizer), state,
                            (jnp.asarray(x), jnp.asarray(y)))

        return go

    return [
        Contender("jaxnn step", build(False), peer=False),
        Contender("jaxnn scan", build(True), peer=False, units=scan_steps),
    ]


class WithLoss(torch.nn.Module):
    """Model and MSE loss as one module, so torch.compile sees both."""

    def __init__(self, model: torch.nn.Module, pick: Callable[[Any], torch.Tensor] = lambda out: out):
        super().__init__()
        self.model, self.pick = model, pick

    def forward(self, x, y):
        return torch.nn.functional.mse_loss(self.pick(self.model(x)), y)


def torch_step(model: torch.nn.Module, make_opt, x: np.ndarray, y: np.ndarray, env: Env,
               pick: Callable[[Any], torch.Tensor] = lambda out: out):
    """``make_run(transform)`` for :func:`benchmarks.peers.torch_contenders`: a fresh copy of ``model`` each."""

    def make_run(transform):
        module = WithLoss(copy.deepcopy(model).to(env.torch_device).train(), pick)
        opt = make_opt(module.parameters())
        forward = transform(module)
        tx, ty = torch.from_numpy(x).to(env.torch_device), torch.from_numpy(y).to(env.torch_device)

        def run():
            opt.zero_grad(set_to_none=True)
            loss = forward(tx, ty)
            loss.backward()
            opt.step()
            return loss

        return run

    return make_run


def group(suite: str, name: str, cfg: Config, **extra: Any) -> dict[str, Any]:
    return {"suite": suite, "name": name, "floor_s": None, "notes": [], "status": "ok", **extra}
