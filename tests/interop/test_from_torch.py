"""jaxnn.from_torch against torch: leaf layers, containers, traced models, errors, training."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import torch
from flax import nnx
from torch import nn

import jaxnn
from jaxnn.interop import ConversionError, TracedModule
from tests.interop import as_dtype, assert_adamw_steps, assert_converted, randn
from tests.interop.models import BasicBlock, DictMLP, TinyResNet, TinyViT

# One layer per entry, options spread so that each constructor argument the
# generic reader handles (ints, tuples, strings, floats, bias=False, None) occurs.
LEAVES = [
    (lambda: nn.Linear(4, 3, bias=False), (2, 4)),
    (lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=1, groups=2), (2, 2, 9)),
    (lambda: nn.Conv2d(2, 3, (3, 2), padding="same", padding_mode="reflect"), (1, 2, 6, 5)),
    (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1), (1, 2, 5)),
    (lambda: nn.ConvTranspose2d(2, 2, 2, stride=2, bias=False), (1, 2, 3, 3)),
    (lambda: nn.BatchNorm1d(3, eps=1e-3, momentum=None), (4, 3)),
    (lambda: nn.BatchNorm2d(2, affine=False), (3, 2, 2, 2)),
    (lambda: nn.LayerNorm((3, 4), elementwise_affine=True, bias=False), (2, 3, 4)),
    (lambda: nn.GroupNorm(2, 4, eps=1e-4), (2, 4, 3)),
    (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (1, 2, 7, 7)),
    (lambda: nn.AvgPool1d(2, count_include_pad=False, padding=1), (1, 2, 7)),
    (lambda: nn.AdaptiveAvgPool2d((2, None)), (1, 2, 5, 4)),
    (lambda: nn.PReLU(3, init=0.1), (2, 3, 4)),
    (lambda: nn.Softmax(dim=1), (2, 3, 4)),
    (lambda: nn.Hardtanh(-0.5, 2.0), (3, 4)),
    (lambda: nn.ELU(alpha=0.7), (3, 4)),
    (lambda: nn.Flatten(0, 1), (2, 3, 4)),
]


@pytest.mark.parametrize("make,shape", LEAVES, ids=lambda v: getattr(v, "__name__", None) if not callable(v) else None)
def test_leaf_layers(make, shape, float_dtype):
    torch.manual_seed(0)
    tmodel = as_dtype(make(), float_dtype).train()
    jmodel = assert_converted(tmodel, [randn(*shape, dtype=float_dtype)])
    assert type(jmodel).__name__ == type(tmodel).__name__


def test_leaf_constructor_arguments_are_torchs():
    tmodel = nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=2, groups=1, padding_mode="circular")
    jmodel = jaxnn.from_torch(tmodel)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode"):
        assert tuple(np.atleast_1d(getattr(jmodel, name))) == tuple(np.atleast_1d(getattr(tmodel, name))), name
    embedding = jaxnn.from_torch(nn.Embedding(5, 3, padding_idx=1, max_norm=2.0))
    assert (embedding.padding_idx, embedding.max_norm) == (1, 2.0)


def test_embedding_and_containers():
    torch.manual_seed(0)
    tmodel = nn.Sequential(nn.Embedding(7, 4, padding_idx=0), nn.Flatten(), nn.Linear(12, 2)).eval()
    jmodel = jaxnn.from_torch(tmodel)
    assert isinstance(jmodel, jaxnn.Sequential)
    idx = np.array([[0, 3, 6], [1, 2, 0]])
    np.testing.assert_allclose(np.asarray(jmodel(idx)), tmodel(torch.as_tensor(idx)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_resnet_block_model(float_dtype):
    torch.manual_seed(0)
    tmodel = as_dtype(TinyResNet(), float_dtype).eval()
    jmodel = assert_converted(tmodel, [randn(2, 3, 8, 8, dtype=float_dtype)])
    assert isinstance(jmodel, TracedModule)
    assert isinstance(jmodel.layer1, jaxnn.Sequential) and isinstance(jmodel.layer1[1], TracedModule)
    assert not jmodel.training and not jmodel.layer1[1].bn1.training
    # A converted child runs by itself (its own graph), as torch's does.
    x = randn(1, 8, 4, 4, dtype=float_dtype)
    graphdef, state = nnx.split(jmodel.layer1[1])
    got = jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))(state, x)
    np.testing.assert_allclose(
        np.asarray(got), tmodel.layer1[1](torch.as_tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_module_dict_mlp(float_dtype):
    torch.manual_seed(0)
    assert_converted(as_dtype(DictMLP(), float_dtype), [randn(3, 6, dtype=float_dtype)])


def test_vit_like_model_with_own_parameters(float_dtype):
    torch.manual_seed(0)
    tmodel = as_dtype(TinyViT(), float_dtype).eval()
    jmodel = assert_converted(tmodel, [randn(2, 3, 8, 8, dtype=float_dtype)])
    assert isinstance(jmodel.cls_token, jaxnn.Parameter) and isinstance(jmodel.pos_embed, jaxnn.Parameter)


def test_state_dict_round_trip_into_torch():
    torch.manual_seed(0)
    tmodel = TinyViT()
    jmodel = jaxnn.from_torch(tmodel)
    jmodel.head.bias[...] = jmodel.head.bias[...] + 1.0
    fresh = TinyViT()
    fresh.load_state_dict({k: torch.as_tensor(v) for k, v in jaxnn.state_dict(jmodel).items()})
    np.testing.assert_array_equal(fresh.head.bias.detach().numpy(), tmodel.head.bias.detach().numpy() + 1.0)


def test_example_inputs_fix_python_flags():
    class Flagged(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x, double=False):
            return self.fc(x) * 2 if double else self.fc(x)

    tmodel = Flagged()
    x = torch.randn(2, 3)
    jmodel = jaxnn.from_torch(tmodel, (x, True))
    np.testing.assert_allclose(np.asarray(jmodel(x.numpy(), True)), tmodel(x, True).detach().numpy(), rtol=1e-6)
    with pytest.raises(AssertionError, match="specialized"):
        jmodel(x.numpy(), False)


def test_adamw_steps_equal_torch():
    # Training mode throughout: BatchNorm's batch statistics and running averages
    # (compared with the parameters after the last step) are part of the check.
    torch.manual_seed(0)
    tmodel = nn.Sequential(BasicBlock(3, 4, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    assert_adamw_steps(tmodel, randn(4, 3, 6, 6), np.array([0, 1, 2, 4]))


class _Cumsum(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return torch.cumsum(self.fc(x), 0)


class _DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


class _Aliased(nn.Module):
    def forward(self, x):
        y = x * 2
        z = y.add_(1)
        return z + y * 0 + y.mul(3)


def test_unsupported_op_names_module_path_and_op():
    tmodel = nn.Sequential(nn.Linear(3, 3), _Cumsum())
    with pytest.raises(ConversionError, match=r"torch\.cumsum"):
        jaxnn.from_torch(nn.ModuleDict({"block": tmodel}))
    with pytest.raises(ConversionError, match=r"block\.1 \(_Cumsum\)"):
        jaxnn.from_torch(nn.ModuleDict({"block": tmodel}))


def test_data_dependent_control_flow_is_refused():
    with pytest.raises(ConversionError, match="torch.fx cannot trace"):
        jaxnn.from_torch(_DataDependent())


def test_inplace_op_read_afterwards_is_refused():
    with pytest.raises(ConversionError, match="add_"):
        jaxnn.from_torch(_Aliased())


def test_layer_without_counterpart_is_refused(monkeypatch):
    monkeypatch.delattr(jaxnn, "ELU")
    with pytest.raises(ConversionError, match="ELU has no jaxnn counterpart"):
        jaxnn.from_torch(nn.Sequential(nn.ELU()))


def test_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        jaxnn.from_torch(lambda x: x)


def test_docs_list_the_op_table():
    from pathlib import Path

    from jaxnn.interop._ops import markdown

    docs = (Path(__file__).parents[2] / "docs" / "interop.md").read_text()
    assert markdown() in docs, "regenerate the op list in docs/interop.md (see 'Adding an op')"
