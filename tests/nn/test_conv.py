"""Conv1d, Conv2d, ConvTranspose1d/2d against torch for every option."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import as_dtype, assert_layer_parity, randn

CONV2D = [
    {},
    {"stride": 2, "padding": 1},
    {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)},
    {"padding": "same", "kernel_size": 4},
    {"padding": "same", "dilation": 2},
    {"padding": "valid"},
    {"groups": 2, "padding": 1},
    {"bias": False},
    {"padding": 2, "padding_mode": "reflect"},
    {"padding": (1, 2), "padding_mode": "replicate"},
    {"padding": 1, "padding_mode": "circular", "stride": 2},
    {"padding": "same", "padding_mode": "reflect", "kernel_size": (2, 3)},
]


@pytest.mark.parametrize("options", CONV2D, ids=[str(o) for o in CONV2D])
def test_conv2d(options):
    _conv2d(options, "float32")


@pytest.mark.parametrize("options", [CONV2D[1], CONV2D[6], CONV2D[8]], ids=str)
def test_conv2d_float64(options, x64):
    _conv2d(options, "float64")


def _conv2d(options, float_dtype):
    options = {"kernel_size": 3, **options}
    j = jaxnn.Conv2d(4, 6, **options, rngs=nnx.Rngs(0), dtype=float_dtype)
    t = as_dtype(torch.nn.Conv2d(4, 6, **options), float_dtype)
    assert_layer_parity(j, t, (randn(2, 4, 7, 6, dtype=float_dtype),))


CONV1D = [{}, {"stride": 3, "padding": 2, "dilation": 2}, {"padding": "same", "kernel_size": 4}, {"groups": 4}, {"padding": 2, "padding_mode": "circular"}]


@pytest.mark.parametrize("options", CONV1D, ids=[str(o) for o in CONV1D])
def test_conv1d(options):
    options = {"kernel_size": 3, **options}
    assert_layer_parity(jaxnn.Conv1d(4, 8, **options, rngs=nnx.Rngs(0)), torch.nn.Conv1d(4, 8, **options), (randn(2, 4, 9),))


def test_unbatched_input():
    assert_layer_parity(jaxnn.Conv2d(3, 2, 3, rngs=nnx.Rngs(0)), torch.nn.Conv2d(3, 2, 3), (randn(3, 5, 5),))


CONVT2D = [
    {},
    {"stride": 2},
    {"stride": 2, "padding": 1, "output_padding": 1},
    {"stride": (2, 3), "padding": (0, 1), "output_padding": (1, 2), "dilation": (1, 2)},
    {"groups": 2, "stride": 2},
    {"bias": False, "dilation": 2},
    {"padding": 3, "stride": 2},
]


@pytest.mark.parametrize("options", CONVT2D, ids=[str(o) for o in CONVT2D])
def test_conv_transpose2d(options):
    _conv_transpose2d(options, "float32")


@pytest.mark.parametrize("options", [CONVT2D[2], CONVT2D[4]], ids=str)
def test_conv_transpose2d_float64(options, x64):
    _conv_transpose2d(options, "float64")


def _conv_transpose2d(options, float_dtype):
    j = jaxnn.ConvTranspose2d(4, 6, 3, **options, rngs=nnx.Rngs(0), dtype=float_dtype)
    t = as_dtype(torch.nn.ConvTranspose2d(4, 6, 3, **options), float_dtype)
    assert_layer_parity(j, t, (randn(2, 4, 5, 4, dtype=float_dtype),))


def test_conv_transpose1d():
    options = {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}
    assert_layer_parity(jaxnn.ConvTranspose1d(4, 2, 4, **options, rngs=nnx.Rngs(0)), torch.nn.ConvTranspose1d(4, 2, 4, **options), (randn(3, 4, 6),))


def test_weight_layouts_are_torchs():
    for j, t in [
        (jaxnn.Conv2d(4, 6, (3, 2), groups=2, rngs=nnx.Rngs(0)), torch.nn.Conv2d(4, 6, (3, 2), groups=2)),
        (jaxnn.ConvTranspose2d(4, 6, (3, 2), groups=2, rngs=nnx.Rngs(0)), torch.nn.ConvTranspose2d(4, 6, (3, 2), groups=2)),
    ]:
        assert {k: v.shape for k, v in jaxnn.state_dict(j).items()} == {k: tuple(v.shape) for k, v in t.state_dict().items()}


@pytest.mark.parametrize(
    "ctor,message",
    [
        (lambda: jaxnn.Conv2d(3, 4, 3, groups=2, rngs=nnx.Rngs(0)), "in_channels \\(3\\) must be divisible by groups"),
        (lambda: jaxnn.Conv2d(4, 3, 3, groups=2, rngs=nnx.Rngs(0)), "out_channels \\(3\\) must be divisible"),
        (lambda: jaxnn.Conv2d(4, 4, 3, padding="full", rngs=nnx.Rngs(0)), "invalid padding string 'full'"),
        (lambda: jaxnn.Conv2d(4, 4, 3, stride=2, padding="same", rngs=nnx.Rngs(0)), "strided"),
        (lambda: jaxnn.Conv2d(4, 4, 3, padding_mode="mirror", rngs=nnx.Rngs(0)), "padding_mode"),
        (lambda: jaxnn.Conv2d(4, 4, (3, 3, 3), rngs=nnx.Rngs(0)), "kernel_size must be an int or a tuple of 2"),
        (lambda: jaxnn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2, rngs=nnx.Rngs(0)), "output padding"),
        (lambda: jaxnn.ConvTranspose2d(4, 4, 3, padding_mode="reflect", rngs=nnx.Rngs(0)), "zeros"),
    ],
)
def test_bad_options_raise(ctor, message):
    with pytest.raises(ValueError, match=message):
        ctor()


def test_bad_inputs_raise():
    conv = jaxnn.Conv2d(4, 4, 3, padding=3, padding_mode="reflect", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"4 channels, got 3"):
        conv(jnp.ones((1, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"3D \(unbatched\) or 4D"):
        conv(jnp.ones((8, 8)))
    with pytest.raises(ValueError, match="reflect padding"):
        conv(jnp.ones((1, 4, 3, 8)))


@pytest.mark.parametrize("transposed", [False, True])
def test_default_init_matches_torch(transposed):
    """U(+-1/sqrt(fan_in)) with torch's fan_in = weight.shape[1] * kernel area, for weight and bias."""
    cls_j, cls_t = (jaxnn.ConvTranspose2d, torch.nn.ConvTranspose2d) if transposed else (jaxnn.Conv2d, torch.nn.Conv2d)
    j, t = cls_j(64, 32, 3, groups=2, rngs=nnx.Rngs(0)), cls_t(64, 32, 3, groups=2)
    for name in ("weight", "bias"):
        jw, tw = np.asarray(getattr(j, name)[...]), getattr(t, name).detach().numpy()
        bound = 1 / np.sqrt(tw.shape[1] * 9) if name == "weight" else 1 / np.sqrt(t.weight.shape[1] * 9)
        assert np.abs(jw).max() <= bound and np.abs(tw).max() <= bound
        if name == "weight":  # 18432 draws; the 32 biases are only checked against the bound
            assert np.abs(jw).max() > 0.99 * bound
            chex.assert_trees_all_close(jw.std(), tw.std(), rtol=0.05)


