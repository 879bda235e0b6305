"""jaxnn.compare: finds planted bugs in hand ports and names the module first."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from torch import nn

import jaxnn
from jaxnn.interop import Report


class TorchNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.norm1 = nn.LayerNorm(6)
        self.fc2 = nn.Linear(6, 6)
        self.norm2 = nn.LayerNorm(6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        x = torch.relu(self.norm1(self.fc1(x)))
        x = torch.tanh(self.norm2(self.fc2(x)))
        return self.head(x)


class HandPort(jaxnn.Module):
    """A port written by hand, attribute names following torch's."""

    def __init__(self, eps2: float = 1e-5, transpose_fc2: bool = False):
        rngs = nnx.Rngs(0)
        self.fc1 = jaxnn.Linear(4, 6, rngs=rngs)
        self.norm1 = jaxnn.LayerNorm(6, rngs=rngs)
        self.fc2 = jaxnn.Linear(6, 6, rngs=rngs)
        self.norm2 = jaxnn.LayerNorm(6, eps=eps2, rngs=rngs)
        self.head = jaxnn.Linear(6, 3, rngs=rngs)
        self.transpose_fc2 = transpose_fc2

    def __call__(self, x):
        x = jnp.maximum(self.norm1(self.fc1(x)), 0)
        h = x @ self.fc2.weight[...] + self.fc2.bias[...] if self.transpose_fc2 else self.fc2(x)
        return self.head(jnp.tanh(self.norm2(h)))


@pytest.fixture
def torch_net():
    torch.manual_seed(0)
    return TorchNet()


def _ported(torch_net, **bug):
    port = HandPort(**bug)
    jaxnn.load_state_dict(port, torch_net.state_dict())
    return port


def test_correct_port_agrees_in_outputs_and_gradients(torch_net):
    x = torch.randn(5, 4) * 3
    report = jaxnn.compare(torch_net, _ported(torch_net), x, grads=True)
    assert isinstance(report, Report)
    assert report.ok and report.first_divergence is None, str(report)
    kinds = {row.kind for row in report.rows}
    assert kinds == {"param", "output", "grad"}
    assert {r.name for r in report.rows if r.kind == "grad"} == {n for n, _ in torch_net.named_parameters()}


def test_wrong_layernorm_eps_is_named_first(torch_net):
    x = torch.randn(5, 4) * 0.05
    report = jaxnn.compare(torch_net, _ported(torch_net, eps2=1e-1), x)
    assert not report.ok
    assert report.first_divergence == "norm2"
    assert all(r.ok for r in report.rows if r.kind == "param")
    assert [r.name for r in report.failures][0] == "norm2"


def test_transposed_linear_weight_is_named_first(torch_net):
    x = torch.randn(5, 4)
    port = _ported(torch_net, transpose_fc2=True)
    report = jaxnn.compare(torch_net, port, x)
    # The forward uses fc2's weight without calling fc2: the first module whose
    # output differs is the next one to see its result.
    assert report.first_divergence == "norm2"
    port = _ported(torch_net)
    port.fc2.weight[...] = port.fc2.weight[...].T
    report = jaxnn.compare(torch_net, port, x)
    assert report.first_divergence == "fc2"
    assert [r.name for r in report.failures if r.kind == "param"] == ["fc2.weight"]
    text = str(report)
    assert "first diverging module: fc2" in text and "fc2.weight" in text


def test_missing_and_unmatched_are_reported(torch_net):
    port = HandPort()
    port.extra = jaxnn.Linear(2, 2, rngs=nnx.Rngs(0))
    jaxnn.load_state_dict(port, torch_net.state_dict(), strict=False)
    report = jaxnn.compare(torch_net, port, torch.randn(2, 4))
    notes = {r.name: r.note for r in report.failures}
    assert notes == {"extra.weight": "not in torch", "extra.bias": "not in torch"}
    assert report.first_divergence is None


def test_converted_model_agrees_and_tolerance_applies(torch_net):
    x = torch.randn(3, 4)
    jmodel = jaxnn.from_torch(torch_net)
    assert jaxnn.compare(torch_net, jmodel, x).ok
    jmodel.head.bias[...] = jmodel.head.bias[...] + 1e-3
    assert not jaxnn.compare(torch_net, jmodel, x).ok
    loose = jaxnn.compare(torch_net, jmodel, x, rtol=0.0, atol=2e-3)
    assert loose.ok and np.isclose(max(r.max_abs for r in loose.rows), 1e-3, rtol=1e-3)
