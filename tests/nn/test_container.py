"""Sequential, ModuleList, ModuleDict: forward, indexing, torch's child names, mode switching."""

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
