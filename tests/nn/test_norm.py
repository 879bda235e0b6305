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


def test_group_norm_channel_rules_are_torchs():
    with pytest.raises(ValueError, match="num_channels \\(5\\) must be divisible by num_groups \\(2\\)"):
        jaxnn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match=r"weight to be a vector of size equal.*\(2, 6, 3\)"):
        jaxnn.GroupNorm(2, 4)(jnp.ones((2, 6, 3)))
    x = randn(2, 6, 3)
    np.testing.assert_allclose(np.asarray(jaxnn.GroupNorm(2, 4, affine=False)(x)),
                               torch.nn.GroupNorm(2, 4, affine=False)(torch.tensor(x)).numpy(), rtol=2e-5, atol=2e-6)


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
        (lambda: jaxnn.InstanceNorm2d(3, affine=True, dtype=jnp.bfloat16), lambda: torch.nn.InstanceNorm2d(3, affine=True), True),
        (lambda: jaxnn.RMSNorm(6, dtype=jnp.bfloat16), lambda: torch.nn.RMSNorm(6), True),
    ],
    ids=["bn-train", "bn-eval", "group", "layer", "instance", "rms"],
)
def test_bfloat16_statistics_are_computed_in_float32(jlayer, tlayer, train):
    """torch normalises half-precision input in float32 and rounds once at the end;
    computing the statistics in bfloat16 misses by several bf16 ulps. Parameter
    gradients are left out: torch's bf16 backward accumulates them partly in bf16
    (measured against float64: LayerNorm/GroupNorm weight gradients several bf16
    ulps off, where jaxnn's, summed in float32, are within one)."""
    x = (randn(4, 3, 6, 6) * 3 + 2).astype(jnp.bfloat16)
    assert_layer_parity(jlayer(), tlayer().bfloat16(), (x,), train=train, param_grads_too=False)


# ---- issue #24: torch 2.13's keyword-only bias=False, and an empty batch in training


@pytest.mark.parametrize(
    "jlayer,tlayer,shape",
    [
        (lambda: jaxnn.BatchNorm1d(3, bias=False), lambda: torch.nn.BatchNorm1d(3, bias=False), (4, 3)),
        (lambda: jaxnn.BatchNorm3d(3, bias=False), lambda: torch.nn.BatchNorm3d(3, bias=False), (2, 3, 2, 1, 2)),
        (lambda: jaxnn.GroupNorm(3, 6, bias=False), lambda: torch.nn.GroupNorm(3, 6, bias=False), (2, 6, 3)),
        (lambda: jaxnn.InstanceNorm1d(3, affine=True, bias=False), lambda: torch.nn.InstanceNorm1d(3, affine=True, bias=False), (2, 3, 4)),
    ],
    ids=["bn1d", "bn3d", "group", "instance"],
)
def test_affine_weight_without_bias(jlayer, tlayer, shape):
    j, t = jlayer(), tlayer()
    assert list(jaxnn.state_dict(j)) == list(t.state_dict()) and j.bias is None
    with torch.no_grad():
        t.weight.copy_(torch.randn(t.weight.shape))
    assert_layer_parity(j, t, (randn(*shape) * 2 + 1,))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_empty_batch_in_training_counts_the_step_and_keeps_the_stats(momentum):
    j, t = jaxnn.BatchNorm1d(5, momentum=momentum), torch.nn.BatchNorm1d(5, momentum=momentum)
    with torch.no_grad():
        t.running_mean.copy_(torch.randn(5))
    jaxnn.load_state_dict(j, t.state_dict())
    x = np.zeros((0, 5, 9), np.float32)
    assert j(x).shape == tuple(t(torch.tensor(x)).shape) == (0, 5, 9)
    got, expected = jaxnn.state_dict(j), t.state_dict()
    assert int(got["num_batches_tracked"]) == int(expected["num_batches_tracked"]) == 1
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key].numpy(), err_msg=key)


# ---- issue #23 item 1: the variance of a constant channel is exactly 0, as torch's


