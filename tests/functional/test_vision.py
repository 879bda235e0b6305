"""grid_sample, affine_grid, pixel_shuffle/unshuffle and channel_shuffle against torch:
values and gradients (input and grid / theta) in float32 and float64, and torch's errors."""

import jax
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.parity import assert_parity


def _grid(shape, dtype, seed=1):
    """Random locations, some outside [-1, 1], plus the corners and borders exactly."""
    g = np.random.default_rng(seed).standard_normal(shape) * 1.3
    g.reshape(-1)[:8] = [-1.0, 1.0, 0.5, -0.5, 1.25, 3.0, -2.75, 0.0]
    return g.astype(dtype)


# Every mode, padding mode and align_corners value at least once, in 2-d and 3-d, and
# both dtypes across the list (each case compiles a forward and a backward).
GRID_CASES = [
    (2, "bilinear", "zeros", False, "float32"),
    (2, "bilinear", "border", True, "float64"),
    (2, "bilinear", "reflection", False, "float32"),
    (2, "bilinear", "reflection", True, "float64"),
    (2, "nearest", "zeros", True, "float32"),
    (2, "nearest", "reflection", False, "float64"),
    (2, "bicubic", "zeros", False, "float64"),
    (2, "bicubic", "border", True, "float32"),
    (2, "bicubic", "reflection", True, "float64"),
    (2, "bicubic", "reflection", False, "float32"),
    (3, "bilinear", "zeros", True, "float32"),
    (3, "bilinear", "reflection", False, "float64"),
    (3, "nearest", "border", False, "float32"),
]


@pytest.mark.parametrize("nd,mode,padding_mode,align_corners,dtype", GRID_CASES, ids=str)
def test_grid_sample_parity(nd, mode, padding_mode, align_corners, dtype):
    with jax.enable_x64(dtype == "float64"):
        spatial = (4, 5, 3)[:nd]
        x = np.random.default_rng(0).standard_normal((2, 3, *spatial)).astype(dtype)
        grid = _grid((2, 3, 4, *(2,) * (nd - 2), nd), dtype)
        options = {"mode": mode, "padding_mode": padding_mode, "align_corners": align_corners}
        assert_parity(
            lambda a, g: F.grid_sample(a, g, **options),
            lambda a, g: TF.grid_sample(a, g, **options),
            [x, grid],
            wrt=(0, 1),
            jit=True,
            # The float32 grid gradient of bicubic sums 16 tap products that nearly cancel;
            # XLA and ATen order that sum differently (a few ulps of the largest term).
            tol=(1e-4, 2e-5) if mode == "bicubic" and dtype == "float32" else None,
        )


def test_grid_sample_empty_batch_and_default_align_corners_warns():
    with pytest.warns(UserWarning, match="align_corners"):
        out = F.grid_sample(np.zeros((0, 2, 3, 3), np.float32), np.zeros((0, 2, 2, 2), np.float32))
    assert out.shape == (0, 2, 2, 2)


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")
@pytest.mark.parametrize("size,align_corners", [((2, 3, 4, 5), False), ((2, 1, 1, 7), True), ((2, 3, 2, 3, 4), False)], ids=str)
def test_affine_grid_parity(size, align_corners, float_dtype):
    nd = len(size) - 2
    theta = np.random.default_rng(2).standard_normal((2, nd, nd + 1)).astype(float_dtype)
    assert_parity(
        lambda t: F.affine_grid(t, size, align_corners),
        lambda t: TF.affine_grid(t, size, align_corners),
        [theta],
        jit=True,
    )


SHUFFLE_CASES = [
    ("pixel_shuffle", (2, 8, 3, 2), 2),
    ("pixel_shuffle", (9, 2, 3), 3),
    ("pixel_shuffle", (2, 1, 4, 2, 3), 2),
    ("pixel_unshuffle", (2, 3, 4, 6), 2),
    ("pixel_unshuffle", (3, 6, 3), 3),
    ("channel_shuffle", (2, 6, 3), 3),
    ("channel_shuffle", (2, 4, 2, 3), 2),
    ("native_channel_shuffle", (0, 6, 2), 2),
]


@pytest.mark.parametrize("name,shape,factor", SHUFFLE_CASES, ids=str)
def test_shuffle_parity(name, shape, factor, float_dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(float_dtype)
    assert_parity(lambda a: getattr(F, name)(a, factor), lambda a: getattr(TF, name)(a, factor), [x], wrt=(0,) if shape[0] else ())


BAD = [
    (lambda m: m.pixel_shuffle(m_zeros(m, (2, 2)), 2), "at least 3 dimensions"),
    (lambda m: m.pixel_shuffle(m_zeros(m, (7, 2, 2)), 2), "divisible by the square"),
    (lambda m: m.pixel_shuffle(m_zeros(m, (8, 2, 2)), 0), "positive"),
    (lambda m: m.pixel_unshuffle(m_zeros(m, (2, 5, 4)), 2), "height to be divisible"),
    (lambda m: m.pixel_unshuffle(m_zeros(m, (2, 4, 5)), 2), "width to be divisible"),
    (lambda m: m.channel_shuffle(m_zeros(m, (6, 3)), 2), "> 2 dims"),
    (lambda m: m.channel_shuffle(m_zeros(m, (2, 5, 3)), 2), "divisible by groups"),
    (lambda m: m.channel_shuffle(m_zeros(m, (2, 6, 3)), 0), "must be positive"),
    (lambda m: m.grid_sample(m_zeros(m, (1, 2, 3, 3)), m_zeros(m, (2, 2, 2, 2)), align_corners=False), "batch size"),
    (lambda m: m.grid_sample(m_zeros(m, (1, 2, 3, 3)), m_zeros(m, (1, 2, 2, 3)), align_corners=False), "size 2 in last"),
    (lambda m: m.grid_sample(m_zeros(m, (1, 2, 3, 3)), m_zeros(m, (1, 2, 2, 2, 2)), align_corners=False), "same number of dimensions"),
    (lambda m: m.grid_sample(m_zeros(m, (1, 2, 3, 3, 3)), m_zeros(m, (1, 2, 2, 2, 3)), mode="bicubic", align_corners=False), "bicubic"),
    (lambda m: m.grid_sample(m_zeros(m, (1, 2, 0, 3)), m_zeros(m, (1, 2, 2, 2)), align_corners=False), "non-empty spatial"),
    (lambda m: m.grid_sample(m_zeros(m, (1, 2, 3, 3)), m_zeros(m, (1, 2, 2, 2)), mode="area", align_corners=False), "mode"),
    (lambda m: m.grid_sample(m_zeros(m, (1, 2, 3, 3)), m_zeros(m, (1, 2, 2, 2)), padding_mode="wrap", align_corners=False), "padding_mode"),
    (lambda m: m.affine_grid(m_zeros(m, (2, 2, 3)), (2, 1, 0, 4), align_corners=False), "positive output size"),
    (lambda m: m.affine_grid(m_zeros(m, (2, 3, 4)), (2, 1, 3, 4), align_corners=False), "Nx2x3"),
    (lambda m: m.affine_grid(m_zeros(m, (2, 2, 3)), (2, 1, 4), align_corners=False), "4D and 5D"),
]


def m_zeros(module, shape):
    return torch.zeros(shape) if module is TF else np.zeros(shape, np.float32)


@pytest.mark.parametrize("call,match", BAD, ids=[b[1] for b in BAD])
def test_bad_input_raises_where_torch_does(call, match):
    with pytest.raises((RuntimeError, ValueError, NotImplementedError)):
        call(TF)
    with pytest.raises((ValueError, TypeError), match=match):
        call(F)
