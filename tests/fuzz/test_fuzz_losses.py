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
from hypothesis.extra import numpy as hnp

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


SIGNS = st.sampled_from([-1.0, 1.0])


def _signs(draw, shape):
    return draw(hnp.arrays(np.float64, shape, elements=SIGNS))


@st.composite
def margin_ranking(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=2))
    margin = draw(st.sampled_from([0.0, 0.5, 1.0, -0.25]))
    # input1 - input2 = +-margin exactly on a subset: the hinge, where torch's clamp passes the gradient
    x1, x2 = draw(S.pair_at_kinks(shape, [margin]))
    kwargs = {"margin": margin, "reduction": draw(REDUCTIONS)}
    return (x1, x2, _signs(draw, shape)), kwargs, (0, 1, 2)


@st.composite
def hinge_embedding(draw):
    shape = draw(S.shapes())
    margin = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0]))
    x = draw(hnp.arrays(np.float64, shape, elements=st.one_of(S.DYADIC, st.just(margin), st.floats(-1e3, 1e3, allow_subnormal=False))))
    kwargs = {"margin": margin, "reduction": draw(REDUCTIONS)}
    return (x, _signs(draw, shape)), kwargs, (0,)


@st.composite
def cosine_embedding(draw):
    n, d = draw(st.sampled_from([(1, 1), (3, 2), (2, 5), (0, 3)]))
    x1 = draw(S.values((n, d), lo=-1e3, hi=1e3))
    x2 = draw(S.values((n, d), lo=-1e3, hi=1e3))
    same = draw(hnp.arrays(np.bool_, (n, 1)))
    x2 = np.where(same, x1, x2)  # cosine exactly 1 and zero vectors come up
    kwargs = {"margin": draw(st.sampled_from([0.0, 0.5, -0.5, 1.0])), "reduction": draw(REDUCTIONS)}
    return (x1, x2, _signs(draw, (n,))), kwargs, (0, 1)


@st.composite
def triplet(draw, with_distance=False):
    shape = draw(st.sampled_from([(3, 2), (1, 4), (4,), (2, 1), (0, 3)]))
    a = draw(S.values(shape, lo=-10.0, hi=10.0))
    p = draw(S.values(shape, lo=-10.0, hi=10.0))
    n = np.where(draw(hnp.arrays(np.bool_, shape)), a, draw(S.values(shape, lo=-10.0, hi=10.0)))
    kwargs = {"margin": draw(st.sampled_from([1.0, 0.5, 1e-3])), "swap": draw(st.booleans()), "reduction": draw(REDUCTIONS)}
    if not with_distance:
        kwargs["p"] = draw(st.sampled_from([1.0, 2.0, 3.0, 0.5]))
        kwargs["eps"] = draw(st.sampled_from([1e-6, 0.0, 0.1]))
    return (a, p, n), kwargs, (0, 1, 2)


@st.composite
def ctc(draw):
    t, n, c, s = draw(st.sampled_from([(5, 2, 4, 3), (3, 1, 3, 2), (1, 2, 2, 1), (6, 3, 3, 4)]))
    logits = draw(S.values((t, n, c), special=False, lo=-20.0, hi=20.0))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    blank = draw(st.integers(0, c - 1))
    labels = draw(hnp.arrays(np.int64, (n, s), elements=st.integers(0, c - 2)))
    targets = labels + (labels >= blank)  # any class but the blank
    input_lengths = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, t)))
    target_lengths = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, s)))
    kwargs = {"blank": blank, "reduction": draw(REDUCTIONS), "zero_infinity": draw(st.booleans())}
    return (log_probs, targets, input_lengths, target_lengths), kwargs, (0,)


# (N, C) and the K-dim (N, C, d) layouts, an unbatched (C,), a single class and an empty batch
CLASS_SHAPES = st.sampled_from([(3, 4), (1, 1), (0, 3), (4,), (2, 3, 2)])
IGNORE = -100


