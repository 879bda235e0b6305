"""Small models for the training tests, built from jaxnn.nn's layers, and their torch twins.

``MLP`` is Linear(bias=False) -> BatchNorm1d -> ReLU -> Dropout -> Linear:
parameters, a batch-statistics layer whose buffers the train step must thread
through, and a dropout whose mask comes from the module's own rng stream (or the
step key). The first Linear has no bias as in the usual torch idiom: BatchNorm
subtracts any per-feature shift, so that bias's gradient would be zero up to
rounding, and Adam (which divides by the gradient's own scale) would turn that
rounding noise into full-size steps, making runs that differ only in reduction
order (sharded vs single device) diverge.
``torch_twin`` is the same network in torch.nn, loaded with the same weights.
"""

from collections import OrderedDict

import jax
import numpy as np
import torch
from flax import nnx

import jaxnn


class MLP(jaxnn.Module):
    def __init__(self, sizes=(4, 8, 3), p=0.0, seed=0):
        rngs = nnx.Rngs(params=seed, dropout=seed)
        self.fc1 = jaxnn.Linear(sizes[0], sizes[1], bias=False, rngs=rngs)
        self.bn = jaxnn.BatchNorm1d(sizes[1])
        self.act = jaxnn.ReLU()
        self.drop = jaxnn.Dropout(p, rngs=rngs)
        self.fc2 = jaxnn.Linear(sizes[1], sizes[2], rngs=rngs)

    def __call__(self, x):
        return self.fc2(self.drop(self.act(self.bn(self.fc1(x)))))


def torch_twin(model: MLP) -> torch.nn.Module:
    """``model`` (dropout off: the masks cannot match) as torch.nn layers holding its weights and buffers."""
    assert model.drop.p == 0, "a torch twin only stands for a model without dropout"
    sizes = model.fc1.weight.shape[1], model.fc1.weight.shape[0], model.fc2.weight.shape[0]
    twin = torch.nn.Sequential(OrderedDict(
        fc1=torch.nn.Linear(sizes[0], sizes[1], bias=False),
        bn=torch.nn.BatchNorm1d(sizes[1]),
        act=torch.nn.ReLU(),
        fc2=torch.nn.Linear(sizes[1], sizes[2]),
    ))
    twin.load_state_dict({k: torch.tensor(v) for k, v in jaxnn.state_dict(model).items()})
    return twin


def regression_data(n, d_in=4, d_out=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    w = rng.standard_normal((d_in, d_out)).astype(np.float32)
    y = (np.tanh(x @ w) + 0.05 * rng.standard_normal((n, d_out))).astype(np.float32)
    return x, y


def plain(tree):
    """``tree`` with typed PRNG keys (nnx.Rngs streams) as their raw data, so chex can compare it."""
    return jax.tree.map(
        lambda a: jax.random.key_data(a) if jax.dtypes.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key) else a,
        tree,
    )


def classification_data(n, d_in=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((classes, d_in)).astype(np.float32)
    y = rng.integers(0, classes, n)
    x = (centres[y] + rng.standard_normal((n, d_in))).astype(np.float32)
    return x, y.astype(np.int32)
