"""Linear, Bilinear, Identity, Flatten, Unflatten against torch."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import as_dtype, assert_layer_parity, randn


@pytest.mark.parametrize(
    "bias,shape,float_dtype",
    [(True, (5, 4), "float32"), (False, (5, 4), "float32"), (True, (2, 3, 4), "float32"), (True, (4,), "float32"), (True, (5, 4), "float64")],
    indirect=["float_dtype"],
)
def test_linear(bias, shape, float_dtype):
    j = jaxnn.Linear(4, 3, bias=bias, rngs=nnx.Rngs(0), dtype=float_dtype)
    t = as_dtype(torch.nn.Linear(4, 3, bias=bias), float_dtype)
    assert_layer_parity(j, t, (randn(*shape, dtype=float_dtype),))


def test_linear_layout_and_names():
    j = jaxnn.Linear(4, 3, rngs=nnx.Rngs(0))
    assert {k: v.shape for k, v in jaxnn.state_dict(j).items()} == {"weight": (3, 4), "bias": (3,)}
    assert jaxnn.state_dict(jaxnn.Linear(4, 3, bias=False, rngs=nnx.Rngs(0))).keys() == {"weight"}


def test_linear_rejects_wrong_features():
    with pytest.raises(ValueError, match=r"\(2, 5\).*in_features=4"):
        jaxnn.Linear(4, 3, rngs=nnx.Rngs(0))(jnp.ones((2, 5)))


def test_linear_needs_rngs():
    with pytest.raises(TypeError, match="rngs"):
        jaxnn.Linear(4, 3)


@pytest.mark.parametrize("bias,float_dtype", [(True, "float32"), (False, "float32"), (True, "float64")], indirect=["float_dtype"])
def test_bilinear(bias, float_dtype):
    j = jaxnn.Bilinear(3, 4, 2, bias=bias, rngs=nnx.Rngs(0), dtype=float_dtype)
    t = as_dtype(torch.nn.Bilinear(3, 4, 2, bias=bias), float_dtype)
    assert_layer_parity(j, t, (randn(5, 3, dtype=float_dtype), randn(5, 4, dtype=float_dtype, seed=1)), wrt=(0, 1))


def test_bilinear_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4, 4\)"):
        jaxnn.Bilinear(3, 4, 2, rngs=nnx.Rngs(0))(jnp.ones((5, 3)), jnp.ones((4, 4)))


@pytest.mark.parametrize(
    "jlayer,tlayer,shape",
    [
        (jaxnn.Identity(54, unused="x"), torch.nn.Identity(54, unused="x"), (2, 3)),
        (jaxnn.Flatten(), torch.nn.Flatten(), (2, 3, 4, 5)),
        (jaxnn.Flatten(0, 2), torch.nn.Flatten(0, 2), (2, 3, 4, 5)),
        (jaxnn.Flatten(-3, -2), torch.nn.Flatten(-3, -2), (2, 3, 4, 5)),
        (jaxnn.Unflatten(1, (2, 5)), torch.nn.Unflatten(1, (2, 5)), (3, 10)),
        (jaxnn.Unflatten(-1, (-1, 2)), torch.nn.Unflatten(-1, (-1, 2)), (3, 10)),
    ],
    ids=["identity", "flatten", "flatten0-2", "flatten-neg", "unflatten", "unflatten-neg"],
)
def test_shape_layers(jlayer, tlayer, shape):
    assert_layer_parity(jlayer, tlayer, (randn(*shape),))


def test_flatten_rejects_reversed_dims():
    with pytest.raises(ValueError, match="start_dim"):
        jaxnn.Flatten(2, 1)(jnp.ones((2, 3, 4)))


def test_default_init_bounds_match_torch():
    """weight and bias U(+-1/sqrt(in_features)), checked on a large layer against torch's draw."""
    j = jaxnn.Linear(400, 300, rngs=nnx.Rngs(0))
    t = torch.nn.Linear(400, 300)
    for name in ("weight", "bias"):
        jw, tw = np.asarray(getattr(j, name)[...]), getattr(t, name).detach().numpy()
        bound = 1 / np.sqrt(400)
        assert np.abs(jw).max() <= bound and np.abs(jw).max() > 0.95 * bound
        # std of U(-b, b) is b / sqrt(3); 300 biases give it to about 5%, 120000 weights to 0.3%
        chex.assert_trees_all_close(jw.std(), tw.std(), rtol=0.03 if name == "weight" else 0.25)
        assert abs(jw.mean()) < 5 * bound / np.sqrt(3 * jw.size)


@pytest.mark.parametrize(
    "ctor, args, message",
    [
        (jaxnn.nn.Linear, (-1, 3), "Linear: in_features must be a non-negative integer, got -1"),
        (jaxnn.nn.Linear, (2.5, 3), "Linear: in_features must be a non-negative integer, got 2.5"),
        (jaxnn.nn.Bilinear, (2, 2, True), "Bilinear: out_features must be a non-negative integer, got True"),
        (jaxnn.nn.Conv2d, (-1, 3, 3), "Conv2d: in_channels must be a non-negative integer, got -1"),
        (jaxnn.nn.Conv1d, (1, 3, -2), r"Conv1d: kernel_size must be non-negative integers, got \(-2,\)"),
        (jaxnn.nn.Embedding, (-2, 3), "Embedding: num_embeddings must be a non-negative integer, got -2"),
        (jaxnn.nn.BatchNorm1d, (-1,), "BatchNorm1d: num_features must be a non-negative integer, got -1"),
        (jaxnn.nn.LayerNorm, ((2, -1),), r"LayerNorm: normalized_shape must be non-negative integers, got \(2, -1\)"),
    ],
)
def test_bad_sizes_are_named(ctor, args, message):
    # torch raises too ("Trying to create tensor with negative dimension", or a TypeError for floats).
    with pytest.raises(ValueError, match=message):
        ctor(*args, rngs=nnx.Rngs(0))


def test_numpy_integer_sizes_are_sizes():
    layer = jaxnn.nn.Linear(np.int64(3), np.int32(2), rngs=nnx.Rngs(0))
    chex.assert_shape(layer.weight[...], (2, 3))
