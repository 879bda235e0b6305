"""register_parametrization and friends against torch.nn.utils.parametrize."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.nn.utils import parametrize
from tests.nn import as_dtype, assert_layer_parity, randn


class JSymmetric(jaxnn.Module):
    def __call__(self, x):
        return jnp.triu(x) + jnp.triu(x, 1).T

    def right_inverse(self, a):
        return jnp.triu(a)


class TSymmetric(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)

    def right_inverse(self, a):
        return a.triu()


class JDouble(jaxnn.Module):
    def __call__(self, x):
        return 2 * x


class TDouble(torch.nn.Module):
    def forward(self, x):
        return 2 * x


class JScale(jaxnn.Module):
    """Two originals: right_inverse splits the weight into a scale and a direction."""

    def __call__(self, s, d):
        return s * d

    def right_inverse(self, w):
        return jnp.linalg.norm(w), w / jnp.linalg.norm(w)


class TScale(torch.nn.Module):
    def forward(self, s, d):
        return s * d

    def right_inverse(self, w):
        return w.norm(), w / w.norm()


def _layers(dtype="float32"):
    j = jaxnn.Linear(3, 3, rngs=nnx.Rngs(0), dtype=dtype)
    t = as_dtype(torch.nn.Linear(3, 3), dtype)
    jaxnn.load_state_dict(j, t.state_dict())
    return j, t


def test_chained_parametrizations_keys_values_and_gradients(float_dtype):
    j, t = _layers(float_dtype)
    parametrize.register_parametrization(j, "weight", JSymmetric())
    torch.nn.utils.parametrize.register_parametrization(t, "weight", TSymmetric())
    parametrize.register_parametrization(j, "weight", JDouble())
    torch.nn.utils.parametrize.register_parametrization(t, "weight", TDouble())
    parametrize.register_parametrization(j, "bias", JScale())
    torch.nn.utils.parametrize.register_parametrization(t, "bias", TScale())
    assert type(j).__name__ == type(t).__name__ == "ParametrizedLinear"
    assert list(jaxnn.state_dict(j)) == list(t.state_dict()) == [
        "parametrizations.weight.original",
        "parametrizations.bias.original0",
        "parametrizations.bias.original1",
    ]
    chex.assert_trees_all_close(jaxnn.state_dict(j), {k: v.numpy() for k, v in t.state_dict().items()}, rtol=1e-6)
    assert_layer_parity(j, t, (randn(4, 3, dtype=float_dtype),))
    assert parametrize.is_parametrized(j) and parametrize.is_parametrized(j, "bias")
    assert not parametrize.is_parametrized(j, "nope") and parametrize.type_before_parametrizations(j) is jaxnn.Linear
    assert repr(j) == repr(t).replace("TSymmetric", "JSymmetric").replace("TScale", "JScale").replace("TDouble", "JDouble")


def test_assignment_goes_through_right_inverse_and_remove_restores_the_class():
    j, t = _layers()
    parametrize.register_parametrization(j, "weight", JSymmetric())
    torch.nn.utils.parametrize.register_parametrization(t, "weight", TSymmetric())
    value = randn(3, 3)
    j.weight = value
    with torch.no_grad():
        t.weight = torch.from_numpy(value)
    chex.assert_trees_all_close(jaxnn.state_dict(j)["parametrizations.weight.original"], t.state_dict()["parametrizations.weight.original"].numpy())
    with parametrize.cached():
        assert j.weight is j.weight
    assert j.weight is not j.weight
    parametrize.remove_parametrizations(j, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(t, "weight")
    assert type(j) is jaxnn.Linear and list(jaxnn.state_dict(j)) == list(t.state_dict()) == ["bias", "weight"]
    chex.assert_trees_all_close(jaxnn.state_dict(j)["weight"], t.weight.detach().numpy(), rtol=1e-6)
    assert isinstance(vars(j)["weight"], jaxnn.Parameter)


def test_remove_keeping_the_original_and_the_errors():
    j, _ = _layers()
    before = np.asarray(j.weight[...])
    parametrize.register_parametrization(j, "weight", JSymmetric())
    parametrize.remove_parametrizations(j, "weight", leave_parametrized=False)
    chex.assert_trees_all_close(j.weight[...], np.triu(before))
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(j, "weight")
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with name 'nope'"):
        parametrize.register_parametrization(j, "nope", JSymmetric())

    class Shrink(jaxnn.Module):
        def __call__(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(j, "weight", Shrink())
    parametrize.register_parametrization(j, "bias", JScale())
    with pytest.raises(ValueError, match="sequence of tensors"):
        parametrize.remove_parametrizations(j, "bias", leave_parametrized=False)


def test_parametrized_model_trains_in_a_jitted_step():
    j, _ = _layers()
    parametrize.register_parametrization(j, "weight", JSymmetric())
    graphdef, params, rest = nnx.split(j, nnx.Param, ...)
    x = randn(4, 3)

    @jax.jit
    def loss(p):
        return jnp.sum(nnx.merge(graphdef, p, rest, copy=True)(x) ** 2)

    grads = jax.grad(loss)(params)
    g = grads["parametrizations"]["weight"]["original"][...]
    assert g.shape == (3, 3) and float(jnp.abs(jnp.tril(g, -1)).max()) == 0.0


@pytest.mark.parametrize("two_originals", [False, True])
def test_transfer_parametrizations_and_params_equals_torch(two_originals):
    j_from, t_from = _layers()
    make = (JScale, TScale) if two_originals else (JSymmetric, TSymmetric)
    parametrize.register_parametrization(j_from, "weight", make[0]())
    torch.nn.utils.parametrize.register_parametrization(t_from, "weight", make[1]())
    j_to, t_to = jaxnn.Linear(3, 3, rngs=nnx.Rngs(5)), torch.nn.Linear(3, 3)
    parametrize.transfer_parametrizations_and_params(j_from, j_to)
    torch.nn.utils.parametrize.transfer_parametrizations_and_params(t_from, t_to)
    expected = {k: v for k, v in t_to.state_dict().items() if "bias" not in k}
    got = jaxnn.state_dict(j_to)
    assert list(got) == list(t_to.state_dict())
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value.detach().numpy(), rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(j_to.weight, t_to.weight.detach().numpy(), rtol=1e-6)
