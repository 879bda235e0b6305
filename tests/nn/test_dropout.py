"""Dropout: torch's scaling, train/eval switch and gradient; the masks are JAX's own draws,
so the distribution is checked, not the bits."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.training import make_train_step, split_model
from tests.nn import step_loss


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_mask_rate_and_scaling_match_torch(p):
    x = np.ones((200, 250), np.float32)
    y = np.asarray(jaxnn.Dropout(p, rngs=nnx.Rngs(0))(x))
    t = torch.nn.Dropout(p)(torch.tensor(x)).numpy()
    assert set(np.unique(y)) == set(np.unique(t)) == {0.0, np.float32(1 / (1 - p))}
    n = x.size
    # the dropped fraction is Binomial(n, p)/n: both within 5 standard errors of p
    for out in (y, t):
        assert abs(np.mean(out == 0) - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_gradient_is_the_scaled_mask():
    d = jaxnn.Dropout(0.4, rngs=nnx.Rngs(dropout=1))
    graphdef, state = nnx.split(d)
    x = jnp.arange(1.0, 101.0)
    y, vjp = jax.vjp(lambda v: nnx.merge(graphdef, state, copy=True)(v), x)
    (g,) = vjp(jnp.ones_like(x))
    chex.assert_trees_all_close(g, (y != 0) / 0.6, rtol=1e-6)
    chex.assert_trees_all_close(y, x * g, rtol=1e-6)


def test_eval_and_edge_probabilities_match_torch():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    chex.assert_trees_all_equal(jaxnn.Dropout(0.5, rngs=nnx.Rngs(0)).eval()(x), x)
    chex.assert_trees_all_equal(jaxnn.Dropout(0.0)(x), x)
    chex.assert_trees_all_equal(np.asarray(jaxnn.Dropout(1.0)(x)), torch.nn.Dropout(1.0)(torch.tensor(x)).numpy())


def test_fresh_mask_each_call_and_seed_reproducible():
    x = jnp.ones(64)
    d = jaxnn.Dropout(0.5, rngs=nnx.Rngs(3))
    a, b = d(x), d(x)
    assert not np.array_equal(a, b)
    chex.assert_trees_all_equal(jaxnn.Dropout(0.5, rngs=nnx.Rngs(3))(x), a)


def test_errors():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        jaxnn.Dropout(1.5)
    with pytest.raises(ValueError, match="rngs"):
        jaxnn.Dropout(0.5)(jnp.ones(3))


@pytest.mark.parametrize("name", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_new_layers_eval_identity_train_random_from_their_stream(name):
    x = np.random.default_rng(0).standard_normal((4, 6, 2, 2, 2)).astype(np.float32)
    x = x[:, :, 0, 0] if name == "Dropout1d" else x[:, :, 0] if name == "Dropout2d" else x
    layer = getattr(jaxnn, name)(0.5, rngs=nnx.Rngs(0))
    a, b = np.asarray(layer(x)), np.asarray(layer(x))
    assert not np.array_equal(a, b), "each call draws a fresh mask"
    chex.assert_trees_all_equal(getattr(jaxnn, name)(0.5, rngs=nnx.Rngs(0))(x), a)
    if name != "AlphaDropout":
        # channel-wise: within each (n, c) the kept/dropped decision is shared
        flat_in, flat_out = x.reshape(24, -1), a.reshape(24, -1)
        dropped = np.isclose(flat_out, flat_out[:, :1]).all(axis=1) & ~np.isclose(flat_in, flat_in[:, :1]).all(axis=1)
        assert 0 < dropped.sum() < 24
    layer.eval()
    chex.assert_trees_all_equal(layer(x), x)
    np.testing.assert_array_equal(np.asarray(getattr(jaxnn, name)(0.5).eval()(x)), getattr(torch.nn, name)(0.5).eval()(torch.tensor(x)).numpy())
    with pytest.raises(ValueError, match="rngs"):
        getattr(jaxnn, name)(0.5)(x)
    with pytest.raises(ValueError, match="between 0 and 1"):
        getattr(jaxnn, name)(-0.1)


class _Net(jaxnn.Module):
    def __init__(self, *, rngs):
        self.fc = jaxnn.Linear(4, 4, rngs=rngs)
        self.drop = jaxnn.Dropout(0.5, rngs=rngs)

    def __call__(self, x):
        return self.drop(self.fc(x))


def test_train_step_advances_the_rng_and_eval_is_deterministic():
    model = _Net(rngs=nnx.Rngs(0))
    assert "drop.rngs.count" not in jaxnn.state_dict(model) and list(jaxnn.state_dict(model)) == ["fc.weight", "fc.bias"]
    graphdef, params, rest = split_model(model)
    opt = optax.sgd(0.0)
    step = make_train_step(graphdef, jaxnn.MSELoss(), opt, donate=False)
    x, y = jnp.ones((8, 4)), jnp.zeros((8, 4))
    _, rest1, _, loss1 = step(params, rest, opt.init(params), (x, y))
    _, _, _, loss2 = step(params, rest1, opt.init(params), (x, y))
    assert float(step_loss(loss1)) != float(step_loss(loss2)), "each step should draw a new mask"
    model.eval()
    chex.assert_trees_all_equal(model(x), model.fc(x))