def test_constant_channel_weight_gradient_is_exactly_zero(x64):
    """The deep fuzz profile's falsifying example: BatchNorm2d(3, track_running_stats=False),
    float64, channels 1 and 2 constant 2.00001, one 0 in channel 0. torch's weight gradient
    of the constant channels is exactly 0; jaxnn's was 1.65e-12 and 1.72e-12."""
    j = jaxnn.BatchNorm2d(3, track_running_stats=False, dtype="float64")
    t = torch.nn.BatchNorm2d(3, track_running_stats=False).double()
    x = np.full((2, 3, 2, 3), 2.00001)
    x[1, 0, 1, 2] = 0.0
    assert_layer_parity(j, t, (x,), jit=False)
    from tests.nn import param_grads
    from tests.parity import cotangent

    grads = param_grads(j, (x,), cotangent(x.shape, "float64"))
    assert grads["weight"][0] != 0.0
    assert grads["weight"][1] == 0.0 and grads["weight"][2] == 0.0


def test_constant_channel_where_torchs_sequential_mean_rounds_gives_exact_zero(x64):
    """The deep profile's next example (docs/reliability.md): 12 copies of c = 0x1.4c3038dc9b2ecp+1
    summed in order (torch's CPU kernel) round to 12c + 1 ulp, so torch's mean misses c by one
    ulp and 1/sqrt(eps) turns that into ~1.6e-12 weight gradients on a constant channel. jaxnn's
    pivoted mean is exactly c: its gradient is the exact 0. Pinned: jaxnn's 0, and torch's
    deviation within one ulp of the mean times sum(cotangent) / sqrt(eps)."""
    from tests.nn import param_grads
    from tests.parity import cotangent

    c = float.fromhex("0x1.4c3038dc9b2ecp+1")
    x, ct = np.full((2, 3, 2, 3), c), cotangent((2, 3, 2, 3), "float64")
    t = torch.nn.BatchNorm2d(3, track_running_stats=False).double()
    (t(torch.tensor(x)) * torch.tensor(ct)).sum().backward()
    got = param_grads(jaxnn.BatchNorm2d(3, track_running_stats=False, dtype="float64"), (x,), ct)
    np.testing.assert_array_equal(got["weight"], np.zeros(3))
    bound = np.spacing(c) * ct.sum(axis=(0, 2, 3)) / np.sqrt(1e-5)
    assert np.all(t.weight.grad.numpy() != 0) and np.all(np.abs(t.weight.grad.numpy()) <= bound)


def test_loading_torch_state_copies_it():
    """torch's state_dict tensors are live: loading must copy, or torch's in-place BatchNorm
    update would reach into the jaxnn model's buffers."""
    t, j = torch.nn.BatchNorm1d(3), jaxnn.BatchNorm1d(3)
    jaxnn.load_state_dict(j, t.state_dict())
    t(torch.randn(4, 3) + 5)
    np.testing.assert_array_equal(jaxnn.state_dict(j)["running_mean"], np.zeros(3, np.float32))
    assert int(jaxnn.state_dict(j)["num_batches_tracked"]) == 0


# ---- RMSNorm


@pytest.mark.parametrize(
    "args,options,shape",
    [((5,), {}, (3, 5)), (((2, 5),), {"eps": 1e-3}, (3, 2, 5)), ((5,), {"elementwise_affine": False}, (2, 4, 5))],
    ids=["default", "2d-eps", "no-affine"],
)
def test_rms_norm(args, options, shape, float_dtype):
    j = jaxnn.RMSNorm(*args, **options, dtype=float_dtype)
    t = as_dtype(torch.nn.RMSNorm(*args, **options), float_dtype)
    assert jaxnn.state_dict(j).keys() == t.state_dict().keys()
    t.load_state_dict({k: torch.randn(v.shape, dtype=v.dtype) for k, v in t.state_dict().items()})
    assert_layer_parity(j, t, (randn(*shape, dtype=float_dtype) * 1e-3,))


# ---- InstanceNorm


