"""Activation layers against torch's modules, in train and eval mode."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import assert_layer_parity

CASES = [
    ("ReLU", (), {}),
    ("ReLU6", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("Hardtanh", (-0.5, 0.5), {}),
    ("ELU", (), {"alpha": 1.5}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}),
    ("Softplus", (), {"beta": 2.0, "threshold": 3.0}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("Softmax", (1,), {}),
    ("LogSoftmax", (), {"dim": -1}),
    ("PReLU", (), {}),
    ("PReLU", (3,), {"init": 0.1}),
    ("CELU", (1.5,), {}),
    ("SELU", (), {}),
    ("GLU", (), {}),
    ("GLU", (0,), {}),
    ("Hardshrink", (), {}),
    ("Softshrink", (0.3,), {}),
    ("Hardsigmoid", (), {}),
    ("Hardswish", (), {}),
    ("LogSigmoid", (), {}),
    ("Mish", (), {}),
    ("Softmax2d", (), {}),
    ("Softmin", (1,), {}),
    ("Softsign", (), {}),
    ("Tanhshrink", (), {}),
    ("Threshold", (0.5, -1.0), {}),
]


@pytest.mark.parametrize("name,args,options", CASES, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES])
def test_module_matches_torch(name, args, options):
    """Activations do not depend on the mode; the eval switch is covered by PReLU below."""
    _check(name, args, options, train=True)


def test_eval_mode_is_the_same_function():
    _check("PReLU", (3,), {}, train=False)


def test_rrelu_eval_is_torchs_fixed_slope():
    _check("RReLU", (0.1, 0.4), {}, train=False)


def test_rrelu_training_draws_fresh_slopes_from_the_module_stream():
    x = -jnp.ones(500)
    layer = jaxnn.RReLU(0.1, 0.3, rngs=nnx.Rngs(0))
    a, b = np.asarray(layer(x)), np.asarray(layer(x))
    assert not np.array_equal(a, b)
    assert (-a).min() >= 0.1 and (-a).max() <= 0.3
    chex.assert_trees_all_equal(jaxnn.RReLU(0.1, 0.3, rngs=nnx.Rngs(0))(x), a)
    with pytest.raises(ValueError, match="rngs"):
        jaxnn.RReLU()(x)
    chex.assert_trees_all_close(jaxnn.RReLU().eval()(x), -jnp.full(500, (1 / 8 + 1 / 3) / 2))


def _check(name, args, options, train):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32) * 3
    x[0, :, 0] = [0.0, -0.5, 0.5]  # kinks of relu / leaky / hardtanh / elu / prelu / shrinks / threshold
    x[1, :2, 0] = [-3.0, 3.0]  # hardswish / hardsigmoid
    assert_layer_parity(getattr(jaxnn, name)(*args, **options), getattr(torch.nn, name)(*args, **options), (x,), train=train)


def test_prelu_state_dict_matches_torch():
    j, t = jaxnn.PReLU(4), torch.nn.PReLU(4)
    assert {k: v.shape for k, v in jaxnn.state_dict(j).items()} == {"weight": (4,)}
    np.testing.assert_array_equal(jaxnn.state_dict(j)["weight"], t.weight.detach().numpy())


def test_bad_options_raise():
    with pytest.raises(ValueError, match="approximate"):
        jaxnn.GELU("erf")
    with pytest.raises(ValueError, match="max_val"):
        jaxnn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="3D or 4D"):
        jaxnn.Softmax2d()(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="dimension 1 is size 3"):
        jaxnn.GLU(1)(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="Lower bound"):
        jaxnn.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match="lambd"):
        jaxnn.Softshrink(-0.5)


def test_class_hierarchy_is_torchs():
    """``isinstance(m, nn.ReLU)`` checks (module swapping, fusion) see what they see in torch:
    ReLU6 is a Hardtanh, and no activation is a subclass of an unrelated one."""
    names = [c[0] for c in CASES] + ["RReLU"]
    for a in names:
        for b in names:
            expected = issubclass(getattr(torch.nn, a), getattr(torch.nn, b))
            assert issubclass(getattr(jaxnn, a), getattr(jaxnn, b)) == expected, (a, b)
