"""F.conv1d/2d/3d, conv_transpose1d/2d/3d, conv_tbc, unfold and fold against torch:
values and gradients w.r.t. input, weight and bias; float32 and float64; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.nn import randn
from tests.parity import assert_parity

# (name, input shape, weight shape, bias?, keyword args)
CONV = [
    ("conv1d", (2, 4, 9), (6, 2, 3), True, {"stride": 2, "padding": 1, "groups": 2}),
    ("conv1d", (4, 9), (3, 4, 4), False, {"padding": "same", "dilation": 2}),
    ("conv2d", (2, 3, 7, 6), (4, 3, 3, 2), True, {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}),
    ("conv2d", (2, 4, 6, 6), (4, 1, 2, 2), True, {"padding": "same", "groups": 4}),
    ("conv3d", (2, 4, 5, 6, 5), (6, 2, 3, 2, 3), True, {"stride": (1, 2, 1), "padding": (1, 0, 2), "dilation": (2, 1, 1), "groups": 2}),
    ("conv3d", (3, 4, 5, 4), (2, 3, 2, 3, 2), False, {"padding": "valid"}),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), True, {"stride": 2, "padding": 1, "output_padding": 1}),
    ("conv_transpose2d", (4, 5, 4), (4, 2, 3, 3), True, {"stride": (2, 1), "groups": 2, "dilation": (1, 2)}),
    ("conv_transpose3d", (2, 4, 3, 4, 3), (4, 3, 3, 2, 3), True, {"stride": (2, 1, 3), "padding": (1, 0, 1), "output_padding": (1, 0, 2), "groups": 2, "dilation": (1, 2, 1)}),
    ("conv_transpose3d", (4, 2, 3, 2), (4, 2, 2, 2, 2), False, {"stride": 2, "padding": 1}),
]


def _conv_case(name, x_shape, w_shape, has_bias, kwargs, dtype):
    args = [randn(*x_shape, dtype=dtype), randn(*w_shape, dtype=dtype, seed=1)]
    if has_bias:
        channels = w_shape[0] if "transpose" not in name else w_shape[1] * kwargs.get("groups", 1)
        args.append(randn(channels, dtype=dtype, seed=2))
    assert_parity(getattr(F, name), getattr(TF, name), args, kwargs, wrt=tuple(range(len(args))), jit=True)


@pytest.mark.parametrize("case", CONV, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONV)])
def test_conv_matches_torch(case):
    _conv_case(*case, "float32")


@pytest.mark.parametrize("case", [CONV[4], CONV[8]], ids=["conv3d", "conv_transpose3d"])
def test_conv_float64(case, x64):
    _conv_case(*case, "float64")


def test_conv_tbc():
    args = [randn(7, 2, 3), randn(3, 3, 5, seed=1), randn(5, seed=2)]
    assert_parity(lambda x, w, b: F.conv_tbc(x, w, b, 2), lambda x, w, b: torch.conv_tbc(x, w, b, 2), args, wrt=(0, 1, 2))


UNFOLD = [
    {"kernel_size": 3},
    {"kernel_size": (2, 3), "dilation": (2, 1), "padding": (1, 2), "stride": (2, 3)},
]


@pytest.mark.parametrize("kwargs", UNFOLD, ids=str)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_unfold_and_fold(kwargs, batched):
    x = randn(*((2, 3, 7, 8) if batched else (3, 7, 8)))
    assert_parity(F.unfold, TF.unfold, (x,), kwargs, jit=True)
    cols = TF.unfold(torch.from_numpy(x), **kwargs).numpy()
    assert_parity(lambda c: F.fold(c, (7, 8), **kwargs), lambda c: TF.fold(c, (7, 8), **kwargs), (cols,), jit=True)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: F.conv2d(np.zeros((1, 3, 5, 5), np.float32), np.zeros((4, 2, 3, 3), np.float32)), ValueError, "expected input \\[1, 3, 5, 5\\] to have 2 channels, but got 3"),
        (lambda: F.conv3d(np.zeros((5, 5), np.float32), np.zeros((4, 1, 3, 3, 3), np.float32)), ValueError, r"conv3d: expected 4D \(unbatched\) or 5D"),
        (lambda: F.conv2d(np.zeros((1, 1, 5, 5), np.float32), np.zeros((4, 1, 3), np.float32)), ValueError, "expected a 4D weight"),
        (lambda: F.conv1d(np.zeros((1, 1, 2), np.float32), np.zeros((4, 1, 3), np.float32)), ValueError, "smaller than the \\(dilated\\) kernel size"),
        (lambda: F.conv1d(np.zeros((1, 1, 5), np.float32), np.zeros((4, 1, 3), np.float32), padding="full"), ValueError, "invalid padding string 'full'"),
        (lambda: F.conv1d(np.zeros((1, 1, 5), np.float32), np.zeros((4, 1, 3), np.float32), stride=2, padding="same"), ValueError, "strided"),
        (lambda: F.conv1d(np.zeros((1, 1, 5), np.float32), np.zeros((4, 1, 3), np.float32), np.zeros(3, np.float32)), ValueError, r"bias of shape \(4,\)"),
        (lambda: F.conv1d(np.zeros((1, 4, 5), np.float32), np.zeros((3, 2, 3), np.float32), groups=2), ValueError, "not divisible by groups=2"),
        (lambda: F.conv1d(np.zeros((1, 1, 5), np.int32), np.zeros((4, 1, 3), np.float32)), TypeError, "floating dtype"),
        (lambda: F.conv_transpose2d(np.zeros((1, 2, 3, 3), np.float32), np.zeros((2, 1, 3, 3), np.float32), stride=2, output_padding=2), ValueError, "output padding"),
        (lambda: F.conv_transpose1d(np.zeros((1, 3, 3), np.float32), np.zeros((2, 1, 3), np.float32)), ValueError, "to have 2 channels, but got 3"),
        (lambda: F.conv_transpose1d(np.zeros((1, 2, 1), np.float32), np.zeros((2, 1, 3), np.float32), padding=2), ValueError, "too small"),
        (lambda: F.conv_tbc(np.zeros((5, 2, 3), np.float32), np.zeros((3, 4, 5), np.float32), np.zeros(5, np.float32)), ValueError, "channels"),
        (lambda: F.unfold(np.zeros((1, 1, 2, 2), np.float32), 3), ValueError, "must be at least one"),
        (lambda: F.unfold(np.zeros((2, 2), np.float32), 1), ValueError, "only 3D"),
        (lambda: F.fold(np.zeros((1, 5, 4), np.float32), (3, 3), 2), ValueError, "divisible by the product of kernel_size"),
        (lambda: F.fold(np.zeros((1, 4, 5), np.float32), (3, 3), 2), ValueError, "match the calculated number of sliding blocks"),
    ],
)
def test_bad_input_raises(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_errors_are_raised_at_trace_time():
    with pytest.raises(ValueError, match="channels"):
        jax.jit(F.conv2d)(jnp.zeros((1, 3, 5, 5)), jnp.zeros((4, 2, 3, 3)))


def test_half_precision_accumulates_in_float32():
    """A long reduction of bf16 products: summed in float32 then rounded once, as torch."""
    x, w = randn(1, 64, 4, 4, 4).astype(jnp.bfloat16), randn(2, 64, 3, 3, 3, seed=1).astype(jnp.bfloat16)
    got = F.conv3d(x, w, padding=1)
    expected = TF.conv3d(torch.tensor(np.asarray(x, np.float32)).bfloat16(), torch.tensor(np.asarray(w, np.float32)).bfloat16(), padding=1)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(got, np.float32), expected.float().numpy(), rtol=1e-2, atol=1e-2)


def test_empty_batch():
    x, w = np.zeros((0, 4, 3, 4, 3), np.float32), np.ones((4, 2, 2, 2, 2), np.float32)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    assert F.conv3d(x, w, groups=2).shape == tuple(TF.conv3d(tx, tw, groups=2).shape) == (0, 4, 2, 3, 2)
    assert F.conv_transpose3d(x, w, stride=2).shape == tuple(TF.conv_transpose3d(tx, tw, stride=2).shape)
    assert F.unfold(x[:, :, 0], 2).shape == tuple(TF.unfold(tx[:, :, 0], 2).shape)
