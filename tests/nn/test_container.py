"""Sequential, ModuleList, ModuleDict: forward, indexing, torch's child names, mode switching."""

import functools
import re
from collections import OrderedDict

import chex
import jax
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import assert_layer_parity, randn


def _mlp(lib, rngs=None):
    kw = {"rngs": rngs} if rngs is not None else {}
    return lib.Sequential(lib.Linear(4, 8, **kw), lib.ReLU(), lib.Dropout(0.5, **kw), lib.Linear(8, 2, **kw))


def test_sequential_matches_torch_in_eval():
    j, t = _mlp(jaxnn, nnx.Rngs(0)), _mlp(torch.nn)
    assert list(jaxnn.state_dict(j)) == list(t.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert_layer_parity(j, t, (randn(5, 4),), train=False)


def test_sequential_ordered_dict_names_and_indexing():
    j = jaxnn.Sequential(OrderedDict(fc=jaxnn.Linear(2, 3, rngs=nnx.Rngs(0)), act=jaxnn.Tanh()))
    assert list(jaxnn.state_dict(j)) == ["fc.weight", "fc.bias"]
    assert j[0] is j.fc and isinstance(j[-1], jaxnn.Tanh) and len(j) == 2
    tail = j[1:]
    assert isinstance(tail, jaxnn.Sequential) and list(tail._keys) == ["act"]
    j.append(jaxnn.Linear(3, 1, rngs=nnx.Rngs(1)))
    assert list(jaxnn.state_dict(j))[-1] == "2.bias" and j(np.ones((1, 2), np.float32)).shape == (1, 1)


def test_sequential_order_survives_split_and_merge():
    """nnx rebuilds attributes in its own order; the static key tuple keeps torch's."""
    j = jaxnn.Sequential(*[jaxnn.Linear(3, 3, rngs=nnx.Rngs(i)) for i in range(12)])
    x = randn(2, 3)
    graphdef, state = nnx.split(j)
    chex.assert_trees_all_close(nnx.merge(graphdef, state)(x), j(x))
    merged = list(jaxnn.state_dict(nnx.merge(graphdef, state)))
    assert [k.split(".")[0] for k in merged] == [str(i) for i in range(12) for _ in range(2)]


def test_sequential_accepts_plain_callables():
    j = jaxnn.Sequential(jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)), jax.nn.relu)
    assert float(j(-np.ones((1, 2), np.float32) * 100).min()) == 0.0


def test_module_list_and_dict_names():
    class J(jaxnn.Module):
        def __init__(self):
            self.blocks = jaxnn.ModuleList([jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)) for _ in range(2)])
            self.blocks.extend([jaxnn.BatchNorm1d(2)])
            self.heads = jaxnn.ModuleDict({"b": jaxnn.Linear(2, 1, rngs=nnx.Rngs(1)), "a": jaxnn.LayerNorm(2)})

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(2)])
            self.blocks.extend([torch.nn.BatchNorm1d(2)])
            self.heads = torch.nn.ModuleDict({"b": torch.nn.Linear(2, 1), "a": torch.nn.LayerNorm(2)})

    j, t = J(), T()
    assert list(jaxnn.state_dict(j)) == list(t.state_dict())
    assert len(j.blocks) == 3 and list(j.heads) == ["b", "a"] and "a" in j.heads
    assert isinstance(j.blocks[1:], jaxnn.ModuleList) and j.blocks[1:][0] is j.blocks[1] and j.blocks[-1] is j.blocks[2]
    del j.heads["b"]
    assert list(j.heads) == ["a"] and "heads.b.weight" not in jaxnn.state_dict(j)


def test_module_dict_rejects_shadowing_and_dotted_keys():
    with pytest.raises(KeyError, match="train"):
        jaxnn.ModuleDict({"train": jaxnn.ReLU()})
    with pytest.raises(KeyError, match="contain"):
        jaxnn.ModuleDict({"a.b": jaxnn.ReLU()})


def test_train_eval_reach_every_child():
    j = jaxnn.Sequential(jaxnn.ModuleList([jaxnn.Dropout(0.5)]), jaxnn.ModuleDict({"bn": jaxnn.BatchNorm1d(2)}))
    j.eval()
    assert not j[0][0].training and not j[1]["bn"].training
    j.train()
    assert j[0][0].training and j[1]["bn"].training