def test_bfloat16():
    j = jaxnn.Conv2d(4, 6, 3, padding=1, rngs=nnx.Rngs(0), dtype=jnp.bfloat16)
    assert_layer_parity(j, torch.nn.Conv2d(4, 6, 3, padding=1).bfloat16(), (randn(2, 4, 7, 6).astype(jnp.bfloat16),))


@pytest.mark.parametrize(
    "output_size", [[9, 10], [2, 4, 10, 10], [10, 9]], ids=["spatial", "full", "mixed"]
)
def test_conv_transpose_output_size_picks_the_padding_as_torch(output_size):
    options = dict(stride=2, padding=1, dilation=1)
    j = jaxnn.ConvTranspose2d(4, 6, 3, **options, rngs=nnx.Rngs(0))
    t = torch.nn.ConvTranspose2d(4, 6, 3, **options)
    jaxnn.load_state_dict(j, t.state_dict())
    x = randn(2, 4, 5, 5)
    tx = torch.from_numpy(x).requires_grad_(True)
    t_out = t(tx, output_size=output_size)
    expected = t_out.detach().numpy()
    got, vjp = jax.vjp(lambda a: j(a, output_size=output_size), jnp.asarray(x))
    chex.assert_shape(got, expected.shape)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)
    # The extra output rows/columns get their gradient too (they read the padded input).
    ct = np.random.default_rng(2).standard_normal(expected.shape).astype(np.float32)
    (t_out * torch.from_numpy(ct)).sum().backward()
    np.testing.assert_allclose(np.asarray(vjp(jnp.asarray(ct))[0]), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "output_size,message",
    [
        ([11, 9], r"ConvTranspose2d: requested an output size of \[11, 9\], but valid sizes range from \[9, 9\] to \[10, 10\] \(for an input of \[5, 5\]\)"),
        ([9], r"ConvTranspose2d: for 4D input, output_size must have 2 or 4 elements \(got 1\)"),
    ],
)
def test_conv_transpose_bad_output_size(output_size, message):
    j = jaxnn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError) as theirs:
        torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)(torch.zeros(2, 4, 5, 5), output_size=output_size)
    with pytest.raises(ValueError, match=message):
        j(jnp.zeros((2, 4, 5, 5)), output_size=output_size)
    assert "output" in str(theirs.value)  # torch refuses the same sizes


