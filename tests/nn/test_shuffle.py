"""PixelShuffle, PixelUnshuffle and ChannelShuffle layers against torch (batched and unbatched)."""

import pytest
import torch

import jaxnn
from tests.nn import assert_layer_parity, randn

CASES = [
    ("PixelShuffle", 2, (2, 8, 3, 2)),
    ("PixelShuffle", 3, (9, 2, 2)),
    ("PixelUnshuffle", 2, (2, 2, 4, 6)),
    ("PixelUnshuffle", 2, (3, 2, 4)),
    ("ChannelShuffle", 3, (2, 6, 2, 2)),
]


@pytest.mark.parametrize("name,factor,shape", CASES, ids=str)
def test_layer_parity(name, factor, shape, float_dtype):
    j, t = getattr(jaxnn, name)(factor), getattr(torch.nn, name)(factor)
    assert jaxnn.state_dict(j) == {}
    assert_layer_parity(j, t, (randn(*shape, dtype=float_dtype),))


def test_bad_factor_raises():
    with pytest.raises(ValueError, match="positive"):
        jaxnn.PixelShuffle(0)(randn(4, 2, 2))
    with pytest.raises(ValueError, match="divisible by groups"):
        jaxnn.ChannelShuffle(4)(randn(1, 6, 2))
