"""The dropout family: masks are JAX's draws, so the distribution and structure are
checked as properties (rates within 5 standard errors, scale, channel-wise
constancy, alpha dropout's preserved moments), and the deterministic edges
(eval, p = 0, p = 1) against torch exactly."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F

KEY = jax.random.key(0)
NAMES = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]
# a valid (channels-first) shape for each
SHAPES = {"dropout": (3, 4), "dropout1d": (2, 3, 4), "dropout2d": (2, 3, 4, 5), "dropout3d": (2, 3, 2, 2, 2),
          "alpha_dropout": (3, 4), "feature_alpha_dropout": (2, 3, 4)}


@pytest.mark.parametrize("name", NAMES)
def test_eval_and_p0_are_the_identity_and_p1_is_torchs(name):
    x = np.random.default_rng(0).standard_normal(SHAPES[name]).astype(np.float32)
    fn = getattr(F, name)
    chex.assert_trees_all_equal(fn(x, 0.5, False), x)
    chex.assert_trees_all_equal(fn(x, 0.0, True), x)
    x[0, 0] = np.inf
    np.testing.assert_array_equal(fn(x, 1.0, True), getattr(TF, name)(torch.tensor(x), 1.0, True).numpy())


def test_default_training_flags_are_torchs():
    x = jnp.ones((2, 3, 4))
    chex.assert_trees_all_equal(F.alpha_dropout(x), x)  # training=False by default, as torch
    chex.assert_trees_all_equal(F.feature_alpha_dropout(x), x)
    assert not np.array_equal(F.dropout(x, key=KEY), x)  # training=True by default


def test_dropout_rate_scale_and_gradient():
    p, n = 0.3, 20000
    fn = jax.jit(lambda v: jax.vjp(lambda u: F.dropout(u, p, key=KEY), v))
    x = jnp.full(n, 2.0)
    y, vjp = fn(x)
    (g,) = vjp(jnp.ones(n))
    assert set(np.unique(np.asarray(y))) == {0.0, np.float32(2 / (1 - p))}
    assert abs(np.mean(np.asarray(y) == 0) - p) < 5 * np.sqrt(p * (1 - p) / n)
    chex.assert_trees_all_close(g, (y != 0) / (1 - p), rtol=1e-6)


@pytest.mark.parametrize(
    "name,shape,n_channels",
    [("dropout1d", (40, 50, 3), 2000), ("dropout1d", (60, 3), 60), ("dropout2d", (40, 50, 2, 2), 2000),
     ("dropout3d", (40, 50, 2, 1, 2), 2000), ("dropout3d", (60, 2, 1, 2), 60)],
)
def test_feature_dropout_drops_whole_channels(name, shape, n_channels):
    """Batched (N, C, *) has N * C channels; unbatched (C, *) has C."""
    p = 0.4
    y = np.asarray(jax.jit(lambda v: getattr(F, name)(v, p, key=KEY))(jnp.ones(shape)))
    channels = y.reshape(n_channels, -1)
    # every channel is all dropped or all kept (scaled by 1 / (1 - p))
    assert np.all(channels == channels[:, :1]), "mask varies within a channel"
    assert set(np.unique(channels)) == {0.0, np.float32(1 / (1 - p))}
    m = channels.shape[0]
    assert abs(np.mean(channels[:, 0] == 0) - p) < 5 * np.sqrt(p * (1 - p) / m)


def test_alpha_dropout_keeps_standard_normal_moments_and_torchs_values():
    p, n = 0.2, 40000
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    y = np.asarray(jax.jit(lambda v: F.alpha_dropout(v, p, True, key=KEY))(x))
    assert abs(y.mean()) < 0.03 and abs(y.var() - 1) < 0.03
    t = TF.alpha_dropout(torch.tensor(x), p, True).numpy()
    # dropped units take one value, the same as torch's
    ours, theirs = np.unique(y, return_counts=True), np.unique(t, return_counts=True)
    np.testing.assert_allclose(ours[0][ours[1].argmax()], theirs[0][theirs[1].argmax()], rtol=1e-6)
    # kept units are a * x + b with torch's a and b
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    kept = y != ours[0][ours[1].argmax()]
    np.testing.assert_allclose(y[kept], a * x[kept] + alpha * a * p, rtol=1e-5, atol=1e-6)
    assert abs(np.mean(~kept) - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_feature_alpha_dropout_is_constant_shift_per_dropped_channel():
    p = 0.5
    x = np.random.default_rng(1).standard_normal((30, 20, 6)).astype(np.float32)
    y = np.asarray(F.feature_alpha_dropout(x, p, True, key=KEY))
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    dropped = np.all(np.isclose(y, a * (alpha * p - alpha)), axis=-1)
    kept = np.all(np.isclose(y, a * x + alpha * a * p, rtol=1e-5, atol=1e-6), axis=-1)
    assert np.all(dropped ^ kept), "each channel is either wholly dropped or wholly kept"
    assert abs(dropped.mean() - p) < 5 * np.sqrt(p * (1 - p) / dropped.size)


def test_errors_and_warnings():
    x = jnp.ones((2, 3, 4))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="key"):
        F.dropout(x, 0.5)
    with pytest.raises(ValueError, match="Expected 2D or 3D input"):
        F.dropout1d(jnp.ones((2, 3, 4, 5)), key=KEY)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.feature_alpha_dropout(jnp.ones(3), training=True, key=KEY)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        F.dropout2d(x, key=KEY)
    with pytest.warns(UserWarning, match="2-D input to dropout3d"):
        F.dropout3d(jnp.ones((2, 3)), training=False)
