"""LayerNorm, GroupNorm, BatchNorm against torch: outputs, gradients, running statistics."""

import chex
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.training import make_train_step, split_model
from tests.nn import as_dtype, assert_layer_parity, randn, step_loss


@pytest.mark.parametrize(
    "args,options,float_dtype",
    [((5,), {}, "float32"), ((5,), {"bias": False}, "float32"), ((5,), {"elementwise_affine": False}, "float32"),
     (((4, 5),), {"eps": 1e-3}, "float32"), (((4, 5),), {}, "float64")],
    ids=["default", "no-bias", "no-affine", "2d-eps", "2d-float64"],
    indirect=["float_dtype"],
)
def test_layer_norm(args, options, float_dtype):
    j = jaxnn.LayerNorm(*args, **options, dtype=float_dtype)
    t = as_dtype(torch.nn.LayerNorm(*args, **options), float_dtype)
    t.load_state_dict({k: torch.randn(v.shape, dtype=v.dtype) for k, v in t.state_dict().items()})
    assert jaxnn.state_dict(j).keys() == t.state_dict().keys()
    assert_layer_parity(j, t, (randn(3, 4, 5, dtype=float_dtype),))


def test_layer_norm_rejects_wrong_trailing_shape():
    with pytest.raises(ValueError, match=r"normalized_shape=\[5\].*\(3, 4\)"):
        jaxnn.LayerNorm(5)(jnp.ones((3, 4)))


@pytest.mark.parametrize(
    "affine,shape,float_dtype",
    [(True, (3, 6, 5), "float32"), (True, (3, 6, 4), "float32"), (False, (2, 6, 3, 3), "float32"), (True, (2, 6, 3, 3), "float64")],
    indirect=["float_dtype"],
)
def test_group_norm(affine, shape, float_dtype):
    j = jaxnn.GroupNorm(3, 6, affine=affine, dtype=float_dtype)
    t = as_dtype(torch.nn.GroupNorm(3, 6, affine=affine), float_dtype)
    t.load_state_dict({k: torch.randn(v.shape, dtype=v.dtype) for k, v in t.state_dict().items()})
    assert_layer_parity(j, t, (randn(*shape, dtype=float_dtype),))


def test_group_norm_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="num_channels \\(5\\) must be divisible by num_groups \\(2\\)"):
        jaxnn.GroupNorm(2, 5)


BN = [
    (jaxnn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (jaxnn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
    (jaxnn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 2, 3)),
]
BN_OPTIONS = [
    {},
    {"momentum": None},
    {"momentum": 0.3, "eps": 1e-3},
    {"affine": False},
    {"track_running_stats": False},
]


def _bn_pair(jcls, tcls, options, dtype):
    t = as_dtype(tcls(3, **options), dtype)
    with torch.no_grad():
        for name, p in t.named_parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    return jcls(3, **options, dtype=dtype), t


BN_CASES = [(layers, options) for options in BN_OPTIONS for layers in BN[2:]] + [(layers, {}) for layers in BN[:2]]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("layers,options", BN_CASES, ids=[f"{c[0][0].__name__}{c[0][2]}{c[1]}" for c in BN_CASES])
def test_batch_norm_forward_and_gradients(layers, options, train):
    jcls, tcls, shape = layers
    j, t = _bn_pair(jcls, tcls, options, "float32")
    if "track_running_stats" not in options:
        with torch.no_grad():
            t.running_mean.copy_(torch.randn(3))
            t.running_var.copy_(torch.rand(3) + 0.5)
    assert_layer_parity(j, t, (randn(*shape) * 2 + 1,), train=train)


@pytest.mark.parametrize("options", BN_OPTIONS, ids=str)
def test_batch_norm_running_stats_follow_torch_over_steps(options, float_dtype):
    tight = float_dtype == "float64"
    rtol, atol = (1e-12, 1e-12) if tight else (1e-5, 1e-6)
    j, t = _bn_pair(jaxnn.BatchNorm2d, torch.nn.BatchNorm2d, options, float_dtype)
    jaxnn.load_state_dict(j, t.state_dict())
    for step in range(4):
        x = randn(5, 3, 2, 2, dtype=float_dtype, seed=step) * (step + 1) + step
        chex.assert_trees_all_close(np.asarray(j(x)), t(torch.tensor(x)).detach().numpy(), rtol=rtol, atol=atol)
    got, expected = jaxnn.state_dict(j), t.state_dict()
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key].dtype == expected[key].numpy().dtype, key
        chex.assert_trees_all_close(got[key], expected[key].numpy(), rtol=rtol, atol=atol, custom_message=key)
    j.eval()
    t.eval()
    x = randn(2, 3, 2, 2, dtype=float_dtype, seed=9)
    chex.assert_trees_all_close(np.asarray(j(x)), t(torch.tensor(x)).detach().numpy(), rtol=rtol, atol=atol)