def _class_targets(draw, shape, ignore_index=None):
    c = shape[0] if len(shape) == 1 else shape[1]
    t_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    classes = st.integers(0, c - 1)
    elements = classes if ignore_index is None else st.one_of(classes, st.just(ignore_index))
    return draw(hnp.arrays(np.int64, t_shape, elements=elements)), c


@st.composite
def class_indices(draw, log_input=False):
    shape = draw(CLASS_SHAPES)
    x = draw(S.values(shape, lo=-1e3, hi=1e3))
    if log_input:
        x = x - np.log(np.sum(np.exp(x - x.max(initial=0.0)), axis=int(len(shape) > 1), keepdims=True)) - x.max(initial=0.0)
    ignore_index = draw(st.sampled_from([IGNORE, 0]))
    target, c = _class_targets(draw, shape, ignore_index)
    kwargs = {"reduction": draw(REDUCTIONS), "ignore_index": ignore_index}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.positive((c,), hi=5.0, tiny=False))
    if not log_input:
        kwargs["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 1.0]))
    return (x, target), kwargs, (0,)


@st.composite
def class_probabilities(draw):
    shape = draw(CLASS_SHAPES)
    x = draw(S.values(shape, lo=-1e3, hi=1e3))
    q = draw(S.positive(shape, hi=1.0))
    kwargs = {"reduction": draw(REDUCTIONS), "label_smoothing": draw(st.sampled_from([0.0, 0.2]))}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.positive((shape[0] if len(shape) == 1 else shape[1],), hi=5.0, tiny=False))
    return (x, q), kwargs, (0, 1)


PROBABILITY = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 1e-12, 1 - 1e-12]), st.floats(0.0, 1.0, allow_subnormal=False))


@st.composite
def binary(draw, logits):
    shape = draw(S.shapes())
    if logits:
        x = draw(S.values(shape, lo=-1e3, hi=1e3))
    else:
        x = draw(hnp.arrays(np.float64, shape, elements=PROBABILITY))
    y = draw(hnp.arrays(np.float64, shape, elements=PROBABILITY))
    kwargs = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.positive(shape, hi=5.0, tiny=False))
    if logits and shape and draw(st.booleans()):
        kwargs["pos_weight"] = draw(S.positive(shape[-1:], hi=5.0, tiny=False))
    return (x, y), kwargs, (0, 1) if logits else (0,)


@st.composite
def soft_margin(draw):
    shape = draw(S.shapes())
    # |x| < 700: beyond, torch's log(1 + exp(-y x)) overflows to inf (nan gradient) where
    # jaxnn's softplus stays exact (test_extremes.py checks that side against the exact value)
    return (draw(S.values(shape, lo=-700.0, hi=700.0)), _signs(draw, shape)), {"reduction": draw(REDUCTIONS)}, (0,)


@st.composite
def multilabel_soft_margin(draw):
    shape = draw(st.sampled_from([(3, 4), (1, 1), (0, 3), (2, 5)]))
    kwargs = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.positive(shape[-1:], hi=5.0, tiny=False))
    y = draw(hnp.arrays(np.float64, shape, elements=PROBABILITY))
    return (draw(S.values(shape)), y), kwargs, (0, 1)


