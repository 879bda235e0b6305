"""Lazy modules: the first input fixes the size and the module becomes torch's eager class.

One table drives every test; a row's eager class that jaxnn does not have yet
(Conv3d, InstanceNorm*) is reported by the constructor and checked there, so
the rows turn into full parity tests as those classes land."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import assert_layer_parity, randn

# lazy name, constructor args, input shape, eager args (the inferred size first)
CASES = [
    ("LazyLinear", (4,), {}, (2, 3), (3, 4)),
    ("LazyLinear", (4,), {"bias": False}, (5, 2, 3), (3, 4)),
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 6), (3, 4, 3)),
    ("LazyConv2d", (4, 3), {"groups": 2, "stride": 2}, (2, 6, 5, 5), (6, 4, 3)),
    ("LazyConv2d", (2, 2), {}, (3, 4, 4), (3, 2, 2)),
    ("LazyConv3d", (2, 2), {}, (1, 3, 4, 4, 4), (3, 2, 2)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2}, (2, 3, 5), (3, 4, 3)),
    ("LazyConvTranspose2d", (2, 3), {"groups": 2}, (2, 4, 3, 3), (4, 2, 3)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 2, 2, 2), (3, 2, 2)),
    ("LazyBatchNorm1d", (), {"momentum": None}, (4, 3), (3,)),
    ("LazyBatchNorm2d", (), {"affine": False}, (2, 3, 4, 4), (3,)),
    ("LazyBatchNorm3d", (), {}, (2, 3, 2, 2, 2), (3,)),
    ("LazyInstanceNorm1d", (), {"affine": True}, (2, 3, 5), (3,)),
    ("LazyInstanceNorm2d", (), {"track_running_stats": True}, (2, 3, 4, 4), (3,)),
    ("LazyInstanceNorm3d", (), {}, (2, 3, 2, 2, 2), (3,)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _eager_name(lazy: str) -> str:
    return lazy[len("Lazy") :]


def _build(name, args, kwargs, seed=0):
    """The lazy module, or a skip-free marker when jaxnn lacks the eager class today."""
    try:
        return getattr(jaxnn, name)(*args, **kwargs, rngs=nnx.Rngs(seed))
    except NotImplementedError as error:
        assert not hasattr(jaxnn.nn, _eager_name(name)), error
        assert f"jaxnn.nn.{_eager_name(name)} is not available" in str(error)
        return None


@pytest.mark.parametrize("name,args,kwargs,shape,eager_args", CASES, ids=IDS)
def test_first_call_becomes_the_eager_layer_with_its_init(name, args, kwargs, shape, eager_args):
    lazy = _build(name, args, kwargs)
    if lazy is None:
        return
    assert lazy.has_uninitialized_params() and jaxnn.state_dict(lazy) == {}
    x = randn(*shape)
    y = lazy(x)
    eager_cls = getattr(jaxnn, _eager_name(name))
    # torch's lazy instance norms default to affine and running stats, the eager ones to neither
    lazy_defaults = {"affine": True, "track_running_stats": True} if "InstanceNorm" in name else {}
    eager = eager_cls(*eager_args, **{**lazy_defaults, **kwargs}, rngs=nnx.Rngs(0))
    assert type(lazy) is eager_cls and repr(lazy) == repr(eager)
    chex.assert_trees_all_close(y, eager(x))
    chex.assert_trees_all_equal(jaxnn.state_dict(lazy), jaxnn.state_dict(eager))
    tlazy = getattr(torch.nn, name)(*args, **kwargs)
    tlazy(torch.from_numpy(x))
    assert list(jaxnn.state_dict(lazy)) == list(tlazy.state_dict())
    assert {k: v.shape for k, v in jaxnn.state_dict(lazy).items()} == {
        k: tuple(v.shape) for k, v in tlazy.state_dict().items()
    }


def test_materialised_layer_matches_torch_in_value_and_gradient():
    lazy, tlazy = jaxnn.LazyConv2d(4, 3, groups=2, rngs=nnx.Rngs(0)), torch.nn.LazyConv2d(4, 3, groups=2)
    x = randn(2, 6, 5, 5)
    lazy(x), tlazy(torch.from_numpy(x))
    assert_layer_parity(lazy, tlazy, (x,))


@pytest.mark.parametrize("name,args,kwargs,shape,eager_args", CASES[:4] + CASES[6:8] + CASES[9:10], ids=IDS[:4] + IDS[6:8] + IDS[9:10])
def test_loading_a_state_dict_materialises_with_its_shapes(name, args, kwargs, shape, eager_args):
    tlazy = getattr(torch.nn, name)(*args, **kwargs)
    tlazy(torch.from_numpy(randn(*shape)))
    model = jaxnn.Sequential(_build(name, args, kwargs))
    jaxnn.load_state_dict(model, {f"0.{k}": v for k, v in tlazy.state_dict().items()})
    assert type(model[0]).__name__ == _eager_name(name)
    x = randn(*shape)
    expected = tlazy.eval()(torch.from_numpy(x)).detach().numpy()
    chex.assert_trees_all_close(model[0].eval()(x), expected, rtol=1e-5, atol=1e-6)


def test_default_init_distribution_is_torchs():
    """LazyLinear(256) on a 64-feature input: U(-1/8, 1/8) as torch's kaiming-uniform(sqrt(5))."""
    layer = jaxnn.LazyLinear(256, rngs=nnx.Rngs(3))
    layer(np.ones((1, 64), np.float32))
    w = np.asarray(layer.weight[...])
    assert w.shape == (256, 64) and np.abs(w).max() <= 1 / 8
    np.testing.assert_allclose(w.std(), 1 / 8 / np.sqrt(3), rtol=0.03)


