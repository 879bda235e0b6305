"""jaxnn quickstart: a torch-style model, an MSE loss, jax.grad and an SGD step in one jitted function.

Run: python examples/quickstart.py
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
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


def main(steps: int = 200, batch: int = 64, lr: float = 0.1) -> None:
    rng = np.random.default_rng(0)
    true_w = rng.standard_normal((3, 3)).astype(np.float32)
    true_b = np.array([0.5, -1.0, 2.0], np.float32)

    model = MyModel(rngs=nnx.Rngs(0))
    graphdef, params, rest = split_model(model)
    optimizer = optax.sgd(lr)
    opt_state = optimizer.init(params)
    step = make_train_step(graphdef, jaxnn.MSELoss(), optimizer)

    for i in range(steps):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        y = x @ true_w + true_b + 0.01 * rng.standard_normal((batch, 3)).astype(np.float32)
        params, rest, opt_state, loss = step(params, rest, opt_state, (x, y))
        if i % 20 == 0 or i == steps - 1:
            print(f"step {i:4d}  loss {float(loss):.6f}")

    model = nnx.merge(graphdef, params, rest)
    np.set_printoptions(precision=3, suppress=True)
    print("learned W:\n", np.asarray(model.weight[...]), "\ntrue W:\n", true_w)
    print("learned b:", np.asarray(model.bias[...]), " true b:", true_b)
    assert float(jnp.max(jnp.abs(model.weight[...] - true_w))) < 0.05


if __name__ == "__main__":
    main()
