"""torch eager and torch.compile as contenders, with torch.compile time-boxed and budgeted."""

from __future__ import annotations

import time
from typing import Any, Callable

import torch

from .config import Config, Env
from .harness import Contender, NotAvailable, Skipped, sync, time_box

# make_run(transform) builds one torch step with its callable passed through
# ``transform`` (identity for eager, torch.compile for compiled).
MakeRun = Callable[[Callable[[Callable], Callable]], Callable[[], Any]]


class CompileBudget:
    """Seconds left for torch.compile in one suite; once spent, later groups are skipped."""

    def __init__(self, seconds: float):
        self.left = seconds

    def box(self, per_call: float) -> float:
        if self.left <= 0:
            raise Skipped("torch.compile time budget for this suite spent")
        return min(per_call, self.left)

    def charge(self, seconds: float) -> None:
        self.left -= seconds


def configure_torch(cores: int) -> None:
    """torch on every core, and room for one compiled graph per benchmark row.

    Dynamo caches compiled graphs per code object; the default limit of 8
    would silently send later rows of a suite back to eager.
    """
    torch.set_num_threads(cores)
    import torch._dynamo.config as dynamo_config

    dynamo_config.recompile_limit = 1024
    dynamo_config.accumulated_recompile_limit = 4096


def _compile(fn: Callable) -> Callable:
    return torch.compile(fn, dynamic=False)


def require_device(env: Env) -> None:
    """Raises :class:`NotAvailable` when torch cannot reach the run's device (CPU-only torch, ``--device gpu``)."""
    if env.torch_device is None:
        raise NotAvailable("torch has no CUDA device")


def torch_contenders(make_run: MakeRun, env: Env, budget: CompileBudget, cfg: Config) -> list[Contender]:
    """torch eager and torch.compile doing the same work."""

    def eager():
        require_device(env)
        return make_run(lambda fn: fn)

    def compiled():
        require_device(env)
        if not cfg.torch_compile:
            raise Skipped("torch.compile off (--quick or --no-compile)")
        start = time.perf_counter()
        try:
            with time_box(budget.box(cfg.compile_timeout)):
                run = make_run(_compile)
                sync(run())
        finally:
            budget.charge(time.perf_counter() - start)
        return run

    return [Contender("torch eager", eager, peer=True), Contender("torch.compile", compiled, peer=True)]