class _PJ(jaxnn.Module):
    def __init__(self):
        self.scales = jaxnn.ParameterList([np.ones((3,), np.float32), np.full((3,), 2.0, np.float32)])
        self.scales.append(jaxnn.Parameter(np.zeros((3,), np.float32), requires_grad=False))
        self.shifts = jaxnn.ParameterDict({"b": np.zeros((3,), np.float32), "a": np.ones((3,), np.float32)})

    def __call__(self, x):
        y = x * self.scales[0][...] * self.scales[1][...] + self.scales[2][...]
        return y + self.shifts["a"][...] * self.shifts["b"][...] + self.shifts["b"][...]


class _PT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scales = torch.nn.ParameterList([torch.ones(3), torch.full((3,), 2.0)])
        self.scales.append(torch.nn.Parameter(torch.zeros(3), requires_grad=False))
        self.shifts = torch.nn.ParameterDict({"b": torch.zeros(3), "a": torch.ones(3)})

    def forward(self, x):
        y = x * self.scales[0] * self.scales[1] + self.scales[2]
        return y + self.shifts["a"] * self.shifts["b"] + self.shifts["b"]


def test_parameter_list_and_dict_keys_values_and_gradients():
    j, t = _PJ(), _PT()
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_(-1, 1)
    # torch sorts a plain dict's keys
    assert list(jaxnn.state_dict(j)) == list(t.state_dict()) == ["scales.0", "scales.1", "scales.2", "shifts.a", "shifts.b"]
    assert isinstance(j.scales[2], jaxnn.FrozenParameter) and isinstance(j.shifts["a"], jaxnn.Parameter)
    assert_layer_parity(j, t, (randn(2, 3),))
    assert len(j.scales) == 3 and [v.shape for v in j.scales] == [(3,)] * 3 and j.scales[-1] is j.scales[2]
    assert isinstance(j.scales[1:], jaxnn.ParameterList) and len(j.scales[1:]) == 2


def test_parameter_dict_mapping_methods_and_repr():
    pd = jaxnn.ParameterDict([("a", np.ones((2, 3), np.float32))])
    pd.update({"b": np.zeros(1, np.float32)})
    pd["c"] = jaxnn.Buffer(np.zeros(2, np.float32))
    assert list(pd) == list(pd.keys()) == ["a", "b", "c"] and "b" in pd and len(pd) == 3
    assert pd.pop("c")[...].shape == (2,) and list(pd) == ["a", "b"]
    assert pd.get("zz") is None and pd.setdefault("a") is pd["a"]
    both = pd | jaxnn.ParameterDict({"z": np.ones(1, np.float32)})
    assert list(both) == ["a", "b", "z"] and both["a"] is pd["a"]
    assert list(jaxnn.ParameterDict.fromkeys(["x", "y"], np.ones(1, np.float32))) == ["x", "y"]
    tp = torch.nn.ParameterDict({"a": torch.ones(2, 3), "b": torch.zeros(1)})
    # torch prints its own dtype names ("torch.float32", "FloatTensor"); jaxnn numpy's
    same_dtype = functools.partial(re.sub, r"\[[\w.]+ of size", "[dtype of size")
    assert same_dtype(repr(pd)) == same_dtype(repr(tp))
    tl = torch.nn.ParameterList([torch.ones(2, 3)])
    assert same_dtype(repr(jaxnn.ParameterList([np.ones((2, 3), np.float32)]))) == same_dtype(repr(tl))
    with pytest.raises(KeyError, match="train"):
        pd["train"] = np.ones(1, np.float32)
    with pytest.raises(KeyError, match="contain"):
        pd["a.b"] = np.ones(1, np.float32)
    with pytest.raises(RuntimeError, match="should not be called"):
        pd(np.ones(1))
    with pytest.raises(IndexError):
        jaxnn.ParameterList()[0]


def test_parameter_containers_survive_split_merge_and_load_torch_weights():
    j, t = _PJ(), _PT()
    graphdef, state = nnx.split(j)
    merged = nnx.merge(graphdef, state)
    assert list(jaxnn.state_dict(merged)) == list(t.state_dict())
    jaxnn.load_state_dict(merged, t.state_dict())
    np.testing.assert_allclose(jaxnn.state_dict(merged)["scales.1"], 2.0)


def test_container_is_deprecated_and_holds_children():
    with pytest.warns(FutureWarning, match="Container"):
        c = jaxnn.Container(fc=jaxnn.Linear(2, 1, rngs=nnx.Rngs(0)))
    assert list(jaxnn.state_dict(c)) == ["fc.weight", "fc.bias"]
    c.add_module("act", jaxnn.ReLU())
    assert [n for n, _ in c.named_children()] == ["fc", "act"]