def test_eval_mode_leaves_running_stats_alone():
    bn = jaxnn.BatchNorm1d(3).eval()
    before = jaxnn.state_dict(bn)
    bn(randn(4, 3))
    chex.assert_trees_all_equal(jaxnn.state_dict(bn), before)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D"):
        jaxnn.BatchNorm2d(3)(jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="2D or 3D"):
        jaxnn.BatchNorm1d(3)(jnp.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="num_features=3"):
        jaxnn.BatchNorm1d(3)(jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        jaxnn.BatchNorm1d(3)(jnp.ones((1, 3)))
    jaxnn.BatchNorm1d(3).eval()(jnp.ones((1, 3)))  # running statistics: fine in eval, as torch


class _JNet(jaxnn.Module):
    def __init__(self, *, rngs):
        self.conv = jaxnn.Conv2d(2, 3, 3, padding=1, rngs=rngs)
        self.bn = jaxnn.BatchNorm2d(3)
        self.fc = jaxnn.Linear(3 * 4 * 4, 2, rngs=rngs)

    def __call__(self, x):
        return self.fc(jaxnn.functional.relu(self.bn(self.conv(x))).reshape(x.shape[0], -1))


class _TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(3)
        self.fc = torch.nn.Linear(3 * 4 * 4, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def test_jitted_train_step_carries_batch_norm_statistics():
    """make_train_step re-splits the merged model, so the updated buffers come back."""
    model, tmodel = _JNet(rngs=nnx.Rngs(0)), _TNet()
    jaxnn.load_state_dict(model, tmodel.state_dict())
    graphdef, params, rest = split_model(model)
    opt = optax.sgd(0.1)
    opt_state = opt.init(params)
    step = make_train_step(graphdef, jaxnn.MSELoss(), opt)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    for i in range(3):
        x, y = randn(4, 2, 4, 4, seed=i), randn(4, 2, seed=10 + i)
        params, rest, opt_state, loss = step(params, rest, opt_state, (x, y))
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(tmodel(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        chex.assert_trees_all_close(float(step_loss(loss)), tloss.item(), rtol=1e-5)
    trained = nnx.merge(graphdef, params, rest)
    got, expected = jaxnn.state_dict(trained), tmodel.state_dict()
    assert int(got["bn.num_batches_tracked"]) == 3
    for key in expected:
        chex.assert_trees_all_close(got[key], expected[key].numpy(), rtol=1e-5, atol=1e-6, custom_message=key)


@pytest.mark.parametrize(
    "jlayer,tlayer,train",
    [
        (lambda: jaxnn.BatchNorm2d(3, dtype=jnp.bfloat16), lambda: torch.nn.BatchNorm2d(3), True),
        (lambda: jaxnn.BatchNorm2d(3, dtype=jnp.bfloat16), lambda: torch.nn.BatchNorm2d(3), False),
        (lambda: jaxnn.GroupNorm(3, 3, dtype=jnp.bfloat16), lambda: torch.nn.GroupNorm(3, 3), True),
        (lambda: jaxnn.LayerNorm(6, dtype=jnp.bfloat16), lambda: torch.nn.LayerNorm(6), True),
    ],
    ids=["bn-train", "bn-eval", "group", "layer"],
)
def test_bfloat16_statistics_are_computed_in_float32(jlayer, tlayer, train):
    """torch normalises half-precision input in float32 and rounds once at the end;
    computing the statistics in bfloat16 misses by several bf16 ulps. Parameter
    gradients are left out: torch's bf16 backward accumulates them partly in bf16
    (measured against float64: LayerNorm/GroupNorm weight gradients several bf16
    ulps off, where jaxnn's, summed in float32, are within one)."""
    x = (randn(4, 3, 6, 6) * 3 + 2).astype(jnp.bfloat16)
    assert_layer_parity(jlayer(), tlayer().bfloat16(), (x,), train=train, param_grads_too=False)
