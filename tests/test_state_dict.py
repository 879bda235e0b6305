"""state_dict / load_state_dict / named_parameters against torch on a nested model."""

import io

import chex
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn


class JNet(jaxnn.Module):
    def __init__(self, *, rngs):
        self.stem = jaxnn.Sequential(jaxnn.Conv2d(3, 4, 3, rngs=rngs), jaxnn.BatchNorm2d(4), jaxnn.ReLU())
        self.blocks = jaxnn.ModuleList([jaxnn.Linear(4, 4, rngs=rngs), jaxnn.LayerNorm(4)])
        self.heads = jaxnn.ModuleDict({"cls": jaxnn.Linear(4, 2, rngs=rngs)})
        self.emb = jaxnn.Embedding(3, 4, rngs=rngs)
        self.scale = jaxnn.Parameter(jnp.ones(()))
        self.frozen = jaxnn.Parameter(jnp.zeros(2), requires_grad=False)
        self.steps = jaxnn.Buffer(jnp.zeros(1))
        self.drop = jaxnn.Dropout(0.1, rngs=rngs)

    def __call__(self, x):
        h = self.stem(x).mean(axis=(2, 3))
        for block in self.blocks:
            h = block(h)
        return self.heads["cls"](self.drop(h)) * self.scale


class TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.LayerNorm(4)])
        self.heads = torch.nn.ModuleDict({"cls": torch.nn.Linear(4, 2)})
        self.emb = torch.nn.Embedding(3, 4)
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.frozen = torch.nn.Parameter(torch.zeros(2), requires_grad=False)
        self.register_buffer("steps", torch.zeros(1))
        self.drop = torch.nn.Dropout(0.1)

    def forward(self, x):
        h = self.stem(x).mean(dim=(2, 3))
        for block in self.blocks:
            h = block(h)
        return self.heads["cls"](self.drop(h)) * self.scale


@pytest.fixture
def nets():
    return JNet(rngs=nnx.Rngs(0)), TNet()


def _torch_sd(t):
    sd = t.state_dict()
    with torch.no_grad():
        return {k: (v + torch.randn(v.shape) if v.is_floating_point() else v + 7) for k, v in sd.items()}


def test_keys_shapes_dtypes_and_order_equal_torchs(nets):
    j, t = nets
    got, expected = jaxnn.state_dict(j), t.state_dict()
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert isinstance(got[key], np.ndarray)
        assert got[key].shape == tuple(value.shape), key
        assert got[key].dtype == value.numpy().dtype, key
    assert got["stem.1.num_batches_tracked"].dtype == np.int64
    assert list(j.state_dict(prefix="model.")) == list(t.state_dict(prefix="model."))


def test_order_survives_merge_and_jit_write_back(nets):
    """nnx.merge and an nnx.jit write-back rebuild each module's __dict__ sorted; the keys keep torch's order."""
    j, t = nets
    expected = list(t.state_dict())
    merged = nnx.merge(*nnx.split(j))
    assert list(jaxnn.state_dict(merged)) == expected
    j.eval()
    nnx.jit(lambda m, x: m(x))(j, jnp.ones((1, 3, 5, 5)))
    assert list(jaxnn.state_dict(j)) == expected


def test_named_parameters_and_counts_equal_torchs(nets):
    j, t = nets
    assert [n for n, _ in jaxnn.named_parameters(j)] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in j.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert jaxnn.num_parameters(j) == sum(p.numel() for p in t.parameters())
    assert jaxnn.num_parameters(j, trainable_only=True) == sum(p.numel() for p in t.parameters() if p.requires_grad)
    assert [np.shape(p) for p in jaxnn.parameters(j)] == [tuple(p.shape) for p in t.parameters()]


