"""jaxnn.init against torch.nn.init: gains, fans, and the distributions (moments and
bounds on large arrays, where both draws' statistics are within a few standard errors)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn import init

SHAPE = (256, 128, 3, 3)
KEY = jax.random.key(0)


@pytest.mark.parametrize(
    "nonlinearity,param",
    [("linear", None), ("conv2d", None), ("conv_transpose1d", None), ("sigmoid", None), ("tanh", None),
     ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)],
)
def test_calculate_gain_equals_torchs(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(5, 3), (4, 6, 3), (8, 2, 3, 5)])
def test_fans_equal_torchs(shape):
    assert init._calculate_fan_in_and_fan_out(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def _compare(ours, theirs, bound=None):
    """Mean and std within 5 standard errors of each other; both inside ``bound``."""
    ours, theirs = np.asarray(ours, np.float64), theirs.numpy().astype(np.float64)
    assert ours.shape == theirs.shape
    n = ours.size
    se_mean = theirs.std() / math.sqrt(n)
    assert abs(ours.mean() - theirs.mean()) < 5 * math.sqrt(2) * se_mean
    # the std of a sample std is about std * sqrt(kurtosis - 1) / (2 sqrt(n)); 1.5 covers uniform and normal
    assert abs(ours.std() - theirs.std()) < 5 * math.sqrt(2) * theirs.std() * 1.5 / (2 * math.sqrt(n))
    if bound is not None:
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound
        assert np.abs(ours).max() > 0.99 * bound


CASES = [
    ("kaiming_uniform_", {}, True),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, True),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, True),
    ("kaiming_normal_", {}, False),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}, False),
    ("xavier_uniform_", {"gain": 2.0}, True),
    ("xavier_normal_", {}, False),
    ("uniform_", {"a": -0.5, "b": 2.0}, False),
    ("normal_", {"mean": 1.0, "std": 0.3}, False),
    ("trunc_normal_", {"mean": 0.5, "std": 1.0, "a": -1.0, "b": 1.5}, False),
]


@pytest.mark.parametrize("name,options,bounded", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_distributions_match_torch(name, options, bounded):
    ours = getattr(init, name)(KEY, SHAPE, **options)
    theirs = getattr(torch.nn.init, name)(torch.empty(SHAPE), **options)
    bound = None
    if bounded:
        fan_in, fan_out = 128 * 9, 256 * 9
        if name == "xavier_uniform_":
            bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
        else:
            gain = init.calculate_gain(options.get("nonlinearity", "leaky_relu"), options.get("a", 0))
            bound = math.sqrt(3) * gain / math.sqrt(fan_in if options.get("mode", "fan_in") == "fan_in" else fan_out)
    _compare(ours, theirs, bound)
    if name == "trunc_normal_":
        assert float(ours.min()) >= -1.0 and float(ours.max()) <= 1.5


def test_constants_and_array_argument():
    w = jnp.ones((3, 4), jnp.float16)
    assert init.zeros_(w).dtype == jnp.float16 and float(init.zeros_(w).sum()) == 0
    chex.assert_trees_all_equal(init.ones_((2,)), jnp.ones(2))
    chex.assert_trees_all_equal(init.constant_((2, 2), 0.3), jnp.full((2, 2), 0.3))
    assert init.kaiming_uniform_(KEY, w).dtype == jnp.float16


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 3, 2)])
def test_orthogonal_is_orthogonal_times_gain(shape):
    q = np.asarray(init.orthogonal_(KEY, shape, gain=2.0), np.float64).reshape(shape[0], -1)
    small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    chex.assert_trees_all_close(small, 4.0 * np.eye(small.shape[0]), atol=1e-5)
    t = torch.nn.init.orthogonal_(torch.empty(shape), gain=2.0).reshape(shape[0], -1).double().numpy()
    t_small = t @ t.T if t.shape[0] <= t.shape[1] else t.T @ t
    chex.assert_trees_all_close(small, t_small, atol=1e-5)


def test_errors_and_empty():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(KEY, (5,))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(KEY, (3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(KEY, (3,))
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(KEY, (0, 3)).shape == (0, 3)


@pytest.mark.parametrize(
    "jlayer,tlayer",
    [
        (lambda r: jaxnn.Linear(300, 200, rngs=r), lambda: torch.nn.Linear(300, 200)),
        (lambda r: jaxnn.Bilinear(30, 20, 100, rngs=r), lambda: torch.nn.Bilinear(30, 20, 100)),
        (lambda r: jaxnn.Conv1d(32, 64, 5, rngs=r), lambda: torch.nn.Conv1d(32, 64, 5)),
        (lambda r: jaxnn.ConvTranspose2d(32, 64, 3, groups=4, rngs=r), lambda: torch.nn.ConvTranspose2d(32, 64, 3, groups=4)),
        (lambda r: jaxnn.Embedding(500, 64, rngs=r), lambda: torch.nn.Embedding(500, 64)),
    ],
    ids=["linear", "bilinear", "conv1d", "conv_transpose2d", "embedding"],
)
def test_layer_defaults_match_torchs(jlayer, tlayer):
    j, t = jlayer(nnx.Rngs(0)), tlayer()
    t_weight = t.weight.detach()
    bound = None
    if not isinstance(t, torch.nn.Embedding):
        fan_in = t_weight.shape[1] * math.prod(t_weight.shape[2:])
        bound = 1 / math.sqrt(fan_in) if not isinstance(t, torch.nn.Bilinear) else 1 / math.sqrt(t_weight.shape[1])
    _compare(j.weight[...], t_weight, bound)


@pytest.mark.parametrize("shape", [(3,), (64, 64), (65, 64, 1), (1000, 101), (3, 7, 5, 5)])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_bucketed_draws_are_jax_randoms_own_bits(shape, dtype):
    """The samplers draw a flat bucket-length array and cut it (one compile per bucket, not per shape):
    under JAX's default partitionable threefry that is bit for bit the direct draw at the shape."""
    assert jax.config.jax_threefry_partitionable
    key = jax.random.key(11)
    cases = {
        "uniform_": (init.uniform_(key, shape, -0.5, 2.0, dtype=dtype), jax.random.uniform(key, shape, dtype, -0.5, 2.0)),
        "normal_": (init.normal_(key, shape, 0.0, 1.0, dtype=dtype), jax.random.normal(key, shape, dtype)),
        "trunc_normal_": (
            init.trunc_normal_(key, shape, 0.0, 1.0, -2.0, 2.0, dtype=dtype),
            jnp.clip(jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype), -2.0, 2.0),
        ),
    }
    for name, (got, direct) in cases.items():
        assert got.shape == tuple(shape) and got.dtype == dtype, name
        np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(direct, np.float32), err_msg=name)


def test_bucket_lengths_cover_and_waste_at_most_a_sixteenth():
    for n in [1, 4096, 4097, 65536, 65537, 100_000, 2**20 + 1, 3 * 2**21 - 5]:
        b = init._bucket(n)
        assert b >= n and (n <= 2**16 or b - n <= n / 16), (n, b)
    assert len({init._bucket(n) for n in range(1, 4097)}) == 1  # every small parameter shares one sampler
