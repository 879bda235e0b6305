"""Pooling layers against torch (max, average, adaptive, LP, fractional, unpool), padding and ceil_mode included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import assert_layer_parity, randn

MAX = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": (2, 3), "stride": (2, 1), "padding": (1, 1), "ceil_mode": True},
    {"kernel_size": 2, "dilation": 2, "padding": 1},
    {"kernel_size": 3, "stride": 3, "padding": 1, "ceil_mode": True},
]


@pytest.mark.parametrize("options", MAX, ids=str)
def test_max_pool2d(options):
    assert_layer_parity(jaxnn.MaxPool2d(**options), torch.nn.MaxPool2d(**options), (randn(2, 3, 7, 8),))


def test_max_pool_gradient_goes_to_the_first_tie():
    """Windows of equal values (and overlapping windows): torch sends the gradient to the first max."""
    x = np.repeat(np.array([1.0, 1.0, 0.0, 2.0, 2.0], np.float32), 5).reshape(1, 1, 5, 5)
    assert_layer_parity(jaxnn.MaxPool2d(3, 1, 1), torch.nn.MaxPool2d(3, 1, 1), (x,))
    assert_layer_parity(jaxnn.MaxPool2d(2, 1, dilation=2), torch.nn.MaxPool2d(2, 1, dilation=2), (x,))
    assert_layer_parity(jaxnn.MaxPool2d(2), torch.nn.MaxPool2d(2), (np.zeros((1, 2, 4, 4), np.float32),))


@pytest.mark.parametrize(
    "cls_j,cls_t,options,shape",
    [(jaxnn.MaxPool2d, torch.nn.MaxPool2d, o, (2, 3, 7, 8)) for o in MAX]
    + [
        (jaxnn.MaxPool1d, torch.nn.MaxPool1d, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 8)),
        (jaxnn.MaxPool2d, torch.nn.MaxPool2d, {"kernel_size": 2}, (3, 6, 6)),
        (jaxnn.MaxPool2d, torch.nn.MaxPool2d, {"kernel_size": 3, "stride": 1, "padding": 1}, "ties"),
    ],
    ids=[str(o) for o in MAX] + ["1d", "unbatched", "ties"],
)
def test_max_pool_return_indices_are_torchs(cls_j, cls_t, options, shape):
    x = np.repeat(np.array([1.0, 1.0, 0.0, 2.0, 2.0], np.float32), 5).reshape(1, 1, 5, 5) if shape == "ties" else randn(*shape)
    j, t = cls_j(**options, return_indices=True), cls_t(**options, return_indices=True)
    tx = torch.from_numpy(x).requires_grad_(True)
    t_out, t_idx = t(tx)
    j_out, j_idx = j(x)
    np.testing.assert_array_equal(np.asarray(j_out), t_out.detach().numpy())
    np.testing.assert_array_equal(np.asarray(j_idx), t_idx.numpy())
    # The values keep torch's gradient (to each window's first maximum).
    ct = np.random.default_rng(1).standard_normal(t_out.shape).astype(np.float32)
    (t_out * torch.from_numpy(ct)).sum().backward()
    grad = jax.grad(lambda a: jnp.sum(j(a)[0] * ct))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(grad), tx.grad.numpy(), rtol=1e-6)


AVG = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 0)},
    {"kernel_size": 3, "padding": 1, "divisor_override": 5},
]


@pytest.mark.parametrize("options", AVG, ids=str)
def test_avg_pool2d(options):
    assert_layer_parity(jaxnn.AvgPool2d(**options), torch.nn.AvgPool2d(**options), (randn(2, 3, 7, 8),))


@pytest.mark.parametrize(
    "jlayer,tlayer,shape",
    [
        (jaxnn.MaxPool1d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool1d(3, 2, 1, ceil_mode=True), (2, 3, 8)),
        (jaxnn.AvgPool1d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 8)),
        (jaxnn.MaxPool2d(2), torch.nn.MaxPool2d(2), (3, 6, 6)),
        (jaxnn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), (2, 3, 7)),
    ],
    ids=["max1d", "avg1d", "unbatched-max2d", "adaptive1d"],
)
def test_1d_and_unbatched(jlayer, tlayer, shape):
    assert_layer_parity(jlayer, tlayer, (randn(*shape),))


@pytest.mark.parametrize("output_size", [1, 3, (2, 5), (None, 3), (7, 8), (4, 6)], ids=str)
def test_adaptive_avg_pool2d(output_size):
    _adaptive(output_size, "float32")


def test_adaptive_avg_pool2d_float64(x64):
    _adaptive((4, 6), "float64")


def _adaptive(output_size, float_dtype):
    assert_layer_parity(
        jaxnn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size), (randn(2, 3, 7, 8, dtype=float_dtype),)
    )


@pytest.mark.parametrize(
    "ctor,x_shape,message",
    [
        (lambda: jaxnn.MaxPool2d(2, padding=2), None, "pad should be at most half"),
        (lambda: jaxnn.AvgPool2d(3, padding=2), None, "pad should be at most half"),
        (lambda: jaxnn.AvgPool2d(2, divisor_override=0), None, "divisor"),
        (lambda: jaxnn.MaxPool2d(5), (1, 1, 3, 3), "output size is too small"),
        (lambda: jaxnn.AvgPool2d(2), (3, 3), "3D \\(unbatched\\) or 4D"),
    ],
)
def test_errors(ctor, x_shape, message):
    with pytest.raises(ValueError, match=message):
        layer = ctor()
        layer(np.zeros(x_shape, np.float32))


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (1, 1, 2, 2)], ids=["empty-batch", "nan"])
def test_max_pool_return_indices_edges(shape):
    """An empty batch gives empty outputs; a nan is the window's maximum and its index is returned (torch)."""
    x = np.zeros(shape, np.float32)
    if x.size:
        x[0, 0] = [[1.0, np.nan], [3.0, 2.0]]
    out, idx = jaxnn.MaxPool2d(2, return_indices=True)(x)
    t_out, t_idx = torch.nn.MaxPool2d(2, return_indices=True)(torch.from_numpy(x))
    np.testing.assert_array_equal(np.asarray(out), t_out.numpy())
    np.testing.assert_array_equal(np.asarray(idx), t_idx.numpy())


