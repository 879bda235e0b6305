"""One valid, ordinary call of every loss: the rows the dtype, determinism and bad-input tables start from.

``make(rng)`` returns float64 numpy arrays (and integer class targets); the
tables cast the ``float_args`` positions to the dtype under test.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np
import torch.nn.functional as TF

import jaxnn.functional as F


@dataclasses.dataclass(frozen=True)
class Call:
    jfn: Callable
    tfn: Callable
    make: Callable[[np.random.Generator], tuple]
    kwargs: dict
    wrt: tuple[int, ...]
    float_args: tuple[int, ...]
    # positions that also take integers (torch's +-1 targets): no integer-dtype bad-input row
    int_ok: tuple[int, ...] = ()
    # the argument that the bad-input matrix swaps for one of a clashing shape (None: no such row)
    shape_arg: Optional[int] = 1

    def args(self, dtype, seed: int = 0) -> tuple:
        args = self.make(np.random.default_rng(seed))
        return tuple(np.asarray(a, dtype) if i in self.float_args else a for i, a in enumerate(args))


def _n(*shape):
    return lambda rng: rng.standard_normal(shape)


def _pair(rng):
    return rng.standard_normal((3, 4)), rng.standard_normal((3, 4))


def _gaussian(rng):
    return rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.1, 2.0, (3, 4))


def _poisson(rng):
    return rng.standard_normal((3, 4)), rng.poisson(2.0, (3, 4)).astype(np.float64)


def _kl(rng):
    logits = rng.standard_normal((3, 4))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    q = rng.uniform(0.0, 1.0, (3, 4))
    return logp, q / q.sum(1, keepdims=True)


def _sign(rng, shape=(3, 4)):
    return np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0)


def _ranking(rng):
    return rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), _sign(rng)


def _hinge(rng):
    return rng.standard_normal((3, 4)), _sign(rng)


def _cosine(rng):
    return rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), _sign(rng, (3,))


def _triplet(rng):
    return rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))


def _ctc(rng):
    logits = rng.standard_normal((6, 2, 4))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return log_probs, rng.integers(1, 4, (2, 3)), np.array([6, 5]), np.array([3, 2])


def _log_softmax(x):
    return x - np.log(np.exp(x).sum(1, keepdims=True))


def _classes(rng):
    return rng.standard_normal((3, 4)), rng.integers(0, 4, (3,))


def _log_classes(rng):
    x, y = _classes(rng)
    return _log_softmax(x), y


def _probabilities(rng):
    return rng.uniform(0.05, 0.95, (3, 4)), (rng.uniform(size=(3, 4)) < 0.5).astype(np.float64)


def _logits_binary(rng):
    return rng.standard_normal((3, 4)), (rng.uniform(size=(3, 4)) < 0.5).astype(np.float64)


def _logits_signs(rng):
    return rng.standard_normal((3, 4)), _sign(rng)


def _multilabel(rng):
    # each row: some target classes, then -1 (the rest is never read)
    return rng.standard_normal((3, 4)), np.array([[3, 0, -1, 1], [1, -1, 0, 0], [0, 1, 2, 3]])


CALLS: dict[str, Call] = {
    "l1_loss": Call(F.l1_loss, TF.l1_loss, _pair, {}, (0, 1), (0, 1)),
    "mse_loss": Call(F.mse_loss, TF.mse_loss, _pair, {}, (0, 1), (0, 1)),
    "huber_loss": Call(F.huber_loss, TF.huber_loss, _pair, {"delta": 0.5}, (0, 1), (0, 1)),
    "smooth_l1_loss": Call(F.smooth_l1_loss, TF.smooth_l1_loss, _pair, {"beta": 0.5}, (0, 1), (0, 1)),
    "gaussian_nll_loss": Call(F.gaussian_nll_loss, TF.gaussian_nll_loss, _gaussian, {}, (0, 1, 2), (0, 1, 2)),
    "poisson_nll_loss": Call(F.poisson_nll_loss, TF.poisson_nll_loss, _poisson, {}, (0, 1), (0, 1)),
    "kl_div": Call(F.kl_div, TF.kl_div, _kl, {"reduction": "batchmean"}, (0, 1), (0, 1)),
    "margin_ranking_loss": Call(F.margin_ranking_loss, TF.margin_ranking_loss, _ranking, {"margin": 0.5}, (0, 1, 2), (0, 1, 2), int_ok=(2,)),
    "hinge_embedding_loss": Call(F.hinge_embedding_loss, TF.hinge_embedding_loss, _hinge, {}, (0,), (0, 1), int_ok=(1,)),
    "cosine_embedding_loss": Call(F.cosine_embedding_loss, TF.cosine_embedding_loss, _cosine, {"margin": 0.2}, (0, 1), (0, 1, 2), int_ok=(2,)),
    "triplet_margin_loss": Call(F.triplet_margin_loss, TF.triplet_margin_loss, _triplet, {}, (0, 1, 2), (0, 1, 2)),
    "triplet_margin_with_distance_loss": Call(
        F.triplet_margin_with_distance_loss, TF.triplet_margin_with_distance_loss, _triplet, {"swap": True}, (0, 1, 2), (0, 1, 2)),
    "ctc_loss": Call(F.ctc_loss, TF.ctc_loss, _ctc, {}, (0,), (0,), shape_arg=None),
    "cross_entropy": Call(F.cross_entropy, TF.cross_entropy, _classes, {"label_smoothing": 0.1}, (0,), (0,)),
    "nll_loss": Call(F.nll_loss, TF.nll_loss, _log_classes, {}, (0,), (0,)),
    "binary_cross_entropy": Call(F.binary_cross_entropy, TF.binary_cross_entropy, _probabilities, {}, (0,), (0, 1)),
    "binary_cross_entropy_with_logits": Call(
        F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, _logits_binary, {}, (0, 1), (0, 1),
        int_ok=(1,)),  # torch refuses a Long target (output cast); jaxnn computes the same loss as for 0./1.
    "soft_margin_loss": Call(F.soft_margin_loss, TF.soft_margin_loss, _logits_signs, {}, (0,), (0, 1), int_ok=(1,)),
    "multilabel_soft_margin_loss": Call(
        F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, _logits_binary, {}, (0,), (0, 1), int_ok=(1,)),
    "multi_margin_loss": Call(F.multi_margin_loss, TF.multi_margin_loss, _classes, {"margin": 0.5}, (0,), (0,)),
    "multilabel_margin_loss": Call(F.multilabel_margin_loss, TF.multilabel_margin_loss, _multilabel, {}, (0,), (0,)),
}
