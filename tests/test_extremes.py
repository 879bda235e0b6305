"""Numerical extremes against torch: huge, tiny, infinite and empty inputs.

Every row runs through :func:`tests.parity.assert_parity`, which compares nan
and inf positions exactly (nan where torch gives nan, inf where torch gives
inf) and the gradients the same way, so a gradient is finite wherever torch's
is. Rows run in float32 and float64; values that do not fit float32 are
float64-only rows.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
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
EMPTY = np.zeros((0,))
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
    for reduction in ("none", "sum", "mean"):
        ROWS[f"{name}/big/{reduction}"] = (jfn, tfn, (BIG, BIG_T), {**opts, "reduction": reduction}, (0, 1), True)
        ROWS[f"{name}/empty/{reduction}"] = (jfn, tfn, (EMPTY_2D, EMPTY_2D), {**opts, "reduction": reduction}, (0, 1), True)
    ROWS[f"{name}/tiny"] = (jfn, tfn, (TINY, TINY_T), {**opts, "reduction": "none"}, (0, 1), True)
    ROWS[f"{name}/1e300"] = (jfn, tfn, (BIG * 1e270, BIG_T), {**opts, "reduction": "none"}, (0, 1), False)

for reduction in ("none", "sum", "mean"):
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

for reduction in ("none", "sum", "mean", "batchmean"):
    ROWS[f"kl_div/prob/{reduction}"] = (F.kl_div, TF.kl_div, (LOGP, PROB), {"reduction": reduction}, (0, 1), True)
    ROWS[f"kl_div/log_target/{reduction}"] = (F.kl_div, TF.kl_div, (LOGP, LOGP[::-1].copy()), {"reduction": reduction, "log_target": True}, (0, 1), True)
    ROWS[f"kl_div/empty/{reduction}"] = (F.kl_div, TF.kl_div, (EMPTY_2D, EMPTY_2D), {"reduction": reduction}, (0, 1), True)


def _cases():
    for rid, (*_, fits32) in ROWS.items():
        yield pytest.param(rid, "float64", id=f"{rid}/float64")
        if fits32:
            yield pytest.param(rid, "float32", id=f"{rid}/float32")


@pytest.mark.parametrize("rid,dtype", list(_cases()))
def test_extreme_matches_torch(rid, dtype):
    jfn, tfn, args, kwargs, wrt, _ = ROWS[rid]
    args = tuple(a.astype(dtype) if isinstance(a, np.ndarray) else a for a in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with jax.enable_x64(dtype == "float64"):
            assert_parity(jfn, tfn, args, kwargs, wrt=wrt)


def test_rows_hit_nan_and_inf():
    """The table really reaches the corners it is about: torch gives inf and nan somewhere in it."""
    import torch

    seen = set()
    for jfn, tfn, args, kwargs, wrt, _ in ROWS.values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = tfn(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs).numpy()
        seen |= {"nan"} if np.isnan(out).any() else set()
        seen |= {"inf"} if np.isinf(out).any() else set()
    assert seen == {"nan", "inf"}
