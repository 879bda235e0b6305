"""The data side of :func:`jaxnn.fit`: datasets as batches, epoch orders, blocks of batches, device placement."""

from __future__ import annotations

import threading
from queue import Queue
from typing import Any, Callable, Iterable, Iterator

import jax
import numpy as np

__all__ = ["Data", "blocks", "samples", "prefetch"]


def _to_host(a: Any) -> Any:
    if hasattr(a, "detach") and hasattr(a, "numpy"):
        return a.detach().cpu().numpy()
    return a


def _as_batch(item: Any) -> tuple[Any, Any]:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise TypeError(f"each batch must be a pair (inputs, target), got {type(item).__name__}")
    return jax.tree.map(_to_host, (item[0], item[1]))


def _is_array_dataset(data: Any) -> bool:
    if not isinstance(data, tuple) or len(data) != 2:
        return False
    leaves = jax.tree.leaves(jax.tree.map(_to_host, data))
    return bool(leaves) and all(getattr(a, "ndim", 0) >= 1 for a in leaves)


class Data:
    """A dataset as ``(inputs, target)`` arrays (batched here, reshuffled each epoch) or an iterable of batches."""

    def __init__(self, data: Any, batch_size: int, shuffle: bool, name: str):
        self.name, self.batch_size, self.shuffle = name, batch_size, shuffle
        if _is_array_dataset(data):
            self.arrays = jax.tree.map(_to_host, data)
            sizes = {a.shape[0] for a in jax.tree.leaves(self.arrays)}
            if len(sizes) != 1:
                raise ValueError(
                    f"{name}: inputs and target must have the same length on axis 0, got sizes {sorted(sizes)}"
                )
            self.size = sizes.pop()
            if self.size == 0:
                raise ValueError(f"{name} is empty")
        elif isinstance(data, Iterable):
            self.arrays, self.iterable = None, data
        else:
            raise TypeError(
                f"{name} must be a tuple (inputs, target) of arrays or an iterable of batches, "
                f"got {type(data).__name__}"
            )

    def __len__(self) -> int:
        if self.arrays is not None:
            return -(-self.size // self.batch_size)
        return len(self.iterable)  # type: ignore[arg-type]

    def has_len(self) -> bool:
        return self.arrays is not None or hasattr(self.iterable, "__len__")

    def epoch(self, epoch: int, seed: int) -> Iterator[tuple[Any, Any]]:
        """The batches of 0-based pass ``epoch``; shuffled from ``(seed, epoch)`` only, so a
        resumed run sees the same."""
        if self.arrays is None:
            if epoch > 0 and iter(self.iterable) is self.iterable:
                raise ValueError(
                    f"{self.name} is a one-shot iterator (a generator?), exhausted after one epoch; "
                    "pass a re-iterable (a list, a DataLoader) or arrays for epochs > 1"
                )
            yield from (_as_batch(b) for b in self.iterable)
            return
        order = np.random.default_rng([seed, epoch]).permutation(self.size) if self.shuffle else np.arange(self.size)
        for start in range(0, self.size, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield jax.tree.map(lambda a, idx=idx: a[idx], self.arrays)


def samples(batch: Any) -> int:
    return int(jax.tree.leaves(batch[1])[0].shape[0])


def _signature(batch: Any) -> Any:
    return jax.tree.map(lambda a: (np.shape(a), np.result_type(a).str), batch)


def blocks(batches: Iterator[Any], n: int) -> Iterator[list[Any]]:
    """Consecutive same-shaped batches in blocks of ``n``; the others one by one (lists of length 1)."""
    buf: list[Any] = []
    for b in batches:
        if buf and _signature(b) != _signature(buf[0]):
            yield from ([x] for x in buf)
            buf = []
        buf.append(b)
        if len(buf) == n:
            yield buf
            buf = []
    yield from ([x] for x in buf)


_END = object()


def prefetch(items: Iterator[Any], place: Callable[[Any], Any], depth: int = 2) -> Iterator[tuple[Any, Any]]:
    """``(item, place(item))`` pairs, the next ``depth`` placed on a background thread while the caller computes.

    Slicing a shuffled batch out of host arrays and copying it to the device
    then overlaps the running step instead of following it. Errors of the
    producer are raised in the consumer, in order.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                queue.put((item, place(item)))
        except BaseException as e:  # handed to the consumer, which raises it where the batch was due
            queue.put(e)
            return
        queue.put(_END)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (got := queue.get()) is not _END:
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        while thread.is_alive():
            while not queue.empty():
                queue.get_nowait()
            thread.join(timeout=0.01)
