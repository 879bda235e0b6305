"""What :func:`jaxnn.fit` records: per-step and per-epoch logs, and a plot of them."""

from __future__ import annotations

import math
import os
from typing import Any

__all__ = ["History"]


class History:
    """Per-step records (``step``, ``epoch``, ``loss``, ``grad_norm``; both counted from 1) and per-epoch ones
    (``epoch``, ``loss`` = mean training loss over the epoch's samples, then
    ``val_loss`` and ``val_<metric>`` when evaluating).

    ``history['val_loss']`` is the list of a key's per-epoch values.
    """

    def __init__(self, steps: list[dict[str, Any]] | None = None, epochs: list[dict[str, Any]] | None = None):
        self.steps: list[dict[str, Any]] = list(steps or [])
        self.epochs: list[dict[str, Any]] = list(epochs or [])

    def __getitem__(self, key: str) -> list[Any]:
        if not any(key in e for e in self.epochs):
            known = sorted({k for e in self.epochs for k in e})
            raise KeyError(f"no per-epoch value {key!r} in the history; recorded: {known}")
        return [e.get(key, math.nan) for e in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else {}
        return f"History({len(self.steps)} steps, {len(self.epochs)} epochs, last={last})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (non-finite floats become strings JSON can hold)."""
        return {"steps": [_jsonable(r) for r in self.steps], "epochs": [_jsonable(r) for r in self.epochs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "History":
        """The inverse of :meth:`to_dict`."""
        return cls([_unjson(r) for r in data["steps"]], [_unjson(r) for r in data["epochs"]])

    def plot(self, path: str | os.PathLike = "history.png", *, title: str | None = None) -> str:
        """Writes a PNG of the training curves and returns its path.

        Left panel: per-step training loss (faint), per-epoch mean training loss
        and validation loss at the end of each epoch (x axis in steps). Right
        panel (when evaluated with metrics): the per-epoch validation metrics.
        Needs matplotlib (``pip install jaxnn[train]``); it uses the non-interactive
        Agg backend, so it works without a display.
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from matplotlib.ticker import MaxNLocator
        except ImportError as err:
            raise ImportError("History.plot needs matplotlib: pip install 'jaxnn[train]'") from err
        losses = ("val_loss", "val_loss_averaged")  # the model's and fit(averaged_model=)'s, on the loss panel
        metric_keys = sorted({k for e in self.epochs for k in e if k.startswith("val_") and k not in losses})
        fig, axes = plt.subplots(1, 2 if metric_keys else 1, figsize=(11 if metric_keys else 6, 4), squeeze=False)
        ax = axes[0][0]
        if self.steps:
            ax.plot(
                [r["step"] for r in self.steps], [r["loss"] for r in self.steps], alpha=0.3, label="train loss (step)"
            )
        epoch_end = [e["step"] for e in self.epochs]
        # An epoch's mean training loss sits at the middle of its steps, the validation loss at its end.
        middle = [
            sum(s) / len(s) if (s := [r["step"] for r in self.steps if r["epoch"] == e["epoch"]]) else e["step"]
            for e in self.epochs
        ]
        ax.plot(middle, [e.get("loss", math.nan) for e in self.epochs], "o-", label="train loss (epoch mean)")
        for key, label in zip(losses, ("validation loss", "validation loss, averaged model")):
            if any(key in e for e in self.epochs):
                ax.plot(epoch_end, [e.get(key, math.nan) for e in self.epochs], "s-", label=label)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        if all(r["loss"] > 0 for r in self.steps) and self.steps:
            ax.set_yscale("log")
        ax.legend()
        if metric_keys:
            mx = axes[0][1]
            for k in metric_keys:
                mx.plot([e["epoch"] for e in self.epochs], self[k], "o-", label=k)
            mx.set_xlabel("epoch")
            # Epochs are whole numbers counted from 1, as fit prints them.
            mx.xaxis.set_major_locator(MaxNLocator(integer=True))
            mx.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        path = os.fspath(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


def _unjson(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if v in ("nan", "inf", "-inf") else v) for k, v in record.items()}
