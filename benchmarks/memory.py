"""Suite 4: peak resident memory of each training contender, one fresh process each.

Each child builds one contender at the largest configuration, runs its steps
and reports its RSS just before the contender was built (imports, data and
the reference torch model) and the peak RSS from then on (the kernel's
high-water mark, reset through ``/proc/self/clear_refs``; ``ru_maxrss`` since
process start where that is not allowed), so the difference is what that
contender itself added. On a GPU the children also
report peak device memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Optional, Sequence

from .config import Config

_MARK = "MEMORY-RESULT "


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Resets the kernel's high-water mark (VmHWM) to the current RSS, so imports don't set the peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_memory(cfg: Config, log=lambda group: None, contenders: Optional[Sequence[str]] = None) -> list[dict[str, Any]]:
    """One child process per training contender (default: all of them) at ``cfg.memory_config``."""
    from .training import CONTENDERS

    rows = []
    for name in CONTENDERS if contenders is None else contenders:
        command = [
            sys.executable, "-m", "benchmarks.memory", "--contender", name, "--config", cfg.memory_config,
            "--steps", str(cfg.memory_steps), "--device", cfg.device,
            "--compile-timeout", str(cfg.compile_timeout), *(["--no-compile"] if not cfg.torch_compile else []),
        ]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=cfg.compile_timeout + 120,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
            row = json.loads(lines[-1][len(_MARK):]) if lines else {
                "status": f"failed: exit {done.returncode}: {(done.stderr.strip().splitlines() or [''])[-1][:160]}"
            }
        except subprocess.TimeoutExpired:
            row = {"status": "failed: child process timed out"}
        row.update(contender=name, wall_s=time.perf_counter() - start)
        rows.append(row)
    group = {"suite": "memory", "name": cfg.memory_config, "steps": cfg.memory_steps, "status": "ok", "rows": rows}
    log(group)
    return [group]


def _child(args: argparse.Namespace) -> dict[str, Any]:
    import jax
    import torch

    from .config import Env
    from .floor import Floor
    from .harness import NotAvailable, Skipped, cores, reason, sync, use_cuda
    from .peers import CompileBudget, configure_torch
    from .training import train_contenders

    configure_torch(cores())
    use_cuda(args.device == "gpu" and torch.cuda.is_available())
    cfg = Config(device=args.device, torch_compile=not args.no_compile, compile_timeout=args.compile_timeout)
    # The child measures memory only; the floor is not used.
    nominal = Floor.nominal()
    torch_device = "cpu" if args.device == "cpu" else ("cuda" if torch.cuda.is_available() else None)
    env = Env(args.device, jax.devices(args.device)[0], torch_device, nominal)
    contenders, _ = train_contenders(args.config, env, cfg, CompileBudget(args.compile_timeout))
    contender = next(c for c in contenders if c.name == args.contender)
    before = _status_mib("VmRSS")
    reset = _reset_peak()
    try:
        run = contender.build()
        for _ in range(max(1, args.steps // contender.units)):
            sync(run())
    except (NotAvailable, Skipped) as error:
        kind = "not available" if isinstance(error, NotAvailable) else "skipped"
        return {"status": f"{kind}: {error}"}
    except Exception as error:
        return {"status": f"failed: {reason(error)}"}
    row = {
        "status": "ok",
        "rss_before_mib": before,
        "peak_rss_mib": _status_mib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_since": "contender build" if reset else "process start",
    }
    row["added_mib"] = row["peak_rss_mib"] - before
    if args.device == "gpu":
        stats = jax.devices("gpu")[0].memory_stats() or {}
        row["jax_peak_device_mib"] = stats.get("peak_bytes_in_use", 0) / 2**20
        if torch.cuda.is_available():
            row["torch_peak_device_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description="one memory-suite child: build a contender, run it, report peak RSS")
    parser.add_argument("--contender", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile-timeout", type=float, default=120.0)
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    print(_MARK + json.dumps(_child(args)), flush=True)


if __name__ == "__main__":
    main()
