"""weight_norm, spectral_norm and orthogonal (new and legacy APIs) against torch: keys,
values, gradients, power-iteration state, and training through make_train_step."""

import warnings

import chex
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.nn.utils import parametrizations as P
from tests.nn import as_dtype, assert_layer_parity, randn


def _pair(kind, dtype="float32"):
    torch.manual_seed(0)
    if kind == "linear":
        return jaxnn.Linear(3, 4, rngs=nnx.Rngs(0), dtype=dtype), as_dtype(torch.nn.Linear(3, 4), dtype), (5, 3)
    if kind == "conv":
        return jaxnn.Conv2d(2, 3, 2, rngs=nnx.Rngs(0), dtype=dtype), as_dtype(torch.nn.Conv2d(2, 3, 2), dtype), (2, 2, 4, 4)
    return (
        jaxnn.ConvTranspose1d(2, 3, 2, rngs=nnx.Rngs(0), dtype=dtype),
        as_dtype(torch.nn.ConvTranspose1d(2, 3, 2), dtype),
        (2, 2, 4),
    )


def _check(j, t, shape, dtype, train=True):
    assert list(jaxnn.state_dict(j)) == list(t.state_dict())
    assert_layer_parity(j, t, (randn(*shape, dtype=dtype),), train=train)


@pytest.mark.parametrize("kind,dim", [("linear", 0), ("conv", 1), ("transposed", None), ("linear", -1)])
def test_weight_norm(kind, dim, float_dtype):
    j, t, shape = _pair(kind, float_dtype)
    P.weight_norm(j, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(t, dim=dim)
    g = jaxnn.state_dict(j)["parametrizations.weight.original0"]
    assert g.shape == tuple(t.parametrizations.weight.original0.shape)
    _check(j, t, shape, float_dtype)


@pytest.mark.parametrize("kind,train,kwargs", [
    ("linear", True, {}),
    ("conv", True, {"n_power_iterations": 3, "eps": 1e-6}),
    ("transposed", True, {}),
    ("linear", False, {"dim": 1}),
])
def test_spectral_norm(kind, train, kwargs, float_dtype):
    j, t, shape = _pair(kind, float_dtype)
    P.spectral_norm(j, **kwargs)
    torch.nn.utils.parametrizations.spectral_norm(t, **kwargs)
    assert j.parametrizations.weight[0].dim == t.parametrizations.weight[0].dim
    _check(j, t, shape, float_dtype, train)


def test_spectral_norm_warm_start_estimates_the_top_singular_value():
    j = P.spectral_norm(jaxnn.Linear(5, 4, rngs=nnx.Rngs(1)))
    w = np.asarray(j.parametrizations.weight.original[...])
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(np.linalg.svd(np.asarray(j.eval().weight), compute_uv=False)[0], 1.0, rtol=1e-2)
    u = np.asarray(j.parametrizations.weight[0]._u[...])
    np.testing.assert_allclose(u @ w @ np.asarray(j.parametrizations.weight[0]._v[...]), sigma, rtol=1e-2)


@pytest.mark.parametrize("shape,kwargs", [
    ((3, 3), {}),
    ((3, 3), {"orthogonal_map": "cayley"}),
    ((4, 3), {}),
    ((2, 4), {"orthogonal_map": "householder", "use_trivialization": False}),
    ((4, 3), {"orthogonal_map": "matrix_exp"}),
])
def test_orthogonal(shape, kwargs, x64):
    torch.manual_seed(0)
    j = jaxnn.Linear(shape[1], shape[0], rngs=nnx.Rngs(0), dtype="float64")
    t = torch.nn.Linear(shape[1], shape[0]).double()
    jaxnn.load_state_dict(j, t.state_dict())
    P.orthogonal(j, **kwargs)
    torch.nn.utils.parametrizations.orthogonal(t, **kwargs)
    # A non-square weight under trivialization is completed with random columns: torch's
    # generator and JAX's differ, so only then the states differ before loading torch's.
    if shape[0] == shape[1] or not kwargs.get("use_trivialization", True):
        expected = {k: v.numpy() for k, v in t.state_dict().items()}
        chex.assert_trees_all_close(jaxnn.state_dict(j), expected, rtol=1e-9, atol=1e-12)
    w = np.asarray(j.weight)
    small = min(shape)
    np.testing.assert_allclose(w.T @ w if shape[0] >= shape[1] else w @ w.T, np.eye(small), atol=1e-10)
    _check(j, t, (2, shape[1]), "float64")


def test_orthogonal_rejects_bad_arguments():
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        P.orthogonal(jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)), orthogonal_map="qr")
    with pytest.raises(ValueError, match="Expected a matrix"):
        P.orthogonal(jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)), name="bias")
    with pytest.raises(ValueError, match="no parameter or buffer with name 'w'"):
        P.spectral_norm(jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)), name="w")
    with pytest.raises(ValueError, match="n_power_iterations"):
        P.spectral_norm(jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        P.spectral_norm(jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)), dim=2)


