"""Checkpoint integrity: kills never replace the last good checkpoint, damage is an error, no pickle.

- A writer SIGKILLed at a random moment while saving leaves the newest
  complete checkpoint restorable, holding exactly what was saved for its step.
- Every file of a checkpoint, truncated, emptied or with a byte flipped, makes
  ``restore`` raise :class:`CorruptCheckpointError` (or, for files whose damage
  does not matter, return the saved arrays bit for bit): never other numbers.
- Restoring runs no unpickling, and saving refuses Python objects.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxnn.training import Checkpointer
from jaxnn.training.checkpoint import CheckpointMismatchError, CorruptCheckpointError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _state(step: int) -> dict:
    """The state saved at ``step``: every number in it says which step it belongs to."""
    return {"w": np.full((512, 256), step, np.float32), "b": np.arange(7, dtype=np.float64) + step, "n": np.int64(step)}


def _same(a: dict, b: dict) -> bool:
    return all(np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes() and np.asarray(a[k]).dtype == np.asarray(b[k]).dtype for k in a)


WRITER = f"""
import sys
sys.path.insert(0, {ROOT!r})
from tests.test_checkpoint_integrity import _state
from jaxnn.training import Checkpointer
with Checkpointer(sys.argv[1], max_to_keep=2) as ckpt:
    for step in range(1, 10_000):
        ckpt.save(step, _state(step), {{"step": step}})
        print(step, flush=True)
"""


@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_during_saves_never_leaves_a_bad_latest_checkpoint(tmp_path, seed):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "1", "writer did not finish its first save"
        time.sleep(random.Random(seed).uniform(0.0, 1.5))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last_saved = max([1, *map(int, proc.stdout.read().split())])
    with Checkpointer(tmp_path) as ckpt:
        restored = ckpt.restore_latest(_state(0))
    assert restored is not None
    state, meta = restored
    assert _same(state, _state(meta["step"])), f"checkpoint of step {meta['step']} holds other numbers"
    # the newest save the writer saw complete (or a later complete one) is what comes back
    assert meta["step"] >= last_saved


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pristine")
    with Checkpointer(directory) as ckpt:
        ckpt.save(1, _state(1), {"step": 1})
    return directory


def _files(directory):
    return sorted(os.path.relpath(os.path.join(r, f), directory) for r, _, fs in os.walk(directory) for f in fs)


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _empty(path):
    open(path, "wb").close()


def _flip(path):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data:
            data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)


DAMAGE = {"truncated": _truncate, "emptied": _empty, "byte-flipped": _flip}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_file_is_an_error_never_other_numbers(tmp_path, pristine, damage):
    """Each file in turn: restore raises a clear error or gives back exactly what was saved."""
    outcomes = {}
    for rel in _files(pristine):
        copy = tmp_path / rel.replace(os.sep, "_")
        shutil.copytree(pristine, copy)
        DAMAGE[damage](copy / rel)
        with Checkpointer(copy) as ckpt:
            try:
                state, _ = ckpt.restore(1, _state(0))
            except (CorruptCheckpointError, CheckpointMismatchError) as err:
                assert "checkpoint 1" in str(err)
                outcomes[rel] = "error"
            else:
                assert _same(state, _state(1)), f"{damage} {rel} restored other numbers"
                outcomes[rel] = "intact"
    # the array data and the digest record are among the files whose damage is caught
    assert any(v == "error" for k, v in outcomes.items() if "/d/" in k), outcomes
    assert outcomes.get(os.path.join("1", "meta", "metadata")) == "error", outcomes


def test_restore_never_unpickles(pristine, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("restore tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)
    with Checkpointer(pristine) as ckpt:
        state, meta = ckpt.restore(1, _state(0))
    assert _same(state, _state(1)) and meta["step"] == 1


@pytest.mark.parametrize("what", ["state", "meta"])
def test_python_objects_are_refused_not_pickled(tmp_path, what):
    state = {**_state(2), "o": np.array([object()])} if what == "state" else _state(2)
    meta = {"step": 2, "o": object()} if what == "meta" else {"step": 2}
    with Checkpointer(tmp_path) as ckpt:
        with pytest.raises((TypeError, ValueError)):
            ckpt.save(2, state, meta)
        assert ckpt.steps() == []


def test_failed_resave_of_a_step_keeps_the_old_checkpoint(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, _state(1), {"step": 1})
        with pytest.raises(TypeError):
            ckpt.save(1, _state(2), {"step": 1, "o": object()})
        assert ckpt.steps() == [1]
        restored, meta = ckpt.restore(1, _state(0))
    assert _same(restored, _state(1)) and meta["step"] == 1


def test_resave_of_a_step_replaces_it(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, _state(1), {"step": 1})
        ckpt.save(1, _state(2), {"step": 1})
        assert ckpt.steps() == [1]
        restored, _ = ckpt.restore(1, _state(0))
    assert _same(restored, _state(2))
    assert not (tmp_path / ".replaced-1").exists()


def test_resave_killed_before_the_new_one_completed_restores_the_old_one_on_open(tmp_path):
    # What a SIGKILL leaves between moving step 1 aside and the new step 1 completing.
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, _state(1), {"step": 1})
    os.rename(tmp_path / "1", tmp_path / ".replaced-1")
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.steps() == [1]
        restored, _ = ckpt.restore(1, _state(0))
    assert _same(restored, _state(1))


def test_resave_killed_after_the_new_one_completed_keeps_the_new_one_on_open(tmp_path):
    # What a SIGKILL leaves between the new step 1 completing and the old one's removal.
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, _state(1), {"step": 1})
    shutil.copytree(tmp_path / "1", tmp_path.parent / "old-1")
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, _state(2), {"step": 1})
    shutil.move(tmp_path.parent / "old-1", tmp_path / ".replaced-1")
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.steps() == [1]
        restored, _ = ckpt.restore(1, _state(0))
    assert _same(restored, _state(2))
    assert not (tmp_path / ".replaced-1").exists()
