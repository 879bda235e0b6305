"""Activations against torch: values and gradients, at the kinks included."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.parity import assert_parity


def _x(dtype):
    """Random values plus the kinks of every activation (0, -0, +-1, 6, 20) and large magnitudes."""
    rng = np.random.default_rng(0)
    kinks = [0.0, -0.0, 1.0, -1.0, 6.0, 20.0, -20.0, 10.0, 0.5, -0.5, 90.0, -90.0, 2.0, -2.0, 3.0, -3.0]
    return np.concatenate([rng.standard_normal(20) * 3, kinks]).astype(dtype).reshape(4, -1)


CASES = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 6.0}),
    ("elu", {}),
    ("elu", {"alpha": 2.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 1.0}),
    ("softplus", {"beta": 0.5, "threshold": 0.0}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("softmax", {"dim": 1}),
    ("softmax", {"dim": 0}),
    ("log_softmax", {"dim": -1}),
]


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_values_and_gradients(name, options, float_dtype):
    """Under jit (options static); the kink tests below run eagerly."""
    assert_parity(getattr(F, name), getattr(TF, name), (_x(float_dtype),), options, jit=True)


def test_kink_gradients_are_torchs():
    """Hand-checked torch subgradients (torch 2.13 autograd) at each kink."""
    x = jnp.array([-1.0, 0.0, 1.0, 6.0])
    grad = lambda f: jax.grad(lambda v: jnp.sum(f(v)))(x)  # noqa: E731
    chex.assert_trees_all_equal(grad(F.relu), jnp.array([0.0, 0.0, 1.0, 1.0]))
    chex.assert_trees_all_equal(grad(F.relu6), jnp.array([0.0, 0.0, 1.0, 0.0]))
    chex.assert_trees_all_equal(grad(F.hardtanh), jnp.array([0.0, 1.0, 0.0, 0.0]))
    chex.assert_trees_all_equal(grad(F.leaky_relu), jnp.array([0.01, 0.01, 1.0, 1.0]))
    chex.assert_trees_all_close(grad(lambda v: F.elu(v, alpha=2.0))[1], 2.0)


def test_large_inputs_give_finite_gradients():
    x = jnp.array([-1e4, -100.0, 100.0, 1e4])
    for fn in (F.elu, F.softplus, F.silu, F.gelu, F.sigmoid):
        g = jax.grad(lambda v: jnp.sum(fn(v)))(x)
        assert np.all(np.isfinite(g)), fn.__name__


def test_nan_propagates():
    x = jnp.array([jnp.nan, 1.0])
    for fn in (F.relu, F.hardtanh, F.leaky_relu, F.elu, F.softplus):
        assert np.isnan(fn(x)[0]), fn.__name__


@pytest.mark.parametrize("shape,weight_size", [((3, 4, 5), 4), ((3, 4), 1), ((6,), 1), ((2, 3, 2, 2), 3)])
def test_prelu_parity_for_input_and_weight(shape, weight_size, float_dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(float_dtype)
    x.reshape(-1)[::4] = 0.0
    w = rng.uniform(0.1, 0.5, weight_size).astype(float_dtype)
    assert_parity(F.prelu, TF.prelu, (x, w), wrt=(0, 1))


def test_prelu_rejects_wrong_weight_size():
    with pytest.raises(ValueError, match="3 elements.*channels 4"):
        F.prelu(jnp.ones((2, 4)), jnp.ones(3))


def test_softmax_implicit_dim_warns_and_picks_torchs_dim():
    x = _x("float32")[None]  # 3-D: torch's implicit dim is 0
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    with pytest.warns(UserWarning):
        t = TF.softmax(torch.tensor(x))
    chex.assert_trees_all_close(y, t.numpy(), rtol=1e-6)


def test_softmax_dtype_argument_casts_first():
    x = np.array([[1.0, 2.0, 3.0]], np.float16)
    y = F.log_softmax(x, dim=1, dtype=jnp.float32)
    assert y.dtype == jnp.float32
    chex.assert_trees_all_close(y, TF.log_softmax(torch.tensor(x), dim=1, dtype=torch.float32).numpy(), rtol=1e-6)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(jnp.ones(2), approximate="erf")
    with pytest.raises(ValueError, match="max_val"):
        F.hardtanh(jnp.ones(2), 1.0, -1.0)
    with pytest.raises(ValueError, match="out of range"):
        F.softmax(jnp.ones((2, 3)), dim=2)
