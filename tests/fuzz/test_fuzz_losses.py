"""Differential fuzzing: every fuzzed loss against torch in float64, values and gradients.

Each case is one row: a strategy drawing (args, kwargs, wrt) and the pair of
functions. `pytest tests/fuzz --hypothesis-profile=deep` runs them longer;
every failure found becomes a permanent `@example` on its test.
"""

from __future__ import annotations

import warnings

import jax
import pytest
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import jaxnn.functional as F
from tests.fuzz import strategies as S
from tests.parity import assert_parity

REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


@st.composite
def pointwise(draw):
    shape = draw(S.shapes())
    x, y = draw(S.pair_with_ties(shape))
    kwargs = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.values(shape, lo=0.0, hi=10.0))
    return (x, y), kwargs, (0, 1)


CASES = {
    "l1_loss": (F.l1_loss, TF.l1_loss, pointwise()),
    "mse_loss": (F.mse_loss, TF.mse_loss, pointwise()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_against_torch(name):
    jfn, tfn, strategy = CASES[name]

    @given(strategy)
    def check(case):
        args, kwargs, wrt = case
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with jax.enable_x64(True):
                assert_parity(jfn, tfn, args, kwargs, wrt=wrt)

    check()
