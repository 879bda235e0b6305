"""CosineSimilarity and PairwiseDistance layers against torch's (both inputs' gradients)."""

import numpy as np
import pytest
import torch

import jaxnn
from tests.nn import assert_layer_parity, randn


@pytest.mark.parametrize(
    "name,options",
    [("CosineSimilarity", {}), ("CosineSimilarity", {"dim": 0, "eps": 1e-3}), ("PairwiseDistance", {}),
     ("PairwiseDistance", {"p": 1.0, "eps": 0.0, "keepdim": True})],
)
def test_layer_matches_torch(name, options):
    x, y = randn(3, 5), randn(3, 5, seed=1)
    x[0] = 0.0
    y[1] = x[1]
    assert_layer_parity(getattr(jaxnn, name)(**options), getattr(torch.nn, name)(**options), (x, y), wrt=(0, 1))
    assert jaxnn.state_dict(getattr(jaxnn, name)(**options)) == {}


def test_attribute_names_are_torchs():
    j, t = jaxnn.PairwiseDistance(3.0, 1e-4, True), torch.nn.PairwiseDistance(3.0, 1e-4, True)
    assert (j.norm, j.eps, j.keepdim) == (t.norm, t.eps, t.keepdim)
    assert np.isclose(jaxnn.CosineSimilarity().eps, torch.nn.CosineSimilarity().eps)