class _JNet(jaxnn.Module):
    def __init__(self):
        self.fc1 = P.weight_norm(jaxnn.Linear(3, 5, rngs=nnx.Rngs(0)))
        self.fc2 = P.spectral_norm(jaxnn.Linear(5, 2, rngs=nnx.Rngs(1)))

    def __call__(self, x):
        return self.fc2(jnp.tanh(self.fc1(x)))


class _TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 5))
        self.fc2 = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(5, 2))

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def test_torch_checkpoint_loads_and_three_sgd_steps_match():
    """Acceptance: both parametrizations, a torch state_dict, torch's outputs, then three
    training steps (power iteration included) equal torch's, parameters and buffers."""
    torch.manual_seed(0)
    t, j = _TNet(), _JNet()
    jaxnn.load_state_dict(j, t.state_dict())
    x, y = randn(6, 3), randn(6, 2, seed=1)
    t.eval(), j.eval()
    chex.assert_trees_all_close(j(x), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    t.train(), j.train()
    step = jaxnn.training.make_train_step(j, jaxnn.MSELoss(), jaxnn.optim.SGD(lr=0.1))
    graphdef, params, rest = jaxnn.training.split_model(j)
    opt_state = jaxnn.optim.SGD(lr=0.1).init(params)
    topt = torch.optim.SGD(t.parameters(), lr=0.1)
    for _ in range(3):
        params, rest, opt_state, _ = step(params, rest, opt_state, (x, y))
        topt.zero_grad()
        torch.nn.functional.mse_loss(t(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
    nnx.update(j, params, rest)
    chex.assert_trees_all_close(
        jaxnn.state_dict(j), {k: v.numpy() for k, v in t.state_dict().items()}, rtol=2e-5, atol=1e-6
    )


def test_legacy_weight_norm_keys_values_gradients_and_removal():
    j, t, shape = _pair("conv")
    with pytest.warns(FutureWarning, match="deprecated"):
        jaxnn.nn.utils.weight_norm(j, dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(t, dim=1)
    assert type(j).__name__ == "Conv2d" and list(jaxnn.state_dict(j)) == ["bias", "weight_g", "weight_v"]
    _check(j, t, shape, "float32")
    jaxnn.nn.utils.remove_weight_norm(j)
    torch.nn.utils.remove_weight_norm(t)
    assert type(j) is jaxnn.Conv2d and list(jaxnn.state_dict(j)) == list(t.state_dict())
    chex.assert_trees_all_close(jaxnn.state_dict(j)["weight"], t.weight.detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        jaxnn.nn.utils.remove_weight_norm(j)


@pytest.mark.parametrize("train", [True, False])
def test_legacy_spectral_norm(train):
    j, t, shape = _pair("transposed")
    jaxnn.nn.utils.spectral_norm(j, n_power_iterations=2)
    torch.nn.utils.spectral_norm(t, n_power_iterations=2)
    assert list(jaxnn.state_dict(j)) == list(t.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    _check(j, t, shape, "float32", train)
    j.load_state_dict(t.state_dict())
    jaxnn.nn.utils.remove_spectral_norm(j)
    torch.nn.utils.remove_spectral_norm(t)
    assert type(j) is jaxnn.ConvTranspose1d and list(jaxnn.state_dict(j)) == list(t.state_dict())
    chex.assert_trees_all_close(jaxnn.state_dict(j)["weight"], t.weight.detach().numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        jaxnn.nn.utils.remove_spectral_norm(j)