def test_mode_and_nesting_are_kept():
    model = jaxnn.Sequential(jaxnn.LazyLinear(3, rngs=nnx.Rngs(0)), jaxnn.LazyBatchNorm1d())
    model.eval()
    model(np.ones((2, 5), np.float32))
    assert not model[1].training and list(jaxnn.state_dict(model))[:2] == ["0.weight", "0.bias"]
    graphdef, state = nnx.split(model)
    out = nnx.jit(lambda m, x: m(x))(nnx.merge(graphdef, state), np.ones((2, 5), np.float32))
    chex.assert_trees_all_close(out, model(np.ones((2, 5), np.float32)))


def test_traced_first_call_says_to_call_it_eagerly():
    layer = jaxnn.LazyLinear(4, rngs=nnx.Rngs(0))
    with pytest.raises(RuntimeError, match="call the model once eagerly"):
        nnx.jit(lambda m, x: m(x))(layer, jnp.ones((2, 3)))
    with pytest.raises(RuntimeError, match="call the model once eagerly"):
        jax.jit(lambda x: layer(x))(jnp.ones((2, 3)))
    assert layer.has_uninitialized_params()
    layer(jnp.ones((2, 3)))
    assert jax.jit(lambda x: layer(x))(jnp.ones((2, 3))).shape == (2, 4)


def test_bad_arguments_and_inputs():
    with pytest.raises(TypeError, match="LazyLinear.*unexpected keyword argument 'foo'"):
        jaxnn.LazyLinear(4, foo=1, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="rngs=nnx.Rngs"):
        jaxnn.LazyConv1d(4, 3)
    with pytest.raises(ValueError, match=r"expected 3D \(unbatched\) or 4D \(batched\) input"):
        jaxnn.LazyConv2d(4, 3, rngs=nnx.Rngs(0))(np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        jaxnn.LazyLinear(4, rngs=nnx.Rngs(0))(np.float32(1.0))


def test_lazy_instance_norm_defaults_are_torchs():
    # torch's lazy instance norms default to affine=True, track_running_stats=True (the eager ones to False)
    layer, reference = jaxnn.LazyInstanceNorm1d(), torch.nn.LazyInstanceNorm1d()
    layer(jnp.ones((2, 3, 4)))
    reference(torch.ones(2, 3, 4))
    assert set(jaxnn.state_dict(layer)) == set(reference.state_dict())
    assert repr(layer) == repr(reference)
