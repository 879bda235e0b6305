"""Checkpoint/resume: a killed run resumes bit-identically; damaged checkpoints are skipped with a warning."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys

import chex
import pytest

from jaxnn.training import Checkpointer, split_model
from jaxnn.training.checkpoint import CheckpointMismatchError, CorruptCheckpointError
from tests.training._fit_worker import Record, StopAfter, run, template
from tests.training.models import plain

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _state(model):
    _, params, rest = split_model(model)
    return plain((params, rest))


@pytest.fixture(scope="module")
def uninterrupted():
    model, history = run()
    return _state(model), history


def test_killed_run_resumes_bit_identically(tmp_path, uninterrupted):
    # 5 steps an epoch, 3 epochs, shuffled; checkpoints at steps 2, 4, 5 (epoch end), 6; killed
    # after step 7, so the resumed run restarts mid-epoch from step 6 and redoes step 7.
    env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "tests.training._fit_worker", str(tmp_path), "7"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.steps() == [4, 5, 6]
    ran = Record()
    model, history = run(tmp_path, resume=True, callbacks=[ran])
    assert ran.steps == list(range(7, 16))
    state, full_history = uninterrupted
    chex.assert_trees_all_equal(_state(model), state)
    assert history.steps == full_history.steps and history.epochs == full_history.epochs


def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, uninterrupted):
    run(tmp_path, callbacks=[StopAfter(10)])
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.steps() == [6, 8, 10]
    damaged = glob.glob(str(tmp_path / "10" / "state" / "**" / "d" / "*"), recursive=True)
    assert damaged
    for path in damaged:
        with open(path, "r+b") as f:
            f.write(b"\x00garbage" * 8)
    ran = Record()
    with pytest.warns(UserWarning, match=r"checkpoint 10 .*falling back"):
        model, history = run(tmp_path, resume=True, callbacks=[ran])
    assert ran.steps == list(range(9, 16)), "resumed from checkpoint 8"
    assert len(os.listdir(f"{tmp_path}-corrupt")) == 1, "the damaged checkpoint is kept aside for inspection"
    chex.assert_trees_all_equal(_state(model), uninterrupted[0])
    assert history.steps == uninterrupted[1].steps


def test_partial_save_is_ignored_digest_catches_wrong_numbers_used_directory_needs_resume(tmp_path):
    run(tmp_path, callbacks=[StopAfter(2)])
    # What a process killed while saving step 4 leaves behind: orbax's unfinished temporary directory.
    shutil.copytree(tmp_path / "2", tmp_path / "4.orbax-checkpoint-tmp-1234")
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.steps() == [2], "an unfinished save is not a checkpoint"
        ckpt.restore(2, template())
        with pytest.raises(CheckpointMismatchError, match="different model or optimizer"):
            ckpt.restore(2, template(sizes=(4, 6, 3)))
        meta_file = tmp_path / "2" / "meta" / "metadata"
        meta = json.loads(meta_file.read_text())
        meta["sha256"] = "0" * 64
        meta_file.write_text(json.dumps(meta))
        with pytest.raises(CorruptCheckpointError, match="SHA-256"):
            ckpt.restore(2, template())
    with pytest.raises(ValueError, match="already holds checkpoints"):
        run(tmp_path)