IN = [
    (jaxnn.InstanceNorm1d, torch.nn.InstanceNorm1d, (2, 3, 5), {}),
    (jaxnn.InstanceNorm1d, torch.nn.InstanceNorm1d, (3, 5), {"affine": True}),
    (jaxnn.InstanceNorm2d, torch.nn.InstanceNorm2d, (2, 3, 2, 3), {"affine": True, "track_running_stats": True}),
    (jaxnn.InstanceNorm2d, torch.nn.InstanceNorm2d, (3, 2, 3), {"track_running_stats": True, "eps": 1e-3}),
    (jaxnn.InstanceNorm3d, torch.nn.InstanceNorm3d, (2, 3, 2, 2, 2), {"affine": True, "momentum": 0.5}),
]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("jcls,tcls,shape,options", IN, ids=[f"{c[0].__name__}{c[2]}{c[3]}" for c in IN])
def test_instance_norm(jcls, tcls, shape, options, train):
    j, t = jcls(3, **options), tcls(3, **options)
    assert list(jaxnn.state_dict(j)) == list(t.state_dict())
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.randn(p.shape))
        if t.running_mean is not None:
            t.running_mean.copy_(torch.randn(3))
            t.running_var.copy_(torch.rand(3) + 0.5)
    assert_layer_parity(j, t, (randn(*shape) * 2 + 1,), train=train)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_instance_norm_running_stats_follow_torch_over_steps(momentum, float_dtype):
    rtol = 1e-12 if float_dtype == "float64" else 1e-5
    j = jaxnn.InstanceNorm2d(3, momentum=momentum, track_running_stats=True, affine=True, dtype=float_dtype)
    t = as_dtype(torch.nn.InstanceNorm2d(3, momentum=momentum, track_running_stats=True, affine=True), float_dtype)
    for step, shape in enumerate([(4, 3, 2, 3), (3, 2, 3), (2, 3, 3, 3)]):
        x = randn(*shape, dtype=float_dtype, seed=step) * (step + 1) + step
        chex.assert_trees_all_close(np.asarray(j(x)), t(torch.tensor(x)).detach().numpy(), rtol=rtol, atol=rtol)
    got, expected = jaxnn.state_dict(j), t.state_dict()
    assert int(got["num_batches_tracked"]) == 0, "torch never counts InstanceNorm's batches"
    for key in expected:
        assert got[key].dtype == expected[key].numpy().dtype, key
        chex.assert_trees_all_close(got[key], expected[key].numpy(), rtol=rtol, atol=rtol, custom_message=key)


def test_instance_norm_channel_mismatch_warns_without_affine_and_raises_with_it():
    x = randn(2, 3, 5)
    with pytest.warns(UserWarning, match="does not match num_features"):
        y = jaxnn.InstanceNorm1d(4)(x)
    chex.assert_trees_all_close(np.asarray(y), torch.nn.functional.instance_norm(torch.tensor(x)).numpy(), atol=2e-6)
    for options in ({"affine": True}, {"track_running_stats": True}):
        with pytest.raises(ValueError, match=r"size at dim=1 to match num_features \(4\), but got: 3"):
            jaxnn.InstanceNorm1d(4, **options)(x)
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D"):
        jaxnn.InstanceNorm2d(3)(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        jaxnn.InstanceNorm1d(3)(jnp.ones((3, 1)))


# ---- LocalResponseNorm, CrossMapLRN2d


@pytest.mark.parametrize(
    "jlayer,tlayer,shape",
    [
        (lambda: jaxnn.LocalResponseNorm(3, 0.5, 0.6, 2.0), lambda: torch.nn.LocalResponseNorm(3, 0.5, 0.6, 2.0), (2, 5, 3, 2)),
        (lambda: jaxnn.LocalResponseNorm(2), lambda: torch.nn.LocalResponseNorm(2), (2, 4, 3)),
        (lambda: jaxnn.CrossMapLRN2d(5, 0.5, 0.7, 1.5), lambda: torch.nn.CrossMapLRN2d(5, 0.5, 0.7, 1.5), (2, 7, 2, 2)),
        (lambda: jaxnn.CrossMapLRN2d(3), lambda: torch.nn.CrossMapLRN2d(3), (1, 4, 2, 3)),
    ],
    ids=["lrn", "lrn-defaults", "cross-map", "cross-map-defaults"],
)
def test_local_response_norms(jlayer, tlayer, shape, float_dtype):
    j, t = jlayer(), tlayer()
    assert jaxnn.state_dict(j) == {} and not t.state_dict()
    assert_layer_parity(j, t, (randn(*shape, dtype=float_dtype) * 10,))


# ---- SyncBatchNorm


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 1, 2, 2)], ids=str)
def test_sync_batch_norm_on_one_device_is_batch_norm(shape, train):
    j, t = jaxnn.SyncBatchNorm(3, momentum=0.3), torch.nn.SyncBatchNorm(3, momentum=0.3)
    assert list(jaxnn.state_dict(j)) == list(t.state_dict())
    with torch.no_grad():
        t.weight.copy_(torch.randn(3))
        t.running_mean.copy_(torch.randn(3))
    assert_layer_parity(j, t, (randn(*shape) * 2 + 1,), train=train)


