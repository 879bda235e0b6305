"""What a run measures (quick and full presets, ``--only`` selection) and where it runs."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jax

from .floor import Floor
from .harness import Timing

SUITES = ("losses", "training", "dispatch", "memory", "transformer", "recurrent", "spatial")
TRAIN_CONFIGS = ("tiny", "mlp128", "mlp1024", "cnn64")
# Row names of the model-family suites, for --only.
FAMILY_ROWS = {"transformer": ("encoder", "lce"), "recurrent": ("lstm", "gru"), "spatial": ("conv3d", "unet2d")}


@dataclass
class Config:
    """Everything that sizes a run. ``preset(quick)`` gives the two documented modes."""

    quick: bool = False
    device: str = "cpu"
    only: tuple[str, ...] = ()
    loss_sizes: tuple[int, ...] = (10**4, 10**6, 10**7)
    timing: Timing = field(default_factory=Timing)
    torch_compile: bool = True
    compile_timeout: float = 120.0
    compile_budget: float = 150.0
    train_configs: tuple[str, ...] = TRAIN_CONFIGS
    scan_scale: float = 1.0
    scan_unroll: int | bool = 1
    modes: tuple[str, ...] = ("fwd", "fwd+bwd")
    memory_steps: int = 10
    memory_config: str = "mlp1024"
    floor_mib: int = 256
    gemm_n: int = 2048
    # Model-family suites: every size (width, sequence, batch, classes) times this.
    family_scale: float = 1.0

    @classmethod
    def preset(cls, quick: bool, **overrides: Any) -> "Config":
        if quick:
            base = cls(
                quick=True,
                loss_sizes=(10**5,),
                timing=Timing(rounds=3, min_sample_s=0.01, warmup=1),
                modes=("fwd+bwd",),
                torch_compile=False,
                train_configs=("tiny", "mlp128"),
                scan_scale=0.25,
                memory_steps=3,
                floor_mib=64,
                gemm_n=1024,
                family_scale=0.25,
            )
        else:
            base = cls()
        return dataclasses.replace(base, **overrides)

    def selects(self, suite: str, name: Optional[str] = None) -> bool:
        """``--only`` tokens name a suite or a row; a token selects rows whose name starts with it.

        Without ``--only``, quick mode leaves out the memory suite (a fresh
        process per contender costs more than the minute quick mode has) and
        the model-family suites (their compiles alone take longer).
        """
        if not self.only:
            return not (self.quick and (suite == "memory" or suite in FAMILY_ROWS))
        if suite in self.only:
            return True
        if name is None:
            return False
        return any(name == token or name.startswith(token) for token in self.only)

    def runs(self, suite: str, names: tuple[str, ...]) -> bool:
        return self.selects(suite) or any(self.selects(suite, n) for n in names)


@dataclass
class Env:
    """The devices a run uses, the measured floor, and a progress log on stderr."""

    device: str
    jax_device: jax.Device
    torch_device: Optional[str]
    floor: Floor
    log: Callable[[dict[str, Any]], None] = lambda group: None


_clock = [time.perf_counter()]


def progress(group: dict[str, Any]) -> None:
    """One stderr line per finished group with its wall time, so a long run shows where it is."""
    now = time.perf_counter()
    parts = [f"[{now - _clock[0]:5.1f}s]", group["suite"], group["name"], group.get("mode", "")]
    _clock[0] = now
    timed = [f"{r.contender}={r.median_s * 1e3:.3g}ms" for r in group.get("results", []) if r.median_s]
    print("  ".join(p for p in parts if p), *timed, group.get("status", ""), file=sys.stderr, flush=True)