@pytest.mark.parametrize(
    "jlayer,tlayer,shape",
    [
        (jaxnn.MaxPool3d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool3d(3, 2, 1, ceil_mode=True), (2, 2, 5, 6, 5)),
        (jaxnn.AvgPool3d(2, 1, 1, count_include_pad=False, divisor_override=None), torch.nn.AvgPool3d(2, 1, 1, count_include_pad=False), (2, 5, 4, 3)),
        (jaxnn.AdaptiveAvgPool3d((2, None, 3)), torch.nn.AdaptiveAvgPool3d((2, None, 3)), (2, 2, 5, 4, 6)),
        (jaxnn.AdaptiveMaxPool1d(3), torch.nn.AdaptiveMaxPool1d(3), (2, 3, 7)),
        (jaxnn.AdaptiveMaxPool3d(2), torch.nn.AdaptiveMaxPool3d(2), (2, 3, 5, 4)),
        (jaxnn.LPPool1d(2, 3, 2), torch.nn.LPPool1d(2, 3, 2), (2, 3, 9)),
        (jaxnn.LPPool2d(3, (2, 3), ceil_mode=True), torch.nn.LPPool2d(3, (2, 3), ceil_mode=True), (2, 3, 7, 7)),
        (jaxnn.LPPool3d(2, 2), torch.nn.LPPool3d(2, 2), (1, 2, 4, 4, 4)),
    ],
    ids=["max3d", "avg3d-unbatched", "adaptive-avg3d", "adaptive-max1d", "adaptive-max3d-unbatched", "lp1d", "lp2d", "lp3d"],
)
def test_new_modules_match_torch(jlayer, tlayer, shape):
    assert_layer_parity(jlayer, tlayer, (randn(*shape),))


@pytest.mark.parametrize(
    "jlayer,tlayer,shape",
    [
        (jaxnn.MaxPool3d(2, return_indices=True), torch.nn.MaxPool3d(2, return_indices=True), (2, 2, 4, 5, 4)),
        (jaxnn.AdaptiveMaxPool2d((3, 2), return_indices=True), torch.nn.AdaptiveMaxPool2d((3, 2), return_indices=True), (2, 3, 7, 5)),
    ],
    ids=["max3d", "adaptive-max2d"],
)
def test_module_indices_are_torchs(jlayer, tlayer, shape):
    x = randn(*shape)
    (y, i), (ty, ti) = jlayer(x), tlayer(torch.from_numpy(x))
    np.testing.assert_array_equal(np.asarray(y), ty.numpy())
    np.testing.assert_array_equal(np.asarray(i), ti.numpy())


def test_fractional_max_pool_with_samples_is_torch_and_keeps_them_as_a_buffer():
    samples = np.random.default_rng(3).random((2, 3, 2)).astype(np.float32)
    j = jaxnn.FractionalMaxPool2d(2, output_ratio=0.5, _random_samples=samples)
    t = torch.nn.FractionalMaxPool2d(2, output_ratio=0.5, _random_samples=torch.from_numpy(samples))
    assert list(jaxnn.state_dict(j)) == list(t.state_dict()) == ["_random_samples"]
    assert_layer_parity(j, t, (randn(2, 3, 8, 9),))


def test_fractional_max_pool_draws_from_its_rngs_in_train_and_eval():
    """torch draws fresh samples on every call whatever the mode; so does the module's stream."""
    pool = jaxnn.FractionalMaxPool3d(2, output_size=(3, 3, 3), return_indices=True, rngs=nnx.Rngs(0))
    x = randn(1, 4, 7, 7, 7)
    (a, ia), (b, ib) = pool(x), pool.eval()(x)
    assert a.shape == b.shape == (1, 4, 3, 3, 3)
    assert not np.array_equal(np.asarray(ia), np.asarray(ib))
    with pytest.raises(ValueError, match="rngs"):
        jaxnn.FractionalMaxPool2d(2, output_size=2)(x[0, :, 0])
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        jaxnn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="only one of"):
        jaxnn.FractionalMaxPool2d(2, output_size=2, output_ratio=0.5)


def test_max_unpool_module_round_trip():
    """MaxPool -> MaxUnpool modules, the indices passed between them, against torch's pair."""
    x = randn(2, 3, 5, 5)

    @jax.jit
    def round_trip(a):
        y, i = jaxnn.MaxPool2d(2, return_indices=True)(a)
        y3, i3 = jaxnn.MaxPool3d(2, return_indices=True)(a[None])
        return jaxnn.MaxUnpool2d(2)(y, i, output_size=(5, 5)), jaxnn.MaxUnpool3d(2)(y3, i3, (3, 5, 5))

    got2, got3 = round_trip(x)
    tx = torch.from_numpy(x)
    t2 = torch.nn.MaxUnpool2d(2)(*torch.nn.MaxPool2d(2, return_indices=True)(tx), output_size=(5, 5))
    t3 = torch.nn.MaxUnpool3d(2)(*torch.nn.MaxPool3d(2, return_indices=True)(tx[None]), output_size=(3, 5, 5))
    np.testing.assert_array_equal(np.asarray(got2), t2.numpy())
    np.testing.assert_array_equal(np.asarray(got3), t3.numpy())
