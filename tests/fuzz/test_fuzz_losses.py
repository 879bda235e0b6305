"""Differential fuzzing: every fuzzed loss against torch in float64, values and gradients.

Each case is one row of :data:`CASES`: a strategy drawing ``(args, kwargs,
wrt)`` for the pair of functions, and a share of the profile's example count
(slow cases draw fewer). ``pytest tests/fuzz --hypothesis-profile=deep`` runs
them longer; every failure found becomes a permanent row of ``REGRESSIONS``.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxnn.functional as F
from tests.fuzz import strategies as S
from tests.parity import assert_parity

REDUCTIONS = st.sampled_from(["none", "mean", "sum"])
# thresholds of huber/smooth_l1: dyadic so that kinks at +-delta are hit exactly
THRESHOLDS = st.one_of(st.sampled_from([0.5, 1.0, 2.0, 0.125]), st.floats(1e-3, 10.0))


@st.composite
def pointwise(draw):
    shape = draw(S.shapes())
    x, y = draw(S.pair_with_ties(shape))
    kwargs = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.values(shape, lo=0.0, hi=10.0))
    return (x, y), kwargs, (0, 1)


@st.composite
def broadcast_target(draw):
    """Pointwise losses with a target that broadcasts against input (torch warns, still computes)."""
    shape = draw(S.shapes(min_dims=1))
    t_shape = draw(S.broadcast_partner(shape))
    x = draw(S.values(shape))
    y = draw(S.values(t_shape))
    return (x, y), {"reduction": draw(REDUCTIONS)}, (0, 1)


@st.composite
def huber(draw):
    shape = draw(S.shapes())
    delta = draw(THRESHOLDS)
    x, y = draw(S.pair_at_kinks(shape, [delta]))
    kwargs = {"reduction": draw(REDUCTIONS), "delta": delta}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.values(shape, lo=0.0, hi=10.0))
    return (x, y), kwargs, (0, 1)


@st.composite
def smooth_l1(draw):
    shape = draw(S.shapes())
    beta = draw(st.one_of(st.just(0.0), THRESHOLDS))
    x, y = draw(S.pair_at_kinks(shape, [beta]))
    return (x, y), {"reduction": draw(REDUCTIONS), "beta": beta}, (0, 1)


@st.composite
def gaussian_nll(draw):
    shape = draw(S.shapes(min_dims=1))
    x, y = draw(S.pair_with_ties(shape))
    form = draw(st.sampled_from(["same", "drop_last", "one_dim_1", "float"]))
    kwargs = {"full": draw(st.booleans()), "reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kwargs["eps"] = draw(st.sampled_from([1e-6, 1e-3, 0.5]))
    if form == "float":
        return (x, y, draw(st.sampled_from([0.0, 1e-9, 0.3, 2.0, 1e6]))), kwargs, (0, 1)
    if form == "same":
        v_shape = shape
    elif form == "drop_last":
        v_shape = shape[:-1]
    else:
        axis = draw(st.integers(0, len(shape) - 1))
        v_shape = tuple(1 if i == axis else s for i, s in enumerate(shape))
    var = draw(S.positive(v_shape, hi=1e6))
    return (x, y, var), kwargs, (0, 1, 2)


@st.composite
def poisson_nll(draw):
    shape = draw(S.shapes())
    log_input = draw(st.booleans())
    x = draw(S.values(shape, lo=-50.0, hi=50.0)) if log_input else draw(S.positive(shape, hi=1e6))
    y = draw(S.positive(shape, hi=1e3))
    kwargs = {"log_input": log_input, "full": draw(st.booleans()), "reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kwargs["eps"] = draw(st.sampled_from([1e-8, 1e-3, 1.0]))
    return (x, y), kwargs, (0, 1)


@st.composite
def kl_div(draw):
    shape = draw(S.shapes())
    log_target = draw(st.booleans())
    x = draw(S.values(shape, lo=-100.0, hi=100.0))
    y = draw(S.values(shape, lo=-100.0, hi=5.0)) if log_target else draw(S.positive(shape, hi=10.0))
    reduction = draw(st.sampled_from(["none", "mean", "sum", "batchmean"]))
    return (x, y), {"reduction": reduction, "log_target": log_target}, (0, 1)


# name -> (jaxnn function, torch function, strategy, share of the profile's examples)
CASES = {
    "l1_loss": (F.l1_loss, TF.l1_loss, pointwise(), 1.0),
    "mse_loss": (F.mse_loss, TF.mse_loss, pointwise(), 1.0),
    "l1_loss/broadcast": (F.l1_loss, TF.l1_loss, broadcast_target(), 0.5),
    "mse_loss/broadcast": (F.mse_loss, TF.mse_loss, broadcast_target(), 0.5),
    "huber_loss": (F.huber_loss, TF.huber_loss, huber(), 1.0),
    "smooth_l1_loss": (F.smooth_l1_loss, TF.smooth_l1_loss, smooth_l1(), 1.0),
    "gaussian_nll_loss": (F.gaussian_nll_loss, TF.gaussian_nll_loss, gaussian_nll(), 1.0),
    "poisson_nll_loss": (F.poisson_nll_loss, TF.poisson_nll_loss, poisson_nll(), 1.0),
    "kl_div": (F.kl_div, TF.kl_div, kl_div(), 1.0),
}


def _examples(share: float) -> settings:
    return settings(max_examples=max(1, int(settings.default.max_examples * share)))


def _check(jfn, tfn, case) -> None:
    args, kwargs, wrt = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with jax.enable_x64(True):
            assert_parity(jfn, tfn, args, kwargs, wrt=wrt)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_against_torch(name):
    jfn, tfn, strategy, share = CASES[name]
    given(strategy)(_examples(share)(lambda case: _check(jfn, tfn, case)))()
