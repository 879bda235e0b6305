"""Numerical extremes against torch: huge, tiny, infinite and empty inputs.

Every row runs through :func:`tests.parity.assert_parity`, which compares nan
and inf positions exactly (nan where torch gives nan, inf where torch gives
inf) and the gradients the same way, so a gradient is finite wherever torch's
is. Rows run in float64, and in float32 too unless their values do not fit it
or they only take the mean of a row that runs in float32 unreduced.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.parity import assert_parity

INF, NAN = np.inf, np.nan
# one element per corner: +-1e4, +-1e30 (overflows a square in float32), +-inf, 0
BIG = np.array([1e4, -1e4, 1e30, -1e30, INF, -INF, 0.0, INF, -INF])
BIG_T = np.array([0.0, 1.0, -1e30, 1e30, 0.0, 5.0, INF, INF, -INF])
TINY = np.array([1e-30, -1e-30, 1e-30, 0.0, 1e-20])
TINY_T = np.array([0.0, 1e-30, 1e-30, -1e-30, -1e-20])
VAR = np.array([0.0, 1e-30, 1e-8, 1e30, INF, 1.0, 1e-6, 1e-6, 1.0])
RATE_LOG = np.array([1e4, -1e4, 88.0, 89.0, 710.0, -INF, INF, 0.0, -INF])
COUNTS = np.array([0.0, 1.0, 1e30, 1.0, 2.0, 0.0, 3.0, 1e-30, 2.0])
RATE = np.array([0.0, 1e-30, 1e30, INF, 1.0, 0.0, 1e4, 1e-8, 2.0])
LOGP = np.array([0.0, -1e4, -INF, -INF, 0.0, -1e30, -30.0, -INF, -1.0])
PROB = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1e-30, 1.0, 0.5, 0.5])
# 'none' shows every element's nan/inf, 'mean' how they propagate ('sum' adds nothing new)
REDUCTIONS = ("none", "mean")
EMPTY = np.zeros((0,))
RANK_SIGN = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
EMPTY_2D = np.zeros((0, 3))

POINTWISE = {
    "l1_loss": (F.l1_loss, TF.l1_loss, {}),
    "mse_loss": (F.mse_loss, TF.mse_loss, {}),
    "huber_loss": (F.huber_loss, TF.huber_loss, {"delta": 1e-3}),
    "smooth_l1_loss": (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 1e-3}),
    "smooth_l1_loss/beta0": (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.0}),
}

# id -> (jaxnn function, torch function, float64 args, kwargs, wrt, fits float32)
ROWS = {}
for name, (jfn, tfn, opts) in POINTWISE.items():
    for reduction in REDUCTIONS:
        ROWS[f"{name}/big/{reduction}"] = (jfn, tfn, (BIG, BIG_T), {**opts, "reduction": reduction}, (0, 1), True)
        ROWS[f"{name}/empty/{reduction}"] = (jfn, tfn, (EMPTY_2D, EMPTY_2D), {**opts, "reduction": reduction}, (0, 1), True)
    ROWS[f"{name}/tiny"] = (jfn, tfn, (TINY, TINY_T), {**opts, "reduction": "none"}, (0, 1), True)
    ROWS[f"{name}/1e300"] = (jfn, tfn, (BIG * 1e270, BIG_T), {**opts, "reduction": "none"}, (0, 1), False)

for reduction in REDUCTIONS:
    for full in (False, True):
        ROWS[f"gaussian_nll_loss/var/{reduction}/full={full}"] = (
            F.gaussian_nll_loss, TF.gaussian_nll_loss, (BIG / 1e4, BIG_T / 1e4, VAR), {"reduction": reduction, "full": full}, (0, 1, 2), True)
        ROWS[f"poisson_nll_loss/log_input/{reduction}/full={full}"] = (
            F.poisson_nll_loss, TF.poisson_nll_loss, (RATE_LOG, COUNTS), {"reduction": reduction, "full": full}, (0, 1), False)
        ROWS[f"poisson_nll_loss/rate/{reduction}/full={full}"] = (
            F.poisson_nll_loss, TF.poisson_nll_loss, (RATE, COUNTS), {"reduction": reduction, "full": full, "log_input": False}, (0, 1), True)
    ROWS[f"gaussian_nll_loss/empty/{reduction}"] = (F.gaussian_nll_loss, TF.gaussian_nll_loss, (EMPTY_2D, EMPTY_2D, EMPTY_2D), {"reduction": reduction}, (0, 1, 2), True)
    ROWS[f"poisson_nll_loss/empty/{reduction}"] = (F.poisson_nll_loss, TF.poisson_nll_loss, (EMPTY, EMPTY), {"reduction": reduction}, (0, 1), True)

ROWS["gaussian_nll_loss/var-1e300"] = (F.gaussian_nll_loss, TF.gaussian_nll_loss, (BIG / 1e4, BIG_T, VAR * 1e270 + 1e-300), {"reduction": "none"}, (0, 1, 2), False)
ROWS["gaussian_nll_loss/var-float-0"] = (F.gaussian_nll_loss, TF.gaussian_nll_loss, (BIG / 1e4, BIG_T / 1e4, 0.0), {"reduction": "none"}, (0, 1), True)

for reduction in (*REDUCTIONS, "batchmean"):
    ROWS[f"kl_div/prob/{reduction}"] = (F.kl_div, TF.kl_div, (LOGP, PROB), {"reduction": reduction}, (0, 1), True)
    ROWS[f"kl_div/log_target/{reduction}"] = (F.kl_div, TF.kl_div, (LOGP, LOGP[::-1].copy()), {"reduction": reduction, "log_target": True}, (0, 1), True)
    ROWS[f"kl_div/empty/{reduction}"] = (F.kl_div, TF.kl_div, (EMPTY_2D, EMPTY_2D), {"reduction": reduction}, (0, 1), True)

# logits: +-1e4 (softmax saturates), +-inf, a row of all -inf (nan in torch), a row of equal +inf
LOGITS = np.array([[1e4, -1e4, 0.0, 1.0], [0.0, 0.0, -INF, 2.0], [INF, 0.0, 1.0, -1.0], [-INF, -INF, -INF, -INF], [1e4, 1e4, -1e4, 1e4]])
CLASSES = np.array([0, 2, 1, 3, 1])
IGNORED = np.full((5,), -100)
for reduction in REDUCTIONS:
    for smoothing in (0.0, 0.2):
        ROWS[f"cross_entropy/logits/{reduction}/smoothing={smoothing}"] = (
            F.cross_entropy, TF.cross_entropy, (LOGITS, CLASSES), {"reduction": reduction, "label_smoothing": smoothing}, (0,), True)
    ROWS[f"cross_entropy/all-ignored/{reduction}"] = (F.cross_entropy, TF.cross_entropy, (LOGITS[:3], IGNORED[:3]), {"reduction": reduction}, (0,), True)
    ROWS[f"cross_entropy/empty/{reduction}"] = (F.cross_entropy, TF.cross_entropy, (np.zeros((0, 4)), np.zeros((0,), np.int64)), {"reduction": reduction}, (0,), True)
    ROWS[f"cross_entropy/probabilities/{reduction}"] = (
        F.cross_entropy, TF.cross_entropy, (LOGITS[:3], np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.0, 0.0]])), {"reduction": reduction}, (0, 1), True)
    ROWS[f"nll_loss/log-probs/{reduction}"] = (F.nll_loss, TF.nll_loss, (LOGP.reshape(3, 3), np.array([0, 2, 1])), {"reduction": reduction}, (0,), True)
    ROWS[f"nll_loss/all-ignored/{reduction}"] = (F.nll_loss, TF.nll_loss, (LOGITS[:3], IGNORED[:3]), {"reduction": reduction, "weight": np.ones(4)}, (0,), True)
    ROWS[f"binary_cross_entropy/{reduction}"] = (F.binary_cross_entropy, TF.binary_cross_entropy, (PROB, PROB[::-1].copy()), {"reduction": reduction}, (0, 1), True)
    ROWS[f"binary_cross_entropy_with_logits/{reduction}"] = (
        F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (BIG, PROB), {"reduction": reduction}, (0, 1), True)
    ROWS[f"binary_cross_entropy_with_logits/pos_weight/{reduction}"] = (
        F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (BIG, PROB), {"reduction": reduction, "pos_weight": np.full(9, 3.0)}, (0, 1), True)
    ROWS[f"multilabel_soft_margin_loss/{reduction}"] = (
        F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, (LOGITS, (LOGITS > 0).astype(np.float64)), {"reduction": reduction}, (0, 1), True)
    ROWS[f"multi_margin_loss/{reduction}"] = (F.multi_margin_loss, TF.multi_margin_loss, (LOGITS, CLASSES), {"reduction": reduction}, (0,), True)
    ROWS[f"multilabel_margin_loss/{reduction}"] = (
        F.multilabel_margin_loss, TF.multilabel_margin_loss, (LOGITS, np.array([[0, 1, -1, 0]] * 5)), {"reduction": reduction}, (0,), True)
    ROWS[f"margin_ranking_loss/{reduction}"] = (
        F.margin_ranking_loss, TF.margin_ranking_loss, (BIG, BIG_T, RANK_SIGN), {"reduction": reduction}, (0, 1), True)
    ROWS[f"hinge_embedding_loss/{reduction}"] = (
        F.hinge_embedding_loss, TF.hinge_embedding_loss, (BIG, np.where(np.arange(9) % 2, 1.0, -1.0)), {"reduction": reduction}, (0,), True)
    ROWS[f"cosine_embedding_loss/{reduction}"] = (
        F.cosine_embedding_loss, TF.cosine_embedding_loss, (LOGITS / 1e4, LOGITS[::-1] / 1e4, np.array([1.0, -1.0, 1.0, -1.0, 1.0])), {"reduction": reduction}, (0, 1), False)
    ROWS[f"triplet_margin_loss/{reduction}"] = (
        F.triplet_margin_loss, TF.triplet_margin_loss, (LOGITS[:, :2], LOGITS[:, 2:], LOGITS[:, 1:3]), {"reduction": reduction}, (0, 1, 2), True)

ROWS["cosine_embedding_loss/zero-vectors"] = (
    F.cosine_embedding_loss, TF.cosine_embedding_loss, (np.zeros((2, 3)), np.zeros((2, 3)), np.array([1.0, -1.0])), {"reduction": "none"}, (0, 1), True)

# ctc: -inf log-probabilities of the target labels (impossible paths), and an alignment
# needing more frames than given (inf loss; 0 with zero_infinity)
with np.errstate(divide="ignore"):
    CTC_LOGP = np.log(np.array([[[0.5, 0.5, 0.0]], [[1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]]]))
for reduction in REDUCTIONS:
    for zero_infinity in (False, True):
        ROWS[f"ctc_loss/-inf/{reduction}/zero_infinity={zero_infinity}"] = (
            F.ctc_loss, TF.ctc_loss, (CTC_LOGP, np.array([[1, 2]]), np.array([3]), np.array([2])),
            {"reduction": reduction, "zero_infinity": zero_infinity}, (0,), True)
        ROWS[f"ctc_loss/too-short/{reduction}/zero_infinity={zero_infinity}"] = (
            F.ctc_loss, TF.ctc_loss, (np.log(np.full((2, 1, 3), 1 / 3)), np.array([[1, 1]]), np.array([2]), np.array([2])),
            {"reduction": reduction, "zero_infinity": zero_infinity}, (0,), True)


def _cast(a, dtype):
    return a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a


def _torch(a):
    return torch.tensor(a) if isinstance(a, np.ndarray) else a


def _cases():
    for rid, (*_, fits32) in ROWS.items():
        yield pytest.param(rid, "float64", id=f"{rid}/float64")
        # float32 overflows earlier (1e30**2, exp(89)); elementwise rows show it, the means add nothing
        if fits32 and "/mean" not in rid:
            yield pytest.param(rid, "float32", id=f"{rid}/float32")


@pytest.mark.parametrize("rid,dtype", list(_cases()))
def test_extreme_matches_torch(rid, dtype):
    jfn, tfn, args, kwargs, wrt, _ = ROWS[rid]
    args = tuple(_cast(a, dtype) for a in args)
    kwargs = {k: _cast(v, dtype) for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with jax.enable_x64(dtype == "float64"):
            assert_parity(jfn, tfn, args, kwargs, wrt=wrt)


def test_rows_hit_nan_and_inf():
    """The table really reaches the corners it is about: torch gives inf and nan somewhere in it."""
    seen = set()
    for jfn, tfn, args, kwargs, wrt, _ in ROWS.values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = tfn(*map(_torch, args), **{k: _torch(v) for k, v in kwargs.items()}).numpy()
        seen |= {"nan"} if np.isnan(out).any() else set()
        seen |= {"inf"} if np.isinf(out).any() else set()
    assert seen == {"nan", "inf"}


def test_soft_margin_stays_exact_where_torch_overflows():
    """torch computes log(1 + exp(-y x)), inf (with a nan gradient) once exp overflows;
    jaxnn's softplus form gives the exact value and gradient: a deliberate difference."""
    x = np.array([-710.0, -100.0, 100.0, 710.0], np.float32)
    y = np.array([1.0, 1.0, -1.0, -1.0], np.float32)
    out = F.soft_margin_loss(x, y, reduction="none")
    np.testing.assert_allclose(np.asarray(out), np.logaddexp(0.0, -y * x.astype(np.float64)), rtol=1e-6)
    grad = jax.grad(lambda v: F.soft_margin_loss(v, y, reduction="sum"))(x)
    np.testing.assert_allclose(np.asarray(grad), -y / (1 + np.exp(y * x.astype(np.float64))), rtol=1e-6)
    assert np.isinf(TF.soft_margin_loss(torch.tensor(x), torch.tensor(y), reduction="none").numpy()).all()
