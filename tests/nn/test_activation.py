"""Activation layers against torch's modules, in train and eval mode."""

import numpy as np
import pytest
import torch

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
]


@pytest.mark.parametrize("name,args,options", CASES, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES])
def test_module_matches_torch(name, args, options):
    """Activations do not depend on the mode; the eval switch is covered by PReLU below."""
    _check(name, args, options, train=True)


def test_eval_mode_is_the_same_function():
    _check("PReLU", (3,), {}, train=False)


def _check(name, args, options, train):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    x[0, :, 0] = [0.0, -0.5, 0.5]  # kinks of relu / leaky / hardtanh / elu / prelu
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
