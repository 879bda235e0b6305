"""The per-shape lowerings of conv{1,2,3}d (issue #20; rules in jaxnn/functional/conv.py):
each equals torch (values, input and weight gradients) and the plain lax.conv_general_dilated
path at the shapes where it is selected, including the shapes of benchmarks/conv_ops.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from jaxnn.functional import conv as C
from tests.nn import randn
from tests.parity import cotangent, tolerance

# (id, function, input shape, weight shape, keyword args, the rule that must be selected)
CASES = [
    ("cnn-conv1", "conv2d", (8, 1, 28, 28), (16, 1, 3, 3), {"padding": 1}, "batched"),
    ("grey-5x5-strided", "conv2d", (3, 1, 17, 15), (6, 1, 5, 5), {"stride": 2, "padding": 2}, "batched"),
    ("two-ch-dilated", "conv2d", (3, 2, 12, 11), (5, 2, 3, 3), {"dilation": 2, "padding": (2, 1)}, "batched"),
    ("grey-unbatched-same", "conv2d", (1, 9, 8), (4, 1, 2, 3), {"padding": "same"}, "batched"),
    ("rgb-3x3", "conv2d", (2, 3, 10, 10), (4, 3, 3, 3), {"padding": 1}, "lax"),
    ("r18-512-2x2", "conv2d", (4, 512, 2, 2), (512, 512, 3, 3), {"padding": 1}, "im2col"),
    ("r18-1x1-stride2", "conv2d", (4, 256, 4, 4), (512, 256, 1, 1), {"stride": 2}, "im2col"),
    ("1x1-large-map", "conv2d", (2, 16, 20, 20), (24, 16, 1, 1), {}, "im2col"),
    ("small-out-strided-dilated", "conv2d", (2, 3, 7, 6), (4, 3, 3, 2), {"stride": 2, "padding": (1, 0), "dilation": (1, 2)}, "im2col"),
    ("conv1d-1x1", "conv1d", (3, 5, 40), (7, 5, 1), {}, "im2col"),
    ("conv1d-short", "conv1d", (3, 5, 9), (7, 5, 3), {"padding": "same"}, "im2col"),
    ("conv3d-block-conv1", "conv3d", (2, 8, 8, 8, 8), (16, 8, 3, 3, 3), {"padding": 1}, "fold"),
    ("conv3d-strided-dilated", "conv3d", (2, 3, 9, 8, 7), (4, 3, 3, 2, 3), {"stride": (2, 1, 2), "padding": (2, 1, 0), "dilation": (2, 1, 1)}, "fold"),
    ("conv3d-tiny-map", "conv3d", (2, 64, 2, 2, 2), (32, 64, 3, 3, 3), {"padding": 1}, "fold"),
    ("conv3d-unbatched-same", "conv3d", (3, 5, 4, 6), (2, 3, 2, 3, 2), {"padding": "same"}, "fold"),
]
IDS = [c[0] for c in CASES]


def _args(x_shape, w_shape, dtype="float32"):
    # Weights at 1/sqrt(fan in), as a layer's init: outputs of order 1 at every size.
    fan_in = int(np.prod(w_shape[1:]))
    w = (randn(*w_shape, dtype="float64", seed=1) / np.sqrt(fan_in)).astype(dtype)
    return [randn(*x_shape, dtype=dtype), w, randn(w_shape[0], dtype=dtype, seed=2)]


def _torch_out_shape(name, args, kwargs):
    return getattr(TF, name)(*(torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in args), **kwargs).shape


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rule_selected(case):
    _, name, x_shape, w_shape, kwargs, rule = case
    out = _torch_out_shape(name, _args(x_shape, w_shape), kwargs)
    assert C._rule(len(w_shape) - 2, w_shape, 1, tuple(out[-(len(w_shape) - 2):])) == rule


# Sums here run over up to 6,272 terms (the weight gradient of cnn-conv1), so the
# elementwise float32 tolerance of tests/parity.py, sized for sums of 1e2..1e4 small
# terms, is replaced by float32 rounding relative to the largest magnitude: torch's own
# float32 result is up to 1.4e-6 from the float64 one at these shapes, the lax path 7e-7.
RELATIVE = 2e-6
WHAT = ("output", "input gradient", "weight gradient", "bias gradient")


def _value_and_grads(name, args, kwargs):
    f = jax.jit(lambda x, w, b: getattr(F, name)(x, w, b, **kwargs))
    out, vjp = jax.vjp(f, *map(jnp.asarray, args))
    return [out, *vjp(jnp.asarray(cotangent(out.shape, out.dtype)))]


def _torch_value_and_grads(name, args, kwargs, dtype):
    t = [torch.from_numpy(np.array(a)).to(dtype).requires_grad_() for a in args]
    out = getattr(TF, name)(*t, **kwargs)
    ct = torch.from_numpy(np.array(cotangent(tuple(out.shape), np.float32))).to(dtype)
    return [out.detach().numpy(), *(g.numpy() for g in torch.autograd.grad(out, t, ct))]


def _assert_close(actual, desired):
    for what, a, d in zip(WHAT, actual, desired):
        a, d = np.asarray(a, np.float64), np.asarray(d, np.float64)
        assert a.shape == d.shape, what
        error = np.max(np.abs(a - d)) / np.max(np.abs(d))
        assert error <= RELATIVE, f"{what}: max error {error:.2e} of the largest magnitude"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case):
    _, name, x_shape, w_shape, kwargs, _ = case
    args = _args(x_shape, w_shape)
    ours = _value_and_grads(name, args, kwargs)
    assert all(a.dtype == jnp.float32 for a in ours)
    _assert_close(ours, _torch_value_and_grads(name, args, kwargs, torch.float64))
    _assert_close(ours, _torch_value_and_grads(name, args, kwargs, torch.float32))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_lax_path(case):
    _, name, x_shape, w_shape, kwargs, _ = case
    args = _args(x_shape, w_shape)
    new = _value_and_grads(name, args, kwargs)
    with C._lowering("lax"):
        old = _value_and_grads(name, args, kwargs)
    _assert_close(new, old)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("case", [CASES[0], CASES[8], CASES[12]], ids=["batched", "im2col", "fold"])
def test_half_precision_accumulates_in_float32(case, dtype):
    _, name, x_shape, w_shape, kwargs, _ = case
    args = _args(x_shape, w_shape, "float32")
    # Compare against the lax path (float32 accumulation, as torch) on the same half inputs.
    half = [jnp.asarray(a).astype(dtype) for a in args]
    new = getattr(F, name)(*half, **kwargs)
    with C._lowering("lax"):
        old = getattr(F, name)(*half, **kwargs)
    assert new.dtype == jnp.dtype(dtype)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(np.asarray(new, np.float32), np.asarray(old, np.float32), rtol=rtol, atol=atol)


def test_batched_rule_bound():
    # C_in * taps <= 25, 2-d only (measured: 1-d was faster at some such shapes, 3x slower at others).
    assert C._rule(2, (8, 1, 5, 5), 1, (20, 20)) == "batched"
    assert C._rule(2, (8, 3, 3, 3), 1, (20, 20)) == "lax"
    assert C._rule(2, (8, 1, 1, 1), 1, (20, 20)) == "im2col"
    assert C._rule(1, (8, 1, 9), 1, (100,)) == "lax"


def test_batched_rule_on_an_empty_batch_is_torchs():
    x, w = np.zeros((0, 1, 8, 8), np.float32), randn(4, 1, 3, 3, dtype="float32")
    out = F.conv2d(x, w, padding=1)
    assert out.shape == tuple(TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).shape)
    grad = jax.grad(lambda w: jnp.sum(F.conv2d(x, w, padding=1)))(jnp.asarray(w))
    np.testing.assert_array_equal(np.asarray(grad), np.zeros_like(w))  # torch: a zero weight gradient


def test_loop_body_turns_the_lax_rule_into_im2col():
    # XLA:CPU's loop bodies keep convolutions on a slow emitter (jaxnn.training's scans set this).
    with C._loop_body():
        assert C._rule(2, (8, 16, 3, 3), 1, (14, 14)) == "im2col"
        assert C._rule(2, (8, 1, 3, 3), 1, (14, 14)) == "batched"
        assert C._rule(2, (4, 1, 3, 3), 4, (14, 14)) == "lax"  # groups > 1
    assert C._rule(2, (8, 16, 3, 3), 1, (14, 14)) == "lax"


def test_groups_keep_the_lax_path():
    assert C._rule(2, (4, 1, 3, 3), 4, (2, 2)) == "lax"
    assert C._rule(3, (4, 1, 3, 3, 3), 4, (2, 2, 2)) == "lax"


# Rule 5: transposed convolutions with kernel == stride, unpadded (a U-Net's up-sampling).
TRANSPOSE = [
    ("conv3d-block-up", "conv_transpose3d", (2, 16, 4, 4, 4), (16, 8, 2, 2, 2), {"stride": 2}),
    ("unet-up", "conv_transpose2d", (2, 64, 8, 8), (64, 32, 2, 2), {"stride": 2}),
    ("uneven", "conv_transpose2d", (2, 3, 5, 4), (3, 4, 3, 2), {"stride": (3, 2)}),
    ("1d-unbatched", "conv_transpose1d", (3, 7), (3, 5, 4), {"stride": 4}),
]


@pytest.mark.parametrize("case", TRANSPOSE, ids=[c[0] for c in TRANSPOSE])
def test_transpose_as_matmul(case):
    _, name, x_shape, w_shape, kwargs = case
    nd = len(w_shape) - 2
    stride = kwargs["stride"] if isinstance(kwargs["stride"], tuple) else (kwargs["stride"],) * nd
    assert C._transpose_as_matmul(w_shape[2:], stride, (0,) * nd, (0,) * nd, (1,) * nd, 1)
    args = _args(x_shape, w_shape)
    args[2] = randn(w_shape[1], seed=2)  # bias: (out_channels,)
    ours = _value_and_grads(name, args, kwargs)
    _assert_close(ours, _torch_value_and_grads(name, args, kwargs, torch.float64))
    _assert_close(ours, _torch_value_and_grads(name, args, kwargs, torch.float32))
    with C._lowering("lax"):
        _assert_close(ours, _value_and_grads(name, args, kwargs))


def test_transpose_rule_needs_kernel_equal_to_stride_and_no_padding():
    assert not C._transpose_as_matmul((3, 3), (2, 2), (0, 0), (0, 0), (1, 1), 1)
    assert not C._transpose_as_matmul((2, 2), (2, 2), (1, 0), (0, 0), (1, 1), 1)
    assert not C._transpose_as_matmul((2, 2), (2, 2), (0, 0), (0, 0), (1, 1), 2)
