"""Activations against torch: values and gradients, at the kinks included."""

import inspect

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
    """Random values plus the kinks of every activation (0, -0, +-0.5 (the default
    lambd), +-1, +-2, +-3 (hardswish, hardsigmoid), 6, 20) and large magnitudes; a
    4 x 10 grid, so glu can halve either dimension."""
    rng = np.random.default_rng(0)
    kinks = [0.0, -0.0, 1.0, -1.0, 6.0, 20.0, -20.0, 10.0, 0.5, -0.5, 90.0, -90.0, 2.0, -2.0, 3.0, -3.0]
    return np.concatenate([rng.standard_normal(24) * 3, kinks]).astype(dtype).reshape(4, -1)


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
    ("celu", {}),
    ("celu", {"alpha": 2.0}),
    ("selu", {}),
    ("glu", {}),
    ("glu", {"dim": 0}),
    ("hardshrink", {}),
    ("hardshrink", {"lambd": 2.0}),
    ("softshrink", {}),
    ("softshrink", {"lambd": 3.0}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("logsigmoid", {}),
    ("mish", {}),
    ("rrelu", {}),
    ("rrelu", {"lower": 0.1, "upper": 0.5, "training": False}),
    ("softmin", {"dim": 1}),
    ("softsign", {}),
    ("tanhshrink", {}),
    ("threshold", {"threshold": 0.5, "value": -2.0}),
    ("threshold", {"threshold": 3.0, "value": 3.0}),
    ("normalize", {}),
    ("normalize", {"p": 1.0, "dim": 0}),
    ("normalize", {"p": float("inf"), "dim": -1, "eps": 0.5}),
    ("normalize", {"p": 3.0, "eps": 1e3}),
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


def test_new_kink_gradients_are_torchs():
    """torch 2.13's subgradients, read off its autograd, at exactly the kinks."""
    x = jnp.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    grad = lambda f: np.asarray(jax.jit(jax.grad(lambda v: jnp.sum(f(v))))(x))  # noqa: E731
    np.testing.assert_array_equal(grad(F.hardshrink), [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(grad(F.softshrink), [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(grad(lambda v: F.threshold(v, 0.5, -2.0)), [0, 0, 0, 0, 1])
    np.testing.assert_allclose(grad(F.hardsigmoid), [0, 1 / 6, 1 / 6, 1 / 6, 0], rtol=1e-6)
    np.testing.assert_allclose(grad(F.hardswish), [0, 1 / 3, 0.5, 2 / 3, 1], rtol=1e-6)
    np.testing.assert_allclose(grad(F.selu)[2], 1.0507009873554805 * 1.6732632423543772, rtol=1e-6)
    np.testing.assert_allclose(grad(lambda v: F.celu(v, 2.0))[2], 1.0, rtol=1e-6)
    np.testing.assert_allclose(grad(F.rrelu)[2], (1 / 8 + 1 / 3) / 2, rtol=1e-6)
    np.testing.assert_allclose(grad(F.softsign)[2], 1.0)


def test_new_functions_propagate_nan_as_torch():
    x = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    for name, options in [("softshrink", {}), ("hardshrink", {}), ("threshold", {"threshold": 0.0, "value": 5.0}),
                          ("hardsigmoid", {}), ("hardswish", {}), ("celu", {}), ("selu", {}), ("mish", {})]:
        got = np.asarray(getattr(F, name)(x, **options))
        np.testing.assert_allclose(got, getattr(TF, name)(torch.tensor(x), **options).numpy(), rtol=1e-6, err_msg=name)


def test_rrelu_training_draws_slopes_in_range_from_the_key():
    x = jnp.concatenate([-jnp.ones(2000), jnp.zeros(1), jnp.ones(5)])
    key = jax.random.key(0)
    y, vjp = jax.vjp(lambda v: F.rrelu(v, 0.1, 0.3, training=True, key=key), x)
    (g,) = vjp(jnp.ones_like(x))
    slopes = -np.asarray(y[:2000])
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    # U(0.1, 0.3): mean 0.2, sd 0.2 / sqrt(12); 5 standard errors
    assert abs(slopes.mean() - 0.2) < 5 * 0.2 / np.sqrt(12 * 2000)
    # the gradient is the drawn slope where x <= 0 (x == 0 included, torch's noise), 1 above
    np.testing.assert_allclose(g[:2000], slopes, rtol=1e-6)
    assert 0.1 <= float(g[2000]) <= 0.3 and float(y[2000]) == 0.0
    np.testing.assert_array_equal(g[2001:], 1.0)
    chex.assert_trees_all_equal(F.rrelu(x, 0.1, 0.3, training=True, key=key), y)
    with pytest.raises(ValueError, match="key"):
        F.rrelu(x, training=True)


def test_gumbel_softmax_distribution_and_straight_through_gradient():
    logits = jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4]))
    batch = jnp.broadcast_to(logits, (4000, 4))
    key = jax.random.key(1)
    gumbel = jax.jit(F.gumbel_softmax, static_argnames=("tau", "hard", "dim"))
    soft = gumbel(batch, tau=0.5, key=key)
    np.testing.assert_allclose(np.asarray(soft.sum(-1)), 1.0, rtol=1e-5)
    hard = gumbel(batch, tau=0.5, hard=True, key=key)
    assert set(np.unique(np.asarray(hard))) == {0.0, 1.0}
    np.testing.assert_array_equal(np.asarray(hard.sum(-1)), 1.0)
    np.testing.assert_array_equal(np.asarray(hard.argmax(-1)), np.asarray(soft.argmax(-1)))
    # the Gumbel-max trick: the argmax is a draw from softmax(logits)
    freq = np.bincount(np.asarray(hard.argmax(-1)), minlength=4) / 4000
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.all(np.abs(freq - probs) < 5 * np.sqrt(probs * (1 - probs) / 4000)), freq
    ct = jnp.arange(16.0).reshape(4, 4)
    g_hard = jax.jit(lambda v: jax.vjp(lambda u: gumbel(u, hard=True, dim=0, key=key), v)[1](v)[0])(ct)
    g_soft = jax.jit(lambda v: jax.vjp(lambda u: gumbel(u, dim=0, key=key), v)[1](v)[0])(ct)
    np.testing.assert_allclose(g_hard, g_soft, rtol=1e-6)
    with pytest.warns(UserWarning, match="eps"):
        F.gumbel_softmax(logits, eps=1e-3, key=key)


def test_normalize_zero_and_tiny_rows_match_torch(float_dtype):
    x = np.array([[0.0, 0.0, 0.0], [1e-13, 0.0, -1e-13], [3.0, -4.0, 0.0]], float_dtype)
    for options in ({"dim": 1}, {"p": 1.0, "dim": 1, "eps": 1e-12}):
        assert_parity(F.normalize, TF.normalize, (x,), options)


def test_one_hot_matches_torch_and_checks_classes():
    idx = np.array([[0, 3], [2, 2]])
    np.testing.assert_array_equal(F.one_hot(idx), TF.one_hot(torch.tensor(idx)).numpy())
    np.testing.assert_array_equal(F.one_hot(idx, 6), TF.one_hot(torch.tensor(idx), 6).numpy())
    assert jax.jit(lambda i: F.one_hot(i, 5))(idx).shape == (2, 2, 5)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(np.array([1, -1]), 3)
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(np.array([1, 5]), 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(np.array([1.0]), 3)
    with pytest.raises(ValueError, match="under jit"):
        jax.jit(F.one_hot)(idx)


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
    with pytest.raises(ValueError, match="dimension 1 is size 5"):
        F.glu(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="scalars"):
        F.glu(jnp.ones(()))
    with pytest.raises(ValueError, match="lambd"):
        F.softshrink(jnp.ones(2), -1.0)
    with pytest.raises(ValueError, match="alpha cannot be 0"):
        F.celu(jnp.ones(2), 0.0)
    with pytest.raises(ValueError, match="Lower bound"):
        F.rrelu(jnp.ones(2), 0.5, 0.2)
    with pytest.raises(TypeError, match="out="):
        F.normalize(jnp.ones((2, 2)), out=jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="out of range"):
        F.normalize(jnp.ones(3))


def test_in_place_variants_are_deliberately_absent():
    """JAX cannot mutate: F.relu_ and friends fail loudly rather than pretend."""
    for name in ("relu_", "elu_", "celu_", "selu_", "leaky_relu_", "hardtanh_", "rrelu_", "threshold_"):
        assert hasattr(TF, name) and not hasattr(F, name), name


# torch builtins without an introspectable signature are left out (prelu, gelu,
# logsigmoid, softplus, hardshrink, softshrink, one_hot, the distances)
SIGNATURE_NAMES = (
    "threshold relu glu hardtanh relu6 elu selu celu leaky_relu rrelu softmin softmax log_softmax "
    "gumbel_softmax tanhshrink softsign tanh sigmoid hardsigmoid silu mish hardswish normalize "
    "dropout alpha_dropout dropout1d dropout2d dropout3d feature_alpha_dropout embedding embedding_bag"
).split()


@pytest.mark.parametrize("name", SIGNATURE_NAMES)
def test_signature_is_torchs(name):
    """torch's positional names and defaults, in order; jaxnn adds only keyword-only ``key``."""
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(TF, name)).parameters.values()]
    ours = inspect.signature(getattr(F, name)).parameters.values()
    assert [(p.name, p.default) for p in ours if p.kind != p.KEYWORD_ONLY] == theirs
    assert {p.name for p in ours if p.kind == p.KEYWORD_ONLY} <= {"key"}
