"""Criterion buffers (issue #24): torch registers a criterion's ``weight`` and
``pos_weight`` as buffers, so they are in ``state_dict`` — of the criterion and of
any model that keeps the criterion as an attribute. jaxnn's criteria are modules
with the same buffers, so such checkpoints load strictly both ways."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.state_dict import StateDictError

W = np.array([0.5, 1.0, 2.0], np.float32)

# (name, constructor kwargs): every torch criterion that registers array buffers.
WEIGHTED = [
    ("CrossEntropyLoss", {"weight": W}),
    ("NLLLoss", {"weight": W}),
    ("BCELoss", {"weight": W}),
    ("BCEWithLogitsLoss", {"weight": W, "pos_weight": W[::-1].copy()}),
    ("BCEWithLogitsLoss", {"pos_weight": W}),
    ("MultiMarginLoss", {"weight": W}),
    ("MultiLabelSoftMarginLoss", {"weight": W}),
    ("CrossEntropyLoss", {}),
    ("MSELoss", {}),
]


def _torch(name, kwargs):
    return getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kwargs.items()})


def _jaxnn(name, kwargs):
    return getattr(jaxnn, name)(**{k: jnp.asarray(v) for k, v in kwargs.items()})


@pytest.mark.parametrize("name,kwargs", WEIGHTED, ids=[f"{n}-{'+'.join(k) or 'none'}" for n, k in WEIGHTED])
def test_criterion_state_dict_equals_torch(name, kwargs):
    t, j = _torch(name, kwargs), _jaxnn(name, kwargs)
    expected = t.state_dict()
    got = j.state_dict()
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key].numpy())


class _TorchModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 3)
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(W))


class _Model(jaxnn.Module):
    def __init__(self, weight):
        self.fc = jaxnn.Linear(2, 3, rngs=nnx.Rngs(0))
        self.loss_fn = jaxnn.CrossEntropyLoss(weight=weight)


def test_model_keeping_its_criterion_loads_torch_checkpoint_strictly():
    t = _TorchModel()
    sd = t.state_dict()
    sd["loss_fn.weight"] = torch.tensor([3.0, 2.0, 1.0])
    j = _Model(jnp.ones(3))
    assert list(jaxnn.state_dict(j)) == list(sd)
    jaxnn.load_state_dict(j, sd)
    np.testing.assert_array_equal(j.loss_fn.weight[...], [3.0, 2.0, 1.0])
    # the loaded weight is the one the loss uses
    x, y = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32), np.array([0, 1, 2, 0])
    t.loss_fn.weight.copy_(torch.tensor([3.0, 2.0, 1.0]))
    expected = t.loss_fn(t.fc(torch.tensor(x)), torch.tensor(y)).item()
    got = j.loss_fn(j.fc(jnp.asarray(x)), jnp.asarray(y))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # and back into torch, strictly
    _TorchModel().load_state_dict({k: torch.tensor(v) for k, v in jaxnn.state_dict(j).items()})


def test_criterion_without_weight_rejects_a_weight_key_like_torch():
    with pytest.raises(RuntimeError, match="Unexpected key"):
        torch.nn.CrossEntropyLoss().load_state_dict({"weight": torch.ones(3)})
    with pytest.raises(StateDictError, match="Unexpected key"):
        jaxnn.CrossEntropyLoss().load_state_dict({"weight": np.ones(3)})


def test_criterion_buffers_are_not_parameters():
    graphdef, params, rest = nnx.split(_Model(jnp.ones(3)), nnx.Param, ...)
    assert "loss_fn" not in params
    assert "loss_fn" in rest


def test_weighted_criterion_is_a_jit_argument_and_its_weight_a_leaf():
    crit = jaxnn.CrossEntropyLoss(weight=jnp.asarray(W))
    leaves = jax.tree_util.tree_leaves(crit)
    assert len(leaves) == 1
    np.testing.assert_array_equal(leaves[0], W)
    x, y = jnp.ones((2, 3)), jnp.array([0, 2])
    np.testing.assert_allclose(jax.jit(lambda c, a, b: c(a, b))(crit, x, y), crit(x, y))
