"""F.interpolate against torch: every mode, align_corners, size vs scale_factor,
recompute_scale_factor and antialias, values and input gradients in float32 and float64."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.parity import assert_parity

# Each option appears at least once; shapes are small and sizes up- and downsample.
CASES = [
    ((2, 3, 7), {"scale_factor": 2}),
    ((1, 2, 5, 7), {"scale_factor": 1.7}),
    ((1, 2, 3, 4, 5), {"size": (4, 3, 7)}),
    ((2, 2, 5, 7), {"size": (3, 11), "mode": "nearest-exact"}),
    ((2, 3, 7), {"scale_factor": 0.6, "mode": "nearest-exact", "recompute_scale_factor": True}),
    ((2, 3, 9), {"size": 4, "mode": "area"}),
    ((1, 2, 7, 9), {"scale_factor": (0.5, 1.4), "mode": "area"}),
    ((2, 3, 7), {"scale_factor": 1.7, "mode": "linear"}),
    ((2, 3, 7), {"size": 4, "mode": "linear", "align_corners": True}),
    ((1, 2, 5, 7), {"scale_factor": 3.3, "mode": "bilinear", "recompute_scale_factor": True}),
    ((1, 2, 5, 7), {"size": (3, 10), "mode": "bilinear", "align_corners": True}),
    ((1, 2, 5, 7), {"scale_factor": 1.7, "mode": "bicubic"}),
    ((1, 2, 5, 7), {"size": (4, 9), "mode": "bicubic", "align_corners": True}),
    ((1, 1, 3, 4, 5), {"scale_factor": 1.5, "mode": "trilinear"}),
    ((1, 1, 3, 4, 5), {"size": (2, 5, 3), "mode": "trilinear", "align_corners": True}),
    ((1, 2, 9, 7), {"size": (4, 10), "mode": "bilinear", "antialias": True}),
    ((1, 2, 9, 7), {"scale_factor": 0.45, "mode": "bicubic", "antialias": True}),
    ((1, 2, 9, 7), {"size": (2, 3), "mode": "bicubic", "antialias": True, "align_corners": True}),
    ((1, 2, 9, 7), {"size": (4, 10), "mode": "lanczos", "antialias": True}),
    ((1, 2, 9, 7), {"scale_factor": (0.3, 1.5), "mode": "lanczos", "antialias": True}),
]


@pytest.mark.parametrize("shape,options", CASES, ids=[str(o) for _, o in CASES])
def test_interpolate_parity(shape, options, float_dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(float_dtype)
    assert_parity(lambda a: F.interpolate(a, **options), lambda a: TF.interpolate(a, **options), [x], jit=True)


@pytest.mark.parametrize(
    "n,options",
    [
        # torch keeps the size and copies when floor(3 * 1.2) == 3 even though the step would be 1/1.2.
        (3, {"scale_factor": 1.2, "mode": "linear"}),
        # A given scale_factor sets the step (1/1.5, not 5/7) unless recompute_scale_factor.
        (5, {"scale_factor": 1.5}),
        (5, {"scale_factor": 1.5, "recompute_scale_factor": True}),
        (5, {"scale_factor": 1.5, "mode": "linear"}),
        (5, {"scale_factor": 1.5, "mode": "linear", "recompute_scale_factor": True}),
    ],
    ids=str,
)
def test_scale_factor_step_is_torchs(n, options):
    x = np.arange(n, dtype=np.float32).reshape(1, 1, n) ** 2
    expected = TF.interpolate(torch.from_numpy(x), **options).numpy()
    np.testing.assert_allclose(np.asarray(F.interpolate(x, **options)), expected, rtol=1e-6)


def test_empty_batch():
    x = np.zeros((0, 2, 4, 4), np.float32)
    got = F.interpolate(x, scale_factor=2, mode="bilinear")
    assert got.shape == tuple(TF.interpolate(torch.from_numpy(x), scale_factor=2, mode="bilinear").shape)


def test_deprecated_aliases_warn_and_match():
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4)).astype(np.float32)
    for jfn, tfn in [(F.upsample, TF.upsample), (F.upsample_nearest, TF.upsample_nearest), (F.upsample_bilinear, TF.upsample_bilinear)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = tfn(torch.from_numpy(x), scale_factor=2).numpy()
        with pytest.warns(UserWarning, match="deprecated"):
            got = jfn(x, scale_factor=2)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-7)


BAD = [
    ((1, 1, 4), {"size": 2, "scale_factor": 2}, ValueError, "only one of"),
    ((1, 1, 4), {}, ValueError, "either size or scale_factor"),
    ((1, 1, 4), {"size": (2, 2)}, ValueError, "same number of spatial dimensions"),
    ((1, 1, 4, 4), {"scale_factor": (2, 2, 2)}, ValueError, "same number of spatial dimensions"),
    ((1, 1, 4), {"size": 2, "recompute_scale_factor": True}, ValueError, "not meaningful"),
    ((1, 1, 4), {"size": 2, "align_corners": True}, ValueError, "align_corners option"),
    ((1, 1, 4), {"size": 2, "mode": "bilinear"}, ValueError, "bilinear mode needs 4D"),
    ((1, 1, 4, 4), {"size": 2, "mode": "trilinear"}, ValueError, "trilinear mode needs 5D"),
    ((1, 1, 4, 4), {"size": 2, "mode": "bogus"}, ValueError, "mode must be one of"),
    ((1, 1, 4, 4, 4), {"size": 2, "mode": "trilinear", "antialias": True}, ValueError, "anti-alias"),
    ((1, 1, 4), {"scale_factor": 0.2}, ValueError, "greater than 0"),
    ((1, 1, 4), {"size": (1.5,)}, TypeError, "int"),
    ((4,), {"size": 2}, ValueError, "3D, 4D and 5D"),
    ((1, 1, 4, 4), {"size": 2, "mode": "lanczos"}, ValueError, "requires antialias"),
    ((1, 1, 4, 4), {"size": 2, "mode": "lanczos", "antialias": True, "align_corners": True}, ValueError, "align_corners"),
]


@pytest.mark.parametrize("shape,options,error,match", BAD, ids=[b[-1] for b in BAD])
def test_bad_input_raises_where_torch_does(shape, options, error, match):
    with pytest.raises((RuntimeError, ValueError, TypeError, NotImplementedError, IndexError)):
        TF.interpolate(torch.zeros(shape), **options)
    with pytest.raises(error, match=match):
        F.interpolate(np.zeros(shape, np.float32), **options)


@pytest.mark.parametrize("dtype,mode", [("bfloat16", "bilinear"), ("float16", "bicubic")])
def test_half_precision_accumulates_in_float32(dtype, mode):
    import jax.numpy as jnp

    x = np.asarray(jnp.asarray(np.random.default_rng(0).standard_normal((1, 2, 5, 7)), dtype))
    options = {"scale_factor": 1.7, "mode": mode}
    assert_parity(lambda a: F.interpolate(a, **options), lambda a: TF.interpolate(a, **options), [x], jit=True)