def test_convert_sync_batchnorm_shares_state_and_mode():
    bn = jaxnn.BatchNorm2d(3, momentum=None, bias=False)
    model = jaxnn.Sequential(jaxnn.Conv2d(2, 3, 1, rngs=nnx.Rngs(0)), bn, jaxnn.Sequential(jaxnn.BatchNorm2d(3).eval()))
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3, momentum=None, bias=False),
                                 torch.nn.Sequential(torch.nn.BatchNorm2d(3).eval()))
    before = list(jaxnn.state_dict(model))
    converted = jaxnn.SyncBatchNorm.convert_sync_batchnorm(model, process_group="data")
    tconverted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(tmodel)
    assert converted is model
    assert type(model[1]) is jaxnn.SyncBatchNorm and type(model[2][0]) is jaxnn.SyncBatchNorm
    assert model[1].weight is bn.weight and model[1].running_var is bn.running_var
    assert (model[1].momentum, model[1].process_group, model[1].training, model[2][0].training) == (None, "data", True, False)
    assert list(jaxnn.state_dict(model)) == before == list(tconverted.state_dict())
    single = jaxnn.SyncBatchNorm.convert_sync_batchnorm(jaxnn.BatchNorm1d(4).eval())
    assert type(single) is jaxnn.SyncBatchNorm and not single.training


def test_sync_batch_norm_errors():
    with pytest.raises(ValueError, match=r"at least 2D input \(got 1D"):
        jaxnn.SyncBatchNorm(3)(jnp.ones(3))
    with pytest.raises(ValueError, match="channels should be non-zero"):
        jaxnn.SyncBatchNorm(0)(jnp.ones((2, 0)))
    with pytest.raises(TypeError, match="process_group must be None or a mesh axis name"):
        jaxnn.SyncBatchNorm(3, process_group=object())


def test_sync_batch_norm_data_parallel_equals_torch_on_the_global_batch():
    """2 forced CPU devices in a subprocess (the flag must precede jax's start): jaxnn's
    data-parallel step over a sharded batch, and a shard_map forward with process_group
    naming the mesh axis, against torch's BatchNorm on the whole global batch."""
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"}
    proc = subprocess.run([sys.executable, "-m", "tests.nn._sync_batchnorm_worker"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["devices"] == 2 and r["batch_shards"] == [[4, 4], [4, 4]], r
    assert r["num_batches_tracked"] == 3
    # float64: the sharded reductions differ from torch's only in summation order
    for key in ("step", "shard_map_out", "shard_map_state"):
        assert r[key] < 1e-12, (key, r)


# ---- default initialisation and keys of every norm layer equal a fresh torch layer's


@pytest.mark.parametrize(
    "jlayer,tlayer",
    [
        (lambda: jaxnn.RMSNorm([2, 3]), lambda: torch.nn.RMSNorm([2, 3])),
        (lambda: jaxnn.InstanceNorm3d(4, affine=True, track_running_stats=True), lambda: torch.nn.InstanceNorm3d(4, affine=True, track_running_stats=True)),
        (lambda: jaxnn.InstanceNorm1d(4), lambda: torch.nn.InstanceNorm1d(4)),
        (lambda: jaxnn.SyncBatchNorm(4, affine=False), lambda: torch.nn.SyncBatchNorm(4, affine=False)),
        (lambda: jaxnn.GroupNorm(2, 4, affine=False), lambda: torch.nn.GroupNorm(2, 4, affine=False)),
    ],
    ids=["rms", "instance3d", "instance-default", "sync", "group-no-affine"],
)
def test_fresh_state_equals_torchs(jlayer, tlayer):
    got, expected = jaxnn.state_dict(jlayer()), tlayer().state_dict()
    assert list(got) == list(expected)
    for key in expected:
        assert got[key].dtype == expected[key].numpy().dtype, key
        np.testing.assert_array_equal(got[key], expected[key].numpy(), err_msg=key)
