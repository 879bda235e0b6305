"""jaxnn quickstart: a torch-style model trained with the full cycle.

torch's documentation model (y = x @ W + b) learns a noisy linear map with
``jaxnn.fit``: a jitted step (forward, MSE loss, jax.grad, SGD update), a
progress bar on a terminal, evaluation on held-out data each epoch, a history
whose curves are written to a PNG, and a final check that the weights were
learned. Then the same step by hand, the lower level fit is built on.

Run: python examples/quickstart.py   (the progress bar needs tqdm and the plot
matplotlib: pip install 'jaxnn[train]'; without them both are skipped)
"""

import importlib.util
import os
import tempfile

import jax
import numpy as np
from flax import nnx

import jaxnn
from jaxnn.training import make_train_step, split_model


class MyModel(jaxnn.Module):
    """torch's documentation example: y = x @ W + b with learnable W (3x3) and b (3)."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.weight = jaxnn.Parameter(jax.random.normal(rngs.params(), (3, 3)))
        self.bias = jaxnn.Parameter(jax.random.normal(rngs.params(), (3,)))

    def __call__(self, x):
        return x @ self.weight + self.bias


def make_data(n: int, rng: np.random.Generator, true_w: np.ndarray, true_b: np.ndarray):
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = x @ true_w + true_b + 0.01 * rng.standard_normal((n, 3)).astype(np.float32)
    return x, y


def main(epochs: int = 5, batch_size: int = 64, lr: float = 0.1) -> None:
    rng = np.random.default_rng(0)
    true_w = rng.standard_normal((3, 3)).astype(np.float32)
    true_b = np.array([0.5, -1.0, 2.0], np.float32)
    train, val = make_data(2048, rng, true_w, true_b), make_data(256, rng, true_w, true_b)

    model = MyModel(rngs=nnx.Rngs(0))
    history = jaxnn.fit(model, jaxnn.MSELoss(), jaxnn.optim.SGD(lr=lr), train, epochs=epochs, batch_size=batch_size,
                        eval_data=val)

    with np.printoptions(precision=3, suppress=True):
        print("learned W:\n", np.asarray(model.weight[...]), "\ntrue W:\n", true_w)
        print("learned b:", np.asarray(model.bias[...]), " true b:", true_b)
    if importlib.util.find_spec("matplotlib"):
        path = history.plot(os.path.join(tempfile.gettempdir(), "jaxnn_quickstart.png"), title="quickstart")
        print("training curves written to", path)
    else:
        print("matplotlib is not installed: skipping the plot (pip install 'jaxnn[train]')")

    # The level below fit: split once, then a pure jitted step over explicit pytrees.
    _, params, rest = split_model(model)
    optimizer = jaxnn.optim.SGD(lr=lr)
    opt_state = optimizer.init(params)
    step = make_train_step(model, jaxnn.MSELoss(), optimizer)
    params, rest, opt_state, metrics = step(params, rest, opt_state, val, jax.random.key(0))
    print(f"one more step by hand: loss {float(metrics['loss']):.6f}, grad norm {float(metrics['grad_norm']):.4f}")

    assert history["val_loss"][-1] < 1e-3, history["val_loss"]
    assert float(np.max(np.abs(np.asarray(model.weight[...]) - true_w))) < 0.02, "W was not learned"


if __name__ == "__main__":
    main()
