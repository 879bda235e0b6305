"""The timing method shared by every suite.

A group is a set of contenders doing the same work. Each contender's first
call (trace + compile for JAX and torch.compile) is timed on its own and
reported apart; warm-up calls follow (their times are kept in the JSON, so a
late recompilation shows) and one more call sizes the samples; then the
contenders are timed in interleaved rounds (A B C A B C ...) so that machine
drift -- other processes, frequency changes -- hits all of them alike. Every
sample times ``inner`` back-to-back calls, each one synchronised (JAX results
through ``jax.block_until_ready``, CUDA through ``torch.cuda.synchronize``),
and the report gives the median with the min and max over rounds.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jax


class NotAvailable(Exception):
    """The contender cannot run here (missing function, missing device); not a failure."""


class Skipped(Exception):
    """The contender was deliberately not run (quick mode, spent compile budget)."""


class CompileTimeout(Exception):
    """The first call ran past its time box."""


@dataclass
class Contender:
    """One way of doing a group's work.

    ``build`` prepares inputs and compiled functions and returns ``run``, a
    zero-argument callable doing one unit of work and returning something to
    synchronise on. ``peer`` marks contenders from other libraries (the
    denominators of "ratio to best peer"). ``units`` is how many steps one
    call does (the scan driver runs many per call); times are per unit.
    ``time_box`` limits build + first call in seconds (torch.compile).
    """

    name: str
    build: Callable[[], Callable[[], Any]]
    peer: bool
    units: int = 1
    time_box: Optional[float] = None
    note: str = ""


@dataclass
class Result:
    contender: str
    peer: bool
    status: str = "ok"
    median_s: Optional[float] = None
    min_s: Optional[float] = None
    max_s: Optional[float] = None
    first_call_s: Optional[float] = None
    compile_s: Optional[float] = None
    warmup_s: list[float] = field(default_factory=list)
    inner: int = 0
    samples: list[float] = field(default_factory=list)
    note: str = ""
    ratio_best_peer: Optional[float] = None
    ratio_floor: Optional[float] = None


@dataclass
class Timing:
    """How hard to measure: rounds of interleaved samples, seconds per sample, warm-up calls."""

    rounds: int = 5
    min_sample_s: float = 0.02
    warmup: int = 1
    max_inner: int = 5000


_cuda_sync = False


def use_cuda(flag: bool) -> None:
    """Makes :func:`sync` also wait for torch's CUDA stream (``--device gpu``)."""
    global _cuda_sync
    _cuda_sync = flag


def sync(out: Any) -> Any:
    """Waits until ``out`` is computed: JAX dispatch is asynchronous, CUDA kernels too."""
    jax.block_until_ready(out)
    if _cuda_sync:
        sys.modules["torch"].cuda.synchronize()
    return out