CONV3D = [
    {"stride": (1, 2, 1), "padding": (1, 0, 2), "dilation": (2, 1, 1), "groups": 2},
    {"padding": "same", "kernel_size": (2, 3, 2), "bias": False},
    {"padding": 1, "padding_mode": "reflect"},
    {"padding": (0, 1, 2), "padding_mode": "circular", "stride": 2},
    {"padding": 1, "padding_mode": "replicate"},
]


@pytest.mark.parametrize("options", CONV3D, ids=str)
def test_conv3d(options):
    options = {"kernel_size": 3, **options}
    j, t = jaxnn.Conv3d(4, 6, **options, rngs=nnx.Rngs(0)), torch.nn.Conv3d(4, 6, **options)
    assert_layer_parity(j, t, (randn(1, 4, 4, 5, 4),))


def test_conv3d_float64_unbatched(x64):
    j = jaxnn.Conv3d(4, 2, 3, padding=1, rngs=nnx.Rngs(0), dtype="float64")
    assert_layer_parity(j, torch.nn.Conv3d(4, 2, 3, padding=1).double(), (randn(4, 4, 5, 3, dtype="float64"),))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_transpose3d(dtype, request):
    if dtype == "float64":
        request.getfixturevalue("x64")
    options = {"stride": (2, 1, 2), "padding": (1, 0, 1), "output_padding": (1, 0, 0), "groups": 2, "dilation": (1, 2, 1)}
    j = jaxnn.ConvTranspose3d(4, 6, (3, 2, 3), **options, rngs=nnx.Rngs(0), dtype=dtype)
    t = as_dtype(torch.nn.ConvTranspose3d(4, 6, (3, 2, 3), **options), dtype)
    assert_layer_parity(j, t, (randn(2, 4, 3, 4, 3, dtype=dtype),))


def test_conv_transpose3d_output_size_and_unbatched():
    j, t = jaxnn.ConvTranspose3d(2, 3, 3, stride=2, rngs=nnx.Rngs(0)), torch.nn.ConvTranspose3d(2, 3, 3, stride=2)
    jaxnn.load_state_dict(j, t.state_dict())
    x = randn(2, 3, 4, 3)
    expected = t(torch.from_numpy(x), output_size=[8, 10, 8]).detach().numpy()
    np.testing.assert_allclose(np.asarray(j(x, output_size=[8, 10, 8])), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("transposed", [False, True], ids=["Conv3d", "ConvTranspose3d"])
def test_3d_state_dict_and_default_init_match_torch(transposed):
    """Keys and shapes are torch's; weight and bias are U(+-1/sqrt(fan_in)), fan_in = weight.shape[1] * kD * kH * kW."""
    cls_j, cls_t = (jaxnn.ConvTranspose3d, torch.nn.ConvTranspose3d) if transposed else (jaxnn.Conv3d, torch.nn.Conv3d)
    j, t = cls_j(16, 32, (3, 2, 3), groups=2, rngs=nnx.Rngs(0)), cls_t(16, 32, (3, 2, 3), groups=2)
    assert {k: v.shape for k, v in jaxnn.state_dict(j).items()} == {k: tuple(v.shape) for k, v in t.state_dict().items()}
    bound = 1 / np.sqrt(t.weight.shape[1] * 18)
    jw, tw = np.asarray(j.weight[...]), t.weight.detach().numpy()
    assert np.abs(jw).max() <= bound and np.abs(np.asarray(j.bias[...])).max() <= bound
    assert np.abs(jw).max() > 0.99 * bound
    chex.assert_trees_all_close(jw.std(), tw.std(), rtol=0.05)  # U(-b, b): std b / sqrt(3)
    chex.assert_trees_all_close(jw.std(), bound / np.sqrt(3), rtol=0.05)
