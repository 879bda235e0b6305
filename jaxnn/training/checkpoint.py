"""Atomic training checkpoints with orbax, verified on restore.

A checkpoint holds one pytree of training state (parameters, other state,
optimizer state, rng) and a JSON record (step, epoch, position in the epoch,
history, ...). The pytree is saved as its flat list of leaves; restoring needs
a template of the same structure (a freshly initialised state), whose treedef
rebuilds it. Each checkpoint stores the shapes and dtypes of its leaves and a
SHA-256 digest of their bytes, checked on restore: a changed model is told
apart from damage, and a checkpoint whose files were damaged after writing is
detected even where the storage format would read back wrong numbers silently.

orbax writes each checkpoint into a temporary directory and renames it when
complete, so a process killed mid-save leaves no checkpoint that looks
finished. :meth:`Checkpointer.restore_latest` tries the newest checkpoint
first and falls back to older ones, with a warning, when one cannot be read
or fails its digest.

With several processes (``jax.distributed``) every process calls the same
methods in the same order, and a checkpoint is written once, in the same
format as a single process writes it: a leaf every process holds whole
(replicated state, the rng) is written by process 0, a leaf sharded across
processes (FSDP) by each process for its shards, and the JSON record by
process 0; the moving aside and back of checkpoints is done by process 0
between barriers. Restoring reads every leaf whole in every process, so a
checkpoint saved by any number of processes restores in any other.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import warnings
from typing import Any

import jax
import numpy as np

__all__ = ["Checkpointer", "CorruptCheckpointError", "CheckpointMismatchError"]


def _ocp():
    try:
        import orbax.checkpoint as ocp
    except ImportError as err:
        raise ImportError("checkpointing needs orbax-checkpoint: pip install 'jaxnn[train]'") from err
    return ocp


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _raw(leaf: Any) -> Any:
    # Typed PRNG keys (nnx.Rngs streams) are stored as their raw key data.
    return jax.random.key_data(leaf) if _is_key(leaf) else leaf


def _to_host(leaf: Any) -> np.ndarray:
    """The whole value of ``leaf`` on this host; a leaf sharded across processes is gathered."""
    leaf = _raw(leaf)
    if not isinstance(leaf, jax.Array) or leaf.is_fully_addressable:
        return np.asarray(leaf)
    if leaf.is_fully_replicated:
        return np.asarray(leaf.addressable_data(0))
    from jax.experimental.multihost_utils import process_allgather

    return np.asarray(process_allgather(leaf, tiled=True))


def _to_save(leaf: Any, host: np.ndarray) -> Any:
    """What orbax writes for ``leaf``: its host copy (written by process 0), or -- when sharded across
    processes -- the global array itself, whose shards each process writes."""
    leaf = _raw(leaf)
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable and not leaf.is_fully_replicated:
        return leaf
    return host


def _digest(leaves: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in leaves:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class CorruptCheckpointError(RuntimeError):
    """A checkpoint that cannot be read back as saved."""


class CheckpointMismatchError(ValueError):
    """An intact checkpoint of a different training state (another model or optimizer)."""


def _signature(leaves: list[np.ndarray]) -> list[list[Any]]:
    return [[a.dtype.str, list(a.shape)] for a in leaves]


class Checkpointer:
    """Saves and restores training state under ``directory`` (one subdirectory per step).

    Args:
      directory: where checkpoints live; created if missing.
      max_to_keep: how many of the newest checkpoints to keep (older ones are deleted).

    Saving is synchronous: when :meth:`save` returns the checkpoint is on disk.
    """

    def __init__(self, directory: str | os.PathLike, max_to_keep: int = 3):
        ocp = _ocp()
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False, cleanup_tmp_directories=True
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)
        self._barriers = 0
        self._recover_replaced()
        self._sync("recovered")

    def _primary(self) -> bool:
        return jax.process_index() == 0

    def _sync(self, what: str) -> None:
        """With several processes: waits until all reach this point, then rereads the directory."""
        if jax.process_count() == 1:
            return
        self._barriers += 1
        _ocp().multihost.sync_global_processes(f"jaxnn-checkpointer-{what}-{self._barriers}")
        self._manager.reload()

    def steps(self) -> list[int]:
        """The steps of the complete checkpoints on disk, oldest first."""
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, meta: dict[str, Any]) -> None:
        """Writes ``state`` (any pytree of arrays) and ``meta`` (JSON-ready) as checkpoint ``step``.

        An existing checkpoint of the same step is replaced only once the new one
        is complete: it is moved aside first and put back if the save fails;
        if the process dies in between, the next :class:`Checkpointer` on the
        directory puts it back (or drops it, when the new one had completed).
        """
        ocp = _ocp()
        originals = jax.tree.leaves(state)
        leaves = [_to_host(x) for x in originals]
        meta = {**meta, "arrays": _signature(leaves), "sha256": _digest(leaves)}
        aside = None
        if step in self.steps():
            aside = self._replaced_path(step)
            if self._primary():
                shutil.rmtree(aside, ignore_errors=True)
                os.rename(os.path.join(self.directory, str(step)), aside)
            self._manager.reload()
            self._sync("aside")
        saved = {f"{i:06d}": _to_save(x, a) for i, (x, a) in enumerate(zip(originals, leaves))}
        try:
            self._manager.save(
                step, args=ocp.args.Composite(state=ocp.args.StandardSave(saved), meta=ocp.args.JsonSave(meta))
            )
            self._manager.wait_until_finished()
        except BaseException:
            # No barrier here: another process may never arrive. The next Checkpointer finishes the recovery.
            if aside is not None:
                self._recover_replaced()
            raise
        self._sync("saved")
        if aside is not None and self._primary():
            shutil.rmtree(aside, ignore_errors=True)

    def _replaced_path(self, step: int) -> str:
        return os.path.join(self.directory, f".replaced-{step}")

    def _recover_replaced(self) -> None:
        """Finishes a re-save that did not finish: the old checkpoint comes back unless a new one completed."""
        prefix = ".replaced-"
        if not self._primary():
            return
        names = [n for n in os.listdir(self.directory) if n.startswith(prefix) and n[len(prefix):].isdigit()]
        if not names:
            return
        complete = set(self.steps())
        for name in names:
            step, path = int(name[len(prefix):]), os.path.join(self.directory, name)
            if step in complete:
                shutil.rmtree(path, ignore_errors=True)
                continue
            shutil.rmtree(os.path.join(self.directory, str(step)), ignore_errors=True)
            os.rename(path, os.path.join(self.directory, str(step)))
        self._manager.reload()

    def restore(self, step: int, template: Any) -> tuple[Any, dict[str, Any]]:
        """Checkpoint ``step`` rebuilt into ``template``'s structure.

        Raises:
          CheckpointMismatchError: the checkpoint is intact but holds other
            arrays (shapes, dtypes, count) than ``template`` -- a changed model
            or optimizer, not damage.
          CorruptCheckpointError: it cannot be read, or its arrays fail their digest.
        """
        ocp = _ocp()
        t_leaves, treedef = jax.tree.flatten(template)
        host = [_to_host(x) for x in t_leaves]
        meta = self._read(step, ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        if not isinstance(meta, dict) or "arrays" not in meta or "sha256" not in meta:
            raise CorruptCheckpointError(f"checkpoint {step} has no readable record of its arrays")
        if meta["arrays"] != _signature(host):
            raise CheckpointMismatchError(
                f"checkpoint {step} in {self.directory} holds {len(meta['arrays'])} arrays of other shapes/dtypes "
                f"than this training state ({len(host)} arrays): it was saved from a different model or optimizer"
            )
        target = {f"{i:06d}": a for i, a in enumerate(host)}
        restored = self._read(step, ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]
        leaves = [np.asarray(restored[k]) for k in sorted(target)]
        if _signature(leaves) != meta["arrays"] or _digest(leaves) != meta["sha256"]:
            raise CorruptCheckpointError(f"checkpoint {step}: the arrays do not match their saved SHA-256 digest")
        rebuilt = [
            # jax types the key bits as Array; it takes the restored numpy bits as they are
            jax.random.wrap_key_data(a, impl=jax.random.key_impl(t)) if _is_key(t) else a  # type: ignore[arg-type]
            for a, t in zip(leaves, t_leaves)
        ]
        return jax.tree.unflatten(treedef, rebuilt), meta

    def _read(self, step: int, args: Any) -> Any:
        try:
            return self._manager.restore(step, args=args)
        except Exception as err:  # orbax/tensorstore raise many kinds for damaged files
            raise CorruptCheckpointError(f"checkpoint {step} could not be read: {type(err).__name__}: {err}") from err

    def close(self) -> None:
        """Releases orbax's background resources."""
        self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def restore_latest(self, template: Any) -> tuple[Any, dict[str, Any]] | None:
        """The newest checkpoint that restores cleanly, or ``None`` if there is none.

        A damaged checkpoint is reported with a warning naming its step and
        error, moved aside to ``<directory>-corrupt/<step>-<time>`` (kept for
        inspection, out of the way of later saves of that step), and the next
        older one is tried. A :class:`CheckpointMismatchError` is raised, not
        skipped: falling back would only meet the same mismatch.
        """
        for step in reversed(self.steps()):
            try:
                return self.restore(step, template)
            except CorruptCheckpointError as err:
                aside = os.path.join(f"{self.directory}-corrupt", f"{step}-{time.strftime('%Y%m%dT%H%M%S')}")
                warnings.warn(f"{err}; moving it to {aside} and falling back to an earlier checkpoint", stacklevel=2)
                if self._primary():
                    os.makedirs(os.path.dirname(aside), exist_ok=True)
                    shutil.move(os.path.join(self.directory, str(step)), aside)
                self._manager.reload()
                self._sync("corrupt")
        return None