@contextlib.contextmanager
def time_box(seconds: Optional[float]):
    """Raises :class:`CompileTimeout` inside the block after ``seconds`` (main thread only).

    SIGALRM interrupts Python-level work, including waits on torch.compile's
    compiler subprocesses, so a stuck compile is reported instead of hanging the run.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise CompileTimeout(f"first call exceeded {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def reason(error: BaseException) -> str:
    """The first line of an exception with its type, short enough for a table note."""
    text = f"{type(error).__name__}: {error}".strip().splitlines()[0]
    return text[:160]


def _start(contender: Contender, timing: Timing, result: Result) -> Optional[Callable[[], Any]]:
    """Builds, times the first call, warms up and picks ``inner``; returns None if it cannot run."""
    try:
        with time_box(contender.time_box):
            start = time.perf_counter()
            run = contender.build()
            sync(run())
            result.first_call_s = time.perf_counter() - start
        for _ in range(timing.warmup + 1):
            start = time.perf_counter()
            sync(run())
            result.warmup_s.append(time.perf_counter() - start)
    except NotAvailable as error:
        result.status = f"not available: {error}"
        return None
    except Skipped as error:
        result.status = f"skipped: {error}"
        return None
    except Exception as error:  # a contender that breaks is reported, the run goes on
        result.status = f"failed: {reason(error)}"
        return None
    # The extra call after the warm-up sizes the samples: a warm-up call may still compile.
    last = result.warmup_s[-1]
    result.inner = max(1, min(timing.max_inner, math.ceil(timing.min_sample_s / max(last, 1e-9))))
    return run


def measure(contenders: list[Contender], timing: Timing, order: Optional[list[str]] = None) -> list[Result]:
    """Times ``contenders`` on the same work, interleaved; returns one :class:`Result` each.

    ``order``, when given, records the sequence of timed samples by contender
    name (the smoke test checks the interleaving with it).
    """
    results = [Result(c.name, c.peer, note=c.note) for c in contenders]
    runs = [_start(c, timing, r) for c, r in zip(contenders, results)]
    live = [i for i, run in enumerate(runs) if run is not None]
    for _ in range(timing.rounds):
        for i in list(live):
            run, result = runs[i], results[i]
            try:
                start = time.perf_counter()
                for _ in range(result.inner):
                    sync(run())
                elapsed = time.perf_counter() - start
            except Exception as error:
                result.status = f"failed: {reason(error)}"
                live.remove(i)
                continue
            result.samples.append(elapsed / result.inner / contenders[i].units)
            if order is not None:
                order.append(result.contender)
    for i in live:
        result, units = results[i], contenders[i].units
        result.median_s = statistics.median(result.samples)
        result.min_s, result.max_s = min(result.samples), max(result.samples)
        result.compile_s = max(0.0, result.first_call_s - result.median_s * units)
    _ratios(results)
    return results


def _ratios(results: list[Result]) -> None:
    """Time over the fastest peer's time: below 1 beats every other library."""
    peers = [r.median_s for r in results if r.peer and r.median_s is not None]
    if not peers:
        return
    best = min(peers)
    for r in results:
        if r.median_s is not None:
            r.ratio_best_peer = r.median_s / best


def apply_floor(results: list[Result], floor_s: Optional[float]) -> None:
    if not floor_s:
        return
    for r in results:
        if r.median_s is not None:
            r.ratio_floor = r.median_s / floor_s


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cache() -> str:
    """Size of the largest cache level of CPU 0, as the kernel reports it (e.g. '32768K')."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        levels = sorted(d for d in os.listdir(base) if d.startswith("index"))
        with open(os.path.join(base, levels[-1], "size")) as f:
            return f.read().strip()
    except (OSError, IndexError):
        return ""


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _allocator() -> str:
    """The malloc this process uses: a preloaded tcmalloc/jemalloc/mimalloc, else the C library's."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "system malloc"
    for name in ("tcmalloc", "jemalloc", "mimalloc"):
        if f"lib{name}" in maps:
            return name + (" (LD_PRELOAD)" if name in os.environ.get("LD_PRELOAD", "") else "")
    return "glibc malloc" if "libc.so" in maps else "system malloc"


def machine(device: str) -> dict[str, Any]:
    """CPU model, cores, memory, load and library versions for the report header."""
    import flax
    import numpy
    import optax
    import torch

    import jaxnn

    info: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join([os.path.basename(sys.executable), "-m", "benchmarks", *sys.argv[1:]]),
        "device": device,
        "cpu": _cpu_model(),
        "cores": cores(),
        "cache": _cache(),
        "torch_threads": torch.get_num_threads(),
        "allocator": _allocator(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": getattr(__import__("jaxlib"), "__version__", "?"),
        "flax": flax.__version__,
        "optax": optax.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "jaxnn": f"{jaxnn.__version__} ({_git_commit()})",
        "jax_devices": [str(d) for d in jax.devices()],
    }
    if device == "gpu":
        info["gpu"] = jax.devices("gpu")[0].device_kind
        if torch.cuda.is_available():
            info["torch_gpu"] = torch.cuda.get_device_name(0)
    return info
