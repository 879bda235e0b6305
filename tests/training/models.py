"""Small models for the training tests, written with jaxnn.Parameter/Buffer directly.

They stand in for jaxnn.nn's Linear / BatchNorm1d / Dropout (built in parallel):
a batch-norm-like layer that centres by the batch mean in training mode and
updates a running-mean buffer with torch's momentum convention, and an
inverted dropout drawing its mask from an ``nnx.Rngs`` stream.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxnn


def torch_linear_init(rng, fan_in, fan_out):
    bound = 1 / np.sqrt(fan_in)
    return (rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
            rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))


class Centre(jaxnn.Module):
    """x - batch mean in training mode (running mean updated, momentum 0.1 = weight of the new batch); x - running mean in eval."""

    def __init__(self, features):
        self.running_mean = jaxnn.Buffer(jnp.zeros((features,)))

    def __call__(self, x):
        if self.training:
            mean = jnp.mean(x, axis=0)
            self.running_mean[...] = 0.9 * self.running_mean[...] + 0.1 * jax.lax.stop_gradient(mean)
            return x - mean
        return x - self.running_mean[...]


class Drop(jaxnn.Module):
    def __init__(self, p, rngs):
        self.p, self.rngs = p, rngs

    def __call__(self, x):
        if not self.training or self.p == 0:
            return x
        keep = jax.random.bernoulli(self.rngs.dropout(), 1 - self.p, x.shape)
        return jnp.where(keep, x / (1 - self.p), 0.0)


class MLP(jaxnn.Module):
    """Linear -> ReLU -> Centre -> Dropout -> Linear, weights (out, in) as torch's Linear."""

    def __init__(self, sizes=(4, 8, 3), p=0.0, seed=0):
        rng = np.random.default_rng(seed)
        (w1, b1), (w2, b2) = (torch_linear_init(rng, i, o) for i, o in zip(sizes[:-1], sizes[1:]))
        self.w1, self.b1 = jaxnn.Parameter(w1), jaxnn.Parameter(b1)
        self.w2, self.b2 = jaxnn.Parameter(w2), jaxnn.Parameter(b2)
        self.centre = Centre(sizes[1])
        self.drop = Drop(p, nnx.Rngs(dropout=seed))

    def __call__(self, x):
        h = self.centre(jax.nn.relu(x @ self.w1[...].T + self.b1[...]))
        return self.drop(h) @ self.w2[...].T + self.b2[...]


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


def cross_entropy(logits, target):
    """Mean cross-entropy over class indices (stands in for jaxnn.CrossEntropyLoss until the losses branch lands)."""
    logp = jax.nn.log_softmax(logits, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, target[:, None], axis=1))


def classification_data(n, d_in=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((classes, d_in)).astype(np.float32)
    y = rng.integers(0, classes, n)
    x = (centres[y] + rng.standard_normal((n, d_in))).astype(np.float32)
    return x, y.astype(np.int32)
