"""Upsample / UpsamplingNearest2d / UpsamplingBilinear2d against torch: the stored options,
values and input gradients in float32 and float64, and an empty state_dict."""

import numpy as np
import pytest
import torch

import jaxnn
from tests.nn import assert_layer_parity, randn

CASES = [
    ("Upsample", {"scale_factor": 2}, (2, 3, 5)),
    ("Upsample", {"size": (3, 7), "mode": "bilinear", "align_corners": True}, (1, 2, 4, 5)),
    ("Upsample", {"scale_factor": (1.5, 0.7), "mode": "bicubic", "recompute_scale_factor": True}, (1, 2, 4, 5)),
    ("Upsample", {"scale_factor": 1.6, "mode": "trilinear"}, (1, 1, 2, 3, 4)),
    ("UpsamplingNearest2d", {"scale_factor": 3}, (2, 2, 3, 2)),
    ("UpsamplingNearest2d", {"size": 5}, (1, 2, 3, 2)),
    ("UpsamplingBilinear2d", {"scale_factor": 2}, (2, 2, 3, 2)),
    ("UpsamplingBilinear2d", {"size": (4, 5)}, (1, 2, 3, 2)),
]


@pytest.mark.parametrize("name,options,shape", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_layer_parity(name, options, shape, float_dtype):
    j, t = getattr(jaxnn, name)(**options), getattr(torch.nn, name)(**options)
    for attr in ("size", "scale_factor", "mode", "align_corners"):
        expected = getattr(t, attr)
        assert getattr(j, attr) == (tuple(expected) if isinstance(expected, list) else expected), attr
    assert jaxnn.state_dict(j) == {}
    assert_layer_parity(j, t, (randn(*shape, dtype=float_dtype),))


def test_bad_mode_raises():
    with pytest.raises(ValueError, match="mode"):
        jaxnn.Upsample(scale_factor=2, mode="cubic")(np.zeros((1, 1, 4), np.float32))
