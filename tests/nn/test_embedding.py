"""Embedding against torch: lookup, padding_idx gradient, max_norm, scale_grad_by_freq."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import param_grads
from tests.parity import cotangent

IDX = np.array([[0, 2, 4, 2], [1, 0, 3, 2]])


def _pair(**options):
    t = torch.nn.Embedding(5, 3, **options)
    j = jaxnn.Embedding(5, 3, **options, rngs=nnx.Rngs(0))
    with torch.no_grad():
        t.weight.mul_(3.0)  # rows longer than max_norm below
    jaxnn.load_state_dict(j, t.state_dict())
    return j, t


@pytest.mark.parametrize(
    "options",
    [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"max_norm": 1.5}, {"max_norm": 1.0, "norm_type": 1.0}, {"scale_grad_by_freq": True, "padding_idx": 0}],
    ids=str,
)
def test_lookup_and_weight_gradient_match_torch(options):
    j, t = _pair(**options)
    out = t(torch.tensor(IDX))
    ct = cotangent(tuple(out.shape), "float32")
    (out * torch.tensor(ct)).sum().backward()
    got_grad = param_grads(j, (IDX,), ct)["weight"]  # on a copy: the table is renormed below
    got = j(IDX)
    chex.assert_trees_all_close(np.asarray(got), out.detach().numpy(), rtol=1e-6, atol=1e-7)
    chex.assert_trees_all_close(got_grad, t.weight.grad.numpy(), rtol=1e-6, atol=1e-7)
    # max_norm rescales the looked-up rows of the table in place, as torch does
    chex.assert_trees_all_close(jaxnn.state_dict(j)["weight"], t.weight.detach().numpy(), rtol=1e-6)


def test_padding_row_is_zero_at_init_and_gets_no_gradient():
    j = jaxnn.Embedding(6, 4, padding_idx=-2, rngs=nnx.Rngs(0))
    assert j.padding_idx == 4
    chex.assert_trees_all_equal(j.weight[...][4], jnp.zeros(4))
    g = param_grads(j, (np.array([4, 4, 1]),), np.ones((3, 4), np.float32))["weight"]
    chex.assert_trees_all_equal(g[4], np.zeros(4, np.float32))
    chex.assert_trees_all_equal(g[1], np.ones(4, np.float32))


def test_from_pretrained_is_frozen_by_default():
    table = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    j = jaxnn.Embedding.from_pretrained(table)
    assert isinstance(j.weight, jaxnn.FrozenParameter)
    chex.assert_trees_all_equal(j(np.array([2, 0])), table[[2, 0]])
    assert isinstance(jaxnn.Embedding.from_pretrained(table, freeze=False).weight, nnx.Param)
    assert list(jaxnn.state_dict(j)) == list(torch.nn.Embedding.from_pretrained(torch.tensor(table)).state_dict())


def test_init_is_standard_normal():
    w = np.asarray(jaxnn.Embedding(1000, 100, rngs=nnx.Rngs(0)).weight[...])
    tw = torch.nn.Embedding(1000, 100).weight.detach().numpy()
    for stat in (np.mean, np.std):
        chex.assert_trees_all_close(stat(w), stat(tw), atol=0.01)
    chex.assert_trees_all_close(w.std(), 1.0, atol=0.01)


def test_errors():
    with pytest.raises(ValueError, match="padding_idx \\(5\\) must be within num_embeddings \\(5\\)"):
        jaxnn.Embedding(5, 3, padding_idx=5, rngs=nnx.Rngs(0))
    j = jaxnn.Embedding(5, 3, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="integer"):
        j(jnp.ones(3))
    with pytest.raises(ValueError, match="out of range"):
        j(jnp.array([0, 5]))
    with pytest.raises(ValueError, match="_weight has shape"):
        jaxnn.Embedding(5, 3, _weight=np.zeros((4, 3)))


def test_under_jit():
    j, t = _pair(padding_idx=1)
    graphdef, state = nnx.split(j)
    f = jax.jit(lambda s, i: nnx.merge(graphdef, s)(i))
    chex.assert_trees_all_close(np.asarray(f(state, IDX)), t(torch.tensor(IDX)).detach().numpy())


def _bag_pair(**options):
    t = torch.nn.EmbeddingBag(6, 3, **options)
    j = jaxnn.EmbeddingBag(6, 3, **options, rngs=nnx.Rngs(0))
    with torch.no_grad():
        t.weight.mul_(2.0)
    jaxnn.load_state_dict(j, t.state_dict())
    return j, t


@pytest.mark.parametrize(
    "options,offsets,weighted",
    [({}, [0, 2, 2], False), ({"mode": "sum", "padding_idx": -1, "max_norm": 1.0}, [0, 3], True),
     ({"mode": "max", "include_last_offset": True}, [0, 4, 7], False), ({"mode": "mean", "scale_grad_by_freq": True}, None, False)],
    ids=str,
)
def test_embedding_bag_layer_matches_torch(options, offsets, weighted):
    j, t = _bag_pair(**options)
    idx = np.array([1, 5, 0, 2, 5, 3, 1]) if offsets is not None else np.array([[1, 5, 0], [2, 5, 5]])
    psw = np.linspace(0.5, 2.0, idx.size).reshape(idx.shape).astype(np.float32) if weighted else None
    args = (idx, None if offsets is None else np.array(offsets), psw)
    out = t(*[None if a is None else torch.tensor(a) for a in args])
    ct = cotangent(tuple(out.shape), "float32")
    (out * torch.tensor(ct)).sum().backward()
    graphdef, params, rest = nnx.split(j, nnx.Param, ...)
    f = lambda p: jnp.sum(nnx.merge(graphdef, p, rest, copy=True)(*args) * ct)  # noqa: E731
    got_grad = jax.jit(jax.grad(f))(params)["weight"][...]  # on a copy: the table is renormed below
    graphdef, state = nnx.split(j)

    def forward(s):
        layer = nnx.merge(graphdef, s, copy=True)
        return layer(*args), nnx.state(layer)

    got, new_state = jax.jit(forward)(state)
    nnx.update(j, new_state)
    chex.assert_trees_all_close(np.asarray(got), out.detach().numpy(), rtol=1e-6, atol=1e-6)
    chex.assert_trees_all_close(np.asarray(got_grad), t.weight.grad.numpy(), rtol=1e-6, atol=1e-6)
    chex.assert_trees_all_close(jaxnn.state_dict(j)["weight"], t.weight.detach().numpy(), rtol=1e-6)


def test_embedding_bag_init_state_dict_and_from_pretrained():
    j = jaxnn.EmbeddingBag(1000, 50, padding_idx=3, rngs=nnx.Rngs(0))
    t = torch.nn.EmbeddingBag(1000, 50, padding_idx=3)
    assert {k: v.shape for k, v in jaxnn.state_dict(j).items()} == {k: tuple(v.shape) for k, v in t.state_dict().items()}
    w = np.asarray(j.weight[...])
    chex.assert_trees_all_equal(w[3], np.zeros(50, np.float32))
    chex.assert_trees_all_close(w.std(), 1.0, atol=0.02)
    chex.assert_trees_all_close(w.mean(), 0.0, atol=0.02)
    table = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    frozen = jaxnn.EmbeddingBag.from_pretrained(table, mode="sum")
    assert isinstance(frozen.weight, jaxnn.FrozenParameter)
    chex.assert_trees_all_equal(frozen(np.array([[0, 2]])), table[[0]] + table[[2]])


def test_embedding_bag_layer_errors():
    with pytest.raises(ValueError, match="mode"):
        jaxnn.EmbeddingBag(3, 2, mode="min", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="max mode"):
        jaxnn.EmbeddingBag(3, 2, mode="max", scale_grad_by_freq=True, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="padding_idx"):
        jaxnn.EmbeddingBag(3, 2, padding_idx=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="non-decreasing"):
        jaxnn.EmbeddingBag(3, 2, rngs=nnx.Rngs(0))(jnp.array([0, 1, 2]), jnp.array([0, 2, 1]))
