"""One valid, ordinary call of every loss: the rows the dtype, determinism and bad-input tables start from.

``make(rng)`` returns float64 numpy arrays (and integer class targets); the
tables cast the ``float_args`` positions to the dtype under test.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

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
    # input and target broadcast against each other (the rest need equal shapes)
    broadcasts: bool = True

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


CALLS: dict[str, Call] = {
    "l1_loss": Call(F.l1_loss, TF.l1_loss, _pair, {}, (0, 1), (0, 1)),
    "mse_loss": Call(F.mse_loss, TF.mse_loss, _pair, {}, (0, 1), (0, 1)),
    "huber_loss": Call(F.huber_loss, TF.huber_loss, _pair, {"delta": 0.5}, (0, 1), (0, 1)),
    "smooth_l1_loss": Call(F.smooth_l1_loss, TF.smooth_l1_loss, _pair, {"beta": 0.5}, (0, 1), (0, 1)),
    "gaussian_nll_loss": Call(F.gaussian_nll_loss, TF.gaussian_nll_loss, _gaussian, {}, (0, 1, 2), (0, 1, 2)),
    "poisson_nll_loss": Call(F.poisson_nll_loss, TF.poisson_nll_loss, _poisson, {}, (0, 1), (0, 1)),
    "kl_div": Call(F.kl_div, TF.kl_div, _kl, {"reduction": "batchmean"}, (0, 1), (0, 1)),
}
