"""Hooks :func:`jaxnn.fit` calls after each step and each epoch."""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

from .history import History

__all__ = ["Callback", "EarlyStopping", "CSVLogger", "TensorBoardLogger"]


class Callback:
    """Base class: override the hooks you need; a hook returning ``True`` stops training.

    ``logs`` is the record just appended to ``history.steps`` / ``history.epochs``.
    Hooks run on the host between compiled steps; keep them cheap.
    """

    def on_step_end(self, history: History, logs: dict[str, Any]) -> bool | None:
        return None

    def on_epoch_end(self, history: History, logs: dict[str, Any]) -> bool | None:
        return None


class EarlyStopping(Callback):
    """Stops when ``monitor`` has not improved for ``patience`` epochs.

    Args:
      monitor: a per-epoch key of the history, e.g. ``'val_loss'``, ``'val_accuracy'``, ``'loss'``.
      mode: ``'min'`` (lower is better) or ``'max'``.
      patience: epochs without improvement to wait before stopping (0: stop at
        the first epoch that does not improve).
      min_delta: an improvement must beat the best so far by more than this.

    The decision is recomputed from the history at every epoch, so it holds no
    state of its own and survives checkpoint/resume unchanged.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 0, min_delta: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError(f"patience and min_delta must be >= 0, got {patience} and {min_delta}")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta

    def epochs_since_best(self, values: list[float]) -> int:
        """How many epochs ago the last improvement (by more than ``min_delta``) was."""
        sign = 1.0 if self.mode == "min" else -1.0
        best, best_at = math.inf, 0
        for i, v in enumerate(values):
            if sign * v < best - self.min_delta:
                best, best_at = sign * v, i
        return len(values) - 1 - best_at

    def on_epoch_end(self, history: History, logs: dict[str, Any]) -> bool:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, which this epoch's logs lack: {sorted(logs)}")
        return self.epochs_since_best(history[self.monitor]) > self.patience


class CSVLogger(Callback):
    """Appends each epoch's logs to a CSV file, or to a JSON-lines file when ``path`` ends in ``.jsonl``.

    One row (line) per epoch, written and flushed as the epoch ends, so a
    crashed run keeps what it logged. The CSV header is the first epoch's keys
    (``epoch``, ``step``, ``loss``, then ``val_*``); ``epoch`` counts from 1 as
    everywhere in :func:`jaxnn.fit`. A resumed run appends to the same file
    when ``append=True``.

    >>> import os, tempfile
    >>> log = CSVLogger(os.path.join(tempfile.mkdtemp(), "log.csv"))
    >>> log.on_epoch_end(None, {"epoch": 1, "step": 4, "loss": 0.5})
    >>> open(log.path).read().splitlines()
    ['epoch,step,loss', '1,4,0.5']
    """

    def __init__(self, path: str | os.PathLike, append: bool = False):
        self.path = os.fspath(path)
        self.jsonl = self.path.endswith(".jsonl")
        self._fields: list[str] | None = None
        if append and os.path.exists(self.path) and not self.jsonl:
            with open(self.path, newline="") as f:
                self._fields = next(csv.reader(f), None)
        elif not append:
            open(self.path, "w").close()

    def on_epoch_end(self, history: History | None, logs: dict[str, Any]) -> None:
        if self.jsonl:
            with open(self.path, "a") as f:
                f.write(json.dumps({k: _plain(v) for k, v in logs.items()}) + "\n")
            return None
        if self._fields is None:
            self._fields = list(logs)
            with open(self.path, "a", newline="") as f:
                csv.writer(f).writerow(self._fields)
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([_plain(logs.get(k, "")) for k in self._fields])
        return None


def _plain(v: Any) -> Any:
    return repr(v) if isinstance(v, float) and not math.isfinite(v) else v


class TensorBoardLogger(Callback):
    """Writes the training curves as TensorBoard scalars (``tensorboard --logdir DIR`` shows them).

    Each step's ``loss`` and ``grad_norm`` under ``train/``, each epoch's logs
    under ``epoch/`` (``epoch/loss``, ``epoch/val_loss``, ``epoch/val_accuracy``,
    ``epoch/lr``...), all at the global step, flushed at each epoch's end.
    Needs ``tensorboardX`` (``pip install 'jaxnn[tensorboard]'``: numpy and
    protobuf, neither torch nor tensorflow).
    """

    def __init__(self, log_dir: str | os.PathLike, every: int = 1):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as err:
            raise ImportError("TensorBoardLogger needs tensorboardX: pip install 'jaxnn[tensorboard]'") from err
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.writer = SummaryWriter(os.fspath(log_dir))

    def on_step_end(self, history: History | None, logs: dict[str, Any]) -> None:
        if logs["step"] % self.every == 0:
            for key in ("loss", "grad_norm"):
                self.writer.add_scalar(f"train/{key}", logs[key], logs["step"])
        return None

    def on_epoch_end(self, history: History | None, logs: dict[str, Any]) -> None:
        for key, value in logs.items():
            if key not in ("epoch", "step"):
                self.writer.add_scalar(f"epoch/{key}", value, logs["step"])
        self.writer.flush()
        return None

    def close(self) -> None:
        self.writer.close()
