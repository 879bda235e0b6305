"""Fold and Unfold layers against torch (values and input gradients)."""

import pytest
import torch

import jaxnn
from tests.nn import assert_layer_parity, randn


@pytest.mark.parametrize(
    "options",
    [{"kernel_size": 2}, {"kernel_size": (3, 2), "dilation": (1, 2), "padding": 1, "stride": (2, 1)}],
    ids=str,
)
def test_unfold_then_fold(options):
    x = randn(2, 3, 6, 7)
    assert_layer_parity(jaxnn.Unfold(**options), torch.nn.Unfold(**options), (x,))
    cols = torch.nn.Unfold(**options)(torch.from_numpy(x)).numpy()
    assert_layer_parity(jaxnn.Fold((6, 7), **options), torch.nn.Fold((6, 7), **options), (cols,))
    assert_layer_parity(jaxnn.Fold((6, 7), **options), torch.nn.Fold((6, 7), **options), (cols[0],))
