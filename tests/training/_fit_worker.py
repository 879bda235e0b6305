"""A fit run for the kill-and-resume test: ``python -m tests.training._fit_worker DIR KILL_AT``.

It checkpoints every 2 steps and kills itself with SIGKILL (no cleanup, no
atexit, as an out-of-memory kill or a pre-empted machine would) right after
step KILL_AT.
"""

import os
import signal
import sys

import optax

import jaxnn
from tests.training.models import MLP, regression_data

RUN = dict(epochs=3, batch_size=8, seed=7, progress=False, verbose=False, checkpoint_every=2)


def run(checkpoint_dir=None, resume=False, callbacks=()):
    model = MLP(p=0.2)
    history = jaxnn.fit(model, jaxnn.MSELoss(), optax.adam(1e-2), regression_data(40), checkpoint_dir=checkpoint_dir,
                        resume=resume, callbacks=callbacks, **RUN)
    return model, history


class KillAfter(jaxnn.Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, history, logs):
        if logs["step"] == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class StopAfter(jaxnn.Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, history, logs):
        return logs["step"] == self.step


class Record(jaxnn.Callback):
    """The steps this process ran."""

    def __init__(self):
        self.steps = []

    def on_step_end(self, history, logs):
        self.steps.append(logs["step"])


def template(sizes=(4, 8, 3)):
    """A fresh training state of this run's structure (or of another model's), to restore checkpoints into."""
    import jax

    _, params, rest = jaxnn.training.split_model(MLP(sizes=sizes, p=0.2))
    return {"params": params, "other_state": rest, "opt_state": optax.adam(1e-2).init(params), "rng": jax.random.key(0)}


if __name__ == "__main__":
    run(sys.argv[1], callbacks=[KillAfter(int(sys.argv[2]))])
