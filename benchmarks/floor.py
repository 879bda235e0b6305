"""The machine's limits, measured once per run: memory bandwidth and GEMM rate.

Read bandwidth comes from a large read-only reduction (``x.sum()``), copy
bandwidth from ``y.copy_(x)`` / a jitted copy; both on arrays far larger than
the caches. The best of JAX and torch over several tries is kept, since the
floor is what the hardware can do, not what one library reaches. A write
costs what a copy costs beyond its read: ``1/write_bw = t_copy/N - 1/read_bw``.

A function that returns a new array (a gradient) writes into memory its
allocator just obtained. With glibc's malloc an allocation past 32 MiB is a
fresh ``mmap``, and the kernel zero-fills every page on first touch: on the
reference machine that costs ~10x the write itself, for JAX and torch alike
(smaller blocks are reused from the heap).
``fresh_write_gbs`` measures writing into new memory (``-x`` allocating its
result, best of JAX and torch), and ``memory_fresh_s`` is the floor of a
computation whose outputs are new arrays. An allocator that keeps freed pages
(``LD_PRELOAD`` tcmalloc or jemalloc) brings it close to ``write_gbs``; the
report header names the allocator in use.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import torch

from .harness import sync


# glibc's largest mmap threshold: an allocation this size or larger always gets fresh pages from the kernel.
FRESH_MIN_BYTES = 32 * 2**20


@dataclass
class Floor:
    read_gbs: float
    copy_gbs: float
    write_gbs: float
    fresh_write_gbs: float
    gemm_gflops: float
    array_mib: int
    gemm_n: int

    @classmethod
    def nominal(cls) -> "Floor":
        """A placeholder of unit rates, for processes that measure something else (the memory suite)."""
        return cls(read_gbs=1.0, copy_gbs=1.0, write_gbs=1.0, fresh_write_gbs=1.0, gemm_gflops=1.0, array_mib=0, gemm_n=0)

    def memory_s(self, read_bytes: float, write_bytes: float = 0.0) -> float:
        """Seconds to read and write these bytes at the measured bandwidths."""
        return read_bytes / (self.read_gbs * 1e9) + write_bytes / (self.write_gbs * 1e9)

    def memory_fresh_s(self, read_bytes: float, output_bytes: Sequence[float] = ()) -> float:
        """As :meth:`memory_s`, each output a newly allocated array.

        Outputs of at least ``FRESH_MIN_BYTES`` are written at the fresh-page
        rate; smaller ones come from memory the allocator keeps and reuses.
        """
        large = sum(b for b in output_bytes if b >= FRESH_MIN_BYTES)
        small = sum(output_bytes) - large
        return self.memory_s(read_bytes, small) + large / (self.fresh_write_gbs * 1e9)

    def compute_s(self, flops: float) -> float:
        return flops / (self.gemm_gflops * 1e9)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _best(fn: Callable[[], Any], tries: int) -> float:
    sync(fn())
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        sync(fn())
        best = min(best, time.perf_counter() - start)
    return best


def measure_floor(device: str, array_mib: int = 256, gemm_n: int = 2048, tries: int = 5) -> Floor:
    """Measures read/copy bandwidth and the float32 GEMM rate on ``device`` ('cpu' or 'gpu')."""
    n = array_mib * 2**20 // 4
    nbytes = n * 4
    jax_device = jax.devices(device)[0]
    torch_device = "cuda" if device == "gpu" else "cpu"
    torch_ok = device == "cpu" or torch.cuda.is_available()

    x = jax.device_put(jnp.arange(n, dtype=jnp.float32), jax_device)
    read_t = [_best(functools.partial(_jax_sum, x), tries)]
    copy_t = [_best(functools.partial(_jax_copy, x), tries)]
    fresh_t = list(copy_t)  # the jitted copy allocates its result
    del x
    if torch_ok:
        tx = torch.arange(n, dtype=torch.float32, device=torch_device)
        ty = torch.empty_like(tx)
        read_t.append(_best(lambda: tx.sum(), tries))
        copy_t.append(_best(lambda: ty.copy_(tx), tries))
        fresh_t.append(_best(lambda: torch.neg(tx), tries))
        del tx, ty

    rng = np.random.default_rng(0)
    a = rng.standard_normal((gemm_n, gemm_n), dtype=np.float32)
    ja = jax.device_put(a, jax_device)
    gemm_t = [_best(lambda: _jax_dot(ja, ja), tries)]
    if torch_ok:
        ta = torch.from_numpy(a).to(torch_device)
        gemm_t.append(_best(lambda: ta @ ta, tries))

    read_bw = nbytes / min(read_t)
    copy_bw = 2 * nbytes / min(copy_t)
    write_cost = min(copy_t) / nbytes - 1 / read_bw
    write_bw = 1 / write_cost if write_cost > 0 else read_bw
    fresh_cost = min(fresh_t) / nbytes - 1 / read_bw
    fresh_bw = min(write_bw, 1 / fresh_cost) if fresh_cost > 0 else write_bw
    return Floor(
        read_gbs=read_bw / 1e9,
        copy_gbs=copy_bw / 1e9,
        write_gbs=write_bw / 1e9,
        fresh_write_gbs=fresh_bw / 1e9,
        gemm_gflops=2 * gemm_n**3 / min(gemm_t) / 1e9,
        array_mib=array_mib,
        gemm_n=gemm_n,
    )


@jax.jit
def _jax_sum(x: jax.Array) -> jax.Array:
    return jnp.sum(x)


@jax.jit
def _jax_copy(x: jax.Array) -> jax.Array:
    # A negation, not ``x + 0``: XLA folds the identity away and returns the input buffer.
    return -x


@jax.jit
def _jax_dot(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.dot(a, b, precision="highest")
