"""Data parallelism with ``jax.sharding``: the same jitted step over a device mesh.

The step functions of :mod:`jaxnn.training.step` are plain ``jax.jit``
functions, and jit follows its inputs' shardings: put the batch sharded along
the mesh's data axis and the state replicated (or sharded, FSDP-style), and
XLA partitions the step, turning the batch mean of the gradient into an
all-reduce across devices. No separate parallel step is needed.

Multi-host: call ``jax.distributed.initialize()`` in every process before
anything else, build the mesh over ``jax.devices()`` (all hosts' devices), and
have each process build its slice of the global batch with
``jax.make_array_from_process_local_data(batch_sharding(mesh), local_batch)``
instead of :func:`shard_batch`; the rest is unchanged.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["data_mesh", "batch_sharding", "shard_batch", "process_batch", "replicate", "fsdp_shard"]


def data_mesh(devices: Sequence[jax.Device] | None = None, axis_name: str = "data") -> Mesh:
    """A one-axis mesh over ``devices`` (default: all of ``jax.devices()``)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (axis_name,))


def batch_sharding(mesh: Mesh, axis: int = 0) -> NamedSharding:
    """Array axis ``axis`` (the batch axis) split over the mesh's first axis, other axes whole."""
    return NamedSharding(mesh, PartitionSpec(*([None] * axis), mesh.axis_names[0]))


def _put(a: Any, sharding: NamedSharding) -> Any:
    """``jax.device_put``, or -- for a mesh spanning processes, where it cannot reach the other hosts'
    devices -- each process building its devices' pieces from its own (equal) copy of the value."""
    if sharding.is_fully_addressable:
        return jax.device_put(a, sharding)
    if jax.dtypes.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key):
        return jax.random.wrap_key_data(_put(jax.random.key_data(a), sharding), impl=jax.random.key_impl(a))
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every leaf copied whole to every device of ``mesh`` (of every process, after ``jax.distributed``)."""
    whole = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda a: _put(a, whole), tree)


def shard_batch(batch: Any, mesh: Mesh, axis: int = 0) -> Any:
    """Each leaf's batch axis (``axis``: 0, or 1 for a stack of batches) split across the mesh.

    A leaf whose batch size the device count does not divide (the short last
    batch of an epoch) is replicated instead: the step is then computed whole
    on every device, with the same numbers.
    """
    n = mesh.devices.size
    split, whole = batch_sharding(mesh, axis), NamedSharding(mesh, PartitionSpec())

    def put(a):
        a = np.asarray(a) if not isinstance(a, jax.Array) else a
        return jax.device_put(a, split if a.ndim > axis and a.shape[axis] % n == 0 else whole)

    return jax.tree.map(put, batch)


def process_batch(batch: Any, mesh: Mesh, axis: int = 0) -> Any:
    """One global batch from every process's local rows (multi-process, after ``jax.distributed.initialize``).

    Each process passes its own slice of the global batch (the same size in
    every process); the global batch is the slices in process order, split
    over the mesh's data axis. ``jax.make_array_from_process_local_data``.
    """
    sharding = batch_sharding(mesh, axis)
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), batch)


def fsdp_shard(tree: Any, mesh: Mesh, min_size: int = 1024) -> Any:
    """Shards each leaf of at least ``min_size`` elements along its largest axis the device count divides.

    For parameters and optimizer state (FSDP / ZeRO-3 style): each device holds
    a slice, and XLA gathers a parameter where the step needs it whole. The rule
    depends on shapes only, so an optimizer moment lands where its parameter
    does. Small leaves and leaves with no divisible axis are replicated.
    """
    n, axis = mesh.devices.size, mesh.axis_names[0]

    def put(a):
        spec = PartitionSpec()
        shape = getattr(a, "shape", ())
        if math.prod(shape) >= min_size:
            candidates = [d for d in np.argsort(shape)[::-1] if shape[d] % n == 0]
            if candidates:
                spec = PartitionSpec(*[axis if d == candidates[0] else None for d in range(len(shape))])
        return _put(a, NamedSharding(mesh, spec))

    return jax.tree.map(put, tree)
