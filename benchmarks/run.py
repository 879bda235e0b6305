"""Command line: measure the floor, run the selected suites, print the table, write JSON and plots."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import shutil
import sys
import time
from typing import Any

import jax
import torch

from . import report as report_mod
from .config import FAMILY_ROWS, SUITES, Config, Env, progress
from .floor import measure_floor
from .harness import cores, machine, use_cuda
from .peers import configure_torch

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


class NoDevice(RuntimeError):
    """``--device gpu`` without a CUDA GPU."""


def _devices(device: str) -> tuple[jax.Device, Any]:
    if device == "cpu":
        return jax.devices("cpu")[0], "cpu"
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:
        gpu = None
    if gpu is None and not torch.cuda.is_available():
        raise NoDevice(
            f"--device gpu: no CUDA GPU is available (JAX sees {[str(d) for d in jax.devices()]}, "
            f"torch.cuda.is_available() is False)"
        )
    if gpu is None:
        raise NoDevice("--device gpu: torch sees a CUDA GPU but JAX has no GPU backend (install jax[cuda12])")
    return gpu, ("cuda" if torch.cuda.is_available() else None)


def _settle() -> None:
    """Between suites: stop torch.compile's compile workers and free the last suite's arrays.

    Left running after the losses suite (dozens of compiled kernels), they made
    the next suite's dispatch-bound rows (the tiny model) up to 2x slower in
    some runs and not in others.
    """
    try:
        from torch._inductor.async_compile import shutdown_compile_workers

        shutdown_compile_workers()
    except Exception:  # an older or newer torch without it: nothing to stop
        pass
    gc.collect()


def run_benchmarks(cfg: Config, log=progress) -> dict[str, Any]:
    """Runs the suites ``cfg`` selects and returns the report (machine, floor, groups)."""
    from .losses import run_losses
    from .loss_table import LOSSES
    from .memory import run_memory
    from .models import CONFIGS
    from .training import run_dispatch, run_training

    jax_device, torch_device = _devices(cfg.device)
    configure_torch(cores())
    use_cuda(torch_device == "cuda")
    info = machine(cfg.device)
    start = time.perf_counter()
    floor = measure_floor(cfg.device, cfg.floor_mib, cfg.gemm_n)
    env = Env(cfg.device, jax_device, torch_device, floor, log)
    suites: dict[str, list] = {}
    with jax.default_device(jax_device):
        if cfg.runs("losses", tuple(r.name for r in LOSSES)):
            suites["losses"] = run_losses(env, cfg)
            _settle()
        if cfg.runs("training", tuple(CONFIGS)):
            suites["training"] = run_training(env, cfg)
        if cfg.selects("dispatch"):
            suites["dispatch"] = run_dispatch(env, cfg)
        if cfg.selects("memory"):
            suites["memory"] = run_memory(cfg, log)
        for suite, run_family in _families().items():
            if cfg.runs(suite, FAMILY_ROWS[suite]):
                _settle()
                suites[suite] = run_family(env, cfg)
    info["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "mode": "quick" if cfg.quick else "full",
        "machine": info,
        "floor": floor.as_dict(),
        "timing": dataclasses.asdict(cfg.timing),
        "wall_s": time.perf_counter() - start,
        "suites": suites,
    }


def _families() -> dict[str, Any]:
    from .recurrent import run_recurrent
    from .spatial import run_spatial
    from .transformer import run_transformer

    return {"transformer": run_transformer, "recurrent": run_recurrent, "spatial": run_spatial}


def _names() -> tuple[str, ...]:
    """Every name ``--only`` accepts: suites, losses and training configurations."""
    from .loss_table import LOSSES
    from .models import CONFIGS

    return (*SUITES, *(r.name for r in LOSSES), *CONFIGS, *(row for rows in FAMILY_ROWS.values() for row in rows))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about a minute: one loss size, no torch.compile")
    parser.add_argument(
        "--only", default="",
        help=f"comma-separated suites ({', '.join(SUITES)}) or row names (a loss, or a training config "
        "such as mlp128; a prefix selects all rows starting with it)",
    )
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--json", default=None, help="where to write the JSON (default benchmarks/results/<mode>.json)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile contenders")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per row (default 5, quick 3)")
    parser.add_argument(
        "--scan-unroll", default="1",
        help="make_multi_step's unroll for the 'jaxnn scan' contender: a number of steps per loop "
        "iteration, or 'all' (default 1: the plain loop)",
    )
    parser.add_argument(
        "--label", default="",
        help="appended to the output names (table-cpu-LABEL.md, plots -LABEL.png), e.g. the allocator "
        "or XLA flags a run was made with, so that it does not overwrite the plain run",
    )
    parser.add_argument(
        "--reference", action="store_true",
        help="also copy the table and plots to benchmarks/results/reference/ (the committed reference run)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.label and not args.label.replace("-", "").replace("_", "").isalnum():
        _parser().error(f"--label must be letters, digits, '-' or '_', got {args.label!r}")
    overrides: dict[str, Any] = {"device": args.device, "only": tuple(t for t in args.only.split(",") if t)}
    if args.no_compile:
        overrides["torch_compile"] = False
    if args.scan_unroll != "1":
        if args.scan_unroll != "all" and not (args.scan_unroll.isdigit() and int(args.scan_unroll) >= 1):
            _parser().error(f"--scan-unroll must be a positive number of steps or 'all', got {args.scan_unroll!r}")
        overrides["scan_unroll"] = True if args.scan_unroll == "all" else int(args.scan_unroll)
    cfg = Config.preset(args.quick, **overrides)
    unknown = [token for token in cfg.only if not any(n == token or n.startswith(token) for n in _names())]
    if unknown:
        _parser().error(f"--only {','.join(unknown)}: no suite or row of that name ({', '.join(_names())})")
    if args.rounds:
        cfg = dataclasses.replace(cfg, timing=dataclasses.replace(cfg.timing, rounds=args.rounds))
    try:
        result = run_benchmarks(cfg)
    except NoDevice as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    table = report_mod.markdown(result)
    print(table)
    os.makedirs(RESULTS, exist_ok=True)
    suffix = f"-{args.device}" + ("-quick" if args.quick else "") + (f"-{args.label}" if args.label else "")
    json_path = args.json or os.path.join(RESULTS, f"benchmarks{suffix}.json")
    with open(json_path, "w") as f:
        f.write(report_mod.to_json(result))
    with open(os.path.join(RESULTS, f"table{suffix}.md"), "w") as f:
        f.write(table + "\n")
    pictures = report_mod.plots(result, RESULTS, f"-{args.label}" if args.label else "")
    if args.reference:
        reference = os.path.join(RESULTS, "reference")
        os.makedirs(reference, exist_ok=True)
        shutil.copy(os.path.join(RESULTS, f"table{suffix}.md"), os.path.join(reference, f"table{suffix}.md"))
        for path in pictures:
            shutil.copy(path, reference)
    print(f"\nJSON: {json_path}; plots: {', '.join(pictures) or 'none'}", file=sys.stderr)


if __name__ == "__main__":
    main()