def test_load_torch_tensors_then_outputs_match(nets):
    j, t = nets
    t.load_state_dict(_torch_sd(t))
    result = jaxnn.load_state_dict(j, t.state_dict())
    assert result == ([], []) and result.missing_keys == []
    for key, value in t.state_dict().items():
        np.testing.assert_array_equal(jaxnn.state_dict(j)[key], value.numpy(), err_msg=key)
    assert j.stem[1].num_batches_tracked[...].dtype == jnp.zeros((), int).dtype
    j.eval(), t.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    chex.assert_trees_all_close(np.asarray(j(x)), t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_round_trip_through_torch_save_and_back(nets):
    j, t = nets
    buffer = io.BytesIO()
    torch.save({k: torch.from_numpy(v) for k, v in jaxnn.state_dict(j).items()}, buffer)
    buffer.seek(0)
    t.load_state_dict(torch.load(buffer))  # torch accepts jaxnn's export as is (strict)
    fresh = JNet(rngs=nnx.Rngs(1))
    j.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    fresh.load_state_dict(jaxnn.state_dict(j))
    chex.assert_trees_all_equal(jaxnn.state_dict(fresh), jaxnn.state_dict(j))


def test_values_are_cast_to_the_models_dtype(nets):
    j, t = nets
    sd = {k: v.double() if v.is_floating_point() else v for k, v in t.state_dict().items()}
    jaxnn.load_state_dict(j, sd)
    assert j.heads["cls"].weight[...].dtype == jnp.float32


def test_strict_errors_list_every_bad_key(nets):
    j, t = nets
    sd = dict(t.state_dict())
    del sd["blocks.0.weight"], sd["stem.1.running_var"]
    sd["extra.weight"] = torch.zeros(1)
    sd["heads.cls.bias"] = torch.zeros(3)
    before = jaxnn.state_dict(j)
    with pytest.raises(RuntimeError) as info:
        jaxnn.load_state_dict(j, sd)
    message = str(info.value)
    assert 'Missing key(s) in state_dict: "stem.1.running_var", "blocks.0.weight".' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in message
    assert "size mismatch for heads.cls.bias: copying a param with shape (3,) from checkpoint, the shape in current model is (2,)" in message
    assert isinstance(info.value, ValueError)
    chex.assert_trees_all_equal(jaxnn.state_dict(j), before)  # nothing was loaded


def test_non_strict_returns_keys_and_still_rejects_shape_mismatch(nets):
    j, t = nets
    sd = dict(t.state_dict())
    del sd["emb.weight"]
    sd["other"] = torch.zeros(1)
    missing, unexpected = jaxnn.load_state_dict(j, sd, strict=False)
    tmissing, tunexpected = TNet().load_state_dict(sd, strict=False)
    assert (missing, unexpected) == (tmissing, tunexpected) == (["emb.weight"], ["other"])
    np.testing.assert_array_equal(jaxnn.state_dict(j)["stem.0.weight"], sd["stem.0.weight"].numpy())
    sd["stem.0.bias"] = torch.zeros(5)
    with pytest.raises(RuntimeError, match="size mismatch for stem.0.bias"):
        jaxnn.load_state_dict(j, sd, strict=False)


def test_shared_parameters_are_listed_once_but_saved_under_both_names():
    class Tied(jaxnn.Module):
        def __init__(self):
            self.a = jaxnn.Linear(2, 2, rngs=nnx.Rngs(0))
            self.b = self.a

    class TTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(2, 2)
            self.b = self.a

    j, t = Tied(), TTied()
    assert list(jaxnn.state_dict(j)) == list(t.state_dict())
    assert [n for n, _ in jaxnn.named_parameters(j)] == [n for n, _ in t.named_parameters()]
    assert jaxnn.num_parameters(j) == 6


def test_flax_layers_and_rng_state_inside_a_model():
    class Mixed(jaxnn.Module):
        def __init__(self):
            self.flax_fc = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
            self.drop = nnx.Dropout(0.5, rngs=nnx.Rngs(0))

    assert {k: v.shape for k, v in jaxnn.state_dict(Mixed()).items()} == {"flax_fc.kernel": (2, 3), "flax_fc.bias": (3,)}


def test_loaded_arrays_do_not_follow_later_in_place_torch_updates():
    # issue #21: tensor.numpy() shares storage and jnp.asarray can be zero-copy on CPU,
    # so an optimizer.step() / add_() on the torch model after loading used to change
    # the jaxnn model's parameters and buffers too.
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    j = jaxnn.Sequential(jaxnn.Linear(3, 4, rngs=nnx.Rngs(0)), jaxnn.BatchNorm1d(4))
    jaxnn.load_state_dict(j, t.state_dict())
    frozen = jaxnn.Parameter(t[0].bias)
    before = {k: np.array(v) for k, v in jaxnn.state_dict(j).items()}
    bias_before = np.array(frozen[...])
    with torch.no_grad():
        for p in t.parameters():
            p.add_(1.0)
    t(torch.randn(5, 3))  # updates the running statistics in place
    for key, value in jaxnn.state_dict(j).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    np.testing.assert_array_equal(frozen[...], bias_before)