@st.composite
def multi_margin(draw):
    # no empty batch: torch's 'mean' of one returns uninitialised memory (docs/reliability.md)
    shape = draw(st.sampled_from([(3, 4), (1, 1), (4,), (2, 2)]))
    margin = draw(st.sampled_from([1.0, 0.5, 0.0]))
    # dyadic logits so that x[j] - x[y] == -margin exactly: the hinge
    x = draw(hnp.arrays(np.float64, shape, elements=st.one_of(S.DYADIC, st.floats(-1e3, 1e3, allow_subnormal=False))))
    target, c = _class_targets(draw, shape)
    kwargs = {"p": draw(st.sampled_from([1, 2])), "margin": margin, "reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(S.positive((c,), hi=5.0, tiny=False))
    return (x, target), kwargs, (0,)


@st.composite
def multilabel_margin(draw):
    # no empty batch: torch's 'mean' of one returns uninitialised memory (docs/reliability.md)
    shape = draw(st.sampled_from([(3, 4), (1, 1), (4,), (2, 2)]))
    c = shape[-1]
    x = draw(hnp.arrays(np.float64, shape, elements=st.one_of(S.DYADIC, st.floats(-1e3, 1e3, allow_subnormal=False))))
    # each row: distinct target classes, then -1 (what follows it is never read)
    rows = []
    for _ in range(int(np.prod(shape[:-1]))):
        labels = draw(st.permutations(range(c)))[: draw(st.integers(0, c))]
        rest = draw(hnp.arrays(np.int64, (c - len(labels),), elements=st.integers(-1, c - 1)))
        rows.append(np.concatenate([np.asarray(labels, np.int64), [-1][: len(rest)], rest[1:]]).astype(np.int64))
    target = np.asarray(rows, np.int64).reshape(shape)
    return (x, target), {"reduction": draw(REDUCTIONS)}, (0,)


# name -> (jaxnn function, torch function, strategy, share of the profile's examples)
CASES = {
    "l1_loss": (F.l1_loss, TF.l1_loss, pointwise(), 0.33),
    "mse_loss": (F.mse_loss, TF.mse_loss, pointwise(), 0.33),
    "l1_loss/broadcast": (F.l1_loss, TF.l1_loss, broadcast_target(), 0.2),
    "mse_loss/broadcast": (F.mse_loss, TF.mse_loss, broadcast_target(), 0.2),
    "huber_loss": (F.huber_loss, TF.huber_loss, huber(), 0.33),
    "smooth_l1_loss": (F.smooth_l1_loss, TF.smooth_l1_loss, smooth_l1(), 0.33),
    "gaussian_nll_loss": (F.gaussian_nll_loss, TF.gaussian_nll_loss, gaussian_nll(), 0.33),
    "poisson_nll_loss": (F.poisson_nll_loss, TF.poisson_nll_loss, poisson_nll(), 0.33),
    "kl_div": (F.kl_div, TF.kl_div, kl_div(), 0.33),
    "margin_ranking_loss": (F.margin_ranking_loss, TF.margin_ranking_loss, margin_ranking(), 0.33),
    "hinge_embedding_loss": (F.hinge_embedding_loss, TF.hinge_embedding_loss, hinge_embedding(), 0.33),
    "cosine_embedding_loss": (F.cosine_embedding_loss, TF.cosine_embedding_loss, cosine_embedding(), 0.33),
    "triplet_margin_loss": (F.triplet_margin_loss, TF.triplet_margin_loss, triplet(), 0.33),
    "triplet_margin_with_distance_loss": (
        F.triplet_margin_with_distance_loss, TF.triplet_margin_with_distance_loss, triplet(with_distance=True), 0.2),
    "ctc_loss": (F.ctc_loss, TF.ctc_loss, ctc(), 0.2),
    "cross_entropy": (F.cross_entropy, TF.cross_entropy, class_indices(), 0.33),
    "cross_entropy/probabilities": (F.cross_entropy, TF.cross_entropy, class_probabilities(), 0.2),
    "nll_loss": (F.nll_loss, TF.nll_loss, class_indices(log_input=True), 0.33),
    "binary_cross_entropy": (F.binary_cross_entropy, TF.binary_cross_entropy, binary(logits=False), 0.33),
    "binary_cross_entropy_with_logits": (
        F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, binary(logits=True), 0.33),
    "soft_margin_loss": (F.soft_margin_loss, TF.soft_margin_loss, soft_margin(), 0.2),
    "multilabel_soft_margin_loss": (
        F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, multilabel_soft_margin(), 0.2),
    "multi_margin_loss": (F.multi_margin_loss, TF.multi_margin_loss, multi_margin(), 0.33),
    "multilabel_margin_loss": (F.multilabel_margin_loss, TF.multilabel_margin_loss, multilabel_margin(), 0.2),
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
