"""The loss suite as a table: one row per torch loss.

Each row says how to build inputs with a given element count (numpy, in
torch's layout and argument order), which arguments are differentiated
(the model outputs), the options both libraries get, and optax's nearest
equivalent with the conversion to its own layout (done before timing, so
each library gets its idiomatic inputs). The jaxnn and torch calls are
``getattr(module, row.fn_name)(*args, **row.kwargs)`` for both: the API is torch's.

Sizes: ``n`` is the element count of the first input. Classification-shaped
losses use ``batch x 1000`` classes with integer targets; embedding losses use
128 features per row; CTC has one fixed size (T=200, N=32, C=50, S=40).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

Args = tuple[np.ndarray, ...]
CLASSES = 1000
FEATURES = 128
CTC_SIZE = dict(T=200, N=32, C=50, S=40)


@dataclass(frozen=True)
class Optax:
    """optax's nearest equivalent: ``fn(*prep(args))`` under ``jax.jit``, returning a scalar."""

    fn: Callable[..., jax.Array]
    note: str
    prep: Callable[[Args], Args] = lambda args: args


@dataclass(frozen=True)
class LossRow:
    name: str
    make: Callable[[int, np.random.Generator], Args]
    wrt: tuple[int, ...] = (0,)
    kwargs: dict[str, Any] = field(default_factory=dict)
    optax: Optional[Optax] = None
    fixed_size: bool = False
    # the torch.nn.functional / jaxnn.functional name, where a row is a variant
    # of a loss (options set) and so needs a name of its own
    function: str = ""

    @property
    def fn_name(self) -> str:
        return self.function or self.name


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _signs(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0], np.float32), size=shape)


def _rows(n: int, width: int) -> int:
    return max(1, n // width)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=-1, keepdims=True))).astype(np.float32)


def _pair(n, rng):
    return _normal(rng, n), _normal(rng, n)


def _gaussian(n, rng):
    return _normal(rng, n), _normal(rng, n), rng.uniform(0.5, 2.0, n).astype(np.float32)


def _poisson(n, rng):
    return _normal(rng, n), rng.poisson(1.0, n).astype(np.float32)


def _distributions(n, rng):
    b = _rows(n, CLASSES)
    return _log_softmax(_normal(rng, b, CLASSES)), np.exp(_log_softmax(_normal(rng, b, CLASSES)))


def _logits_labels(n, rng):
    b = _rows(n, CLASSES)
    return _normal(rng, b, CLASSES), rng.integers(0, CLASSES, b)


def _log_probs_labels(n, rng):
    logits, labels = _logits_labels(n, rng)
    return _log_softmax(logits), labels


def _probabilities(n, rng):
    return rng.uniform(0.01, 0.99, n).astype(np.float32), rng.integers(0, 2, n).astype(np.float32)


def _logits_binary(n, rng):
    return _normal(rng, n), rng.integers(0, 2, n).astype(np.float32)


def _logits_signs(n, rng):
    return _normal(rng, n), _signs(rng, n)


def _multilabel_binary(n, rng):
    b = _rows(n, CLASSES)
    return _normal(rng, b, CLASSES), rng.integers(0, 2, (b, CLASSES)).astype(np.float32)


def _multilabel_indices(n, rng):
    """Up to 5 distinct labels per row, then -1 padding (torch's format)."""
    b = _rows(n, CLASSES)
    target = np.full((b, CLASSES), -1, np.int64)
    for row in range(b):
        k = rng.integers(1, 6)
        target[row, :k] = rng.choice(CLASSES, size=k, replace=False)
    return _normal(rng, b, CLASSES), target


def _ranking(n, rng):
    return _normal(rng, n), _normal(rng, n), _signs(rng, n)


def _embedding_pair(n, rng):
    b = _rows(n, FEATURES)
    return _normal(rng, b, FEATURES), _normal(rng, b, FEATURES), _signs(rng, b)


def _triplet(n, rng):
    b = _rows(n, FEATURES)
    return _normal(rng, b, FEATURES), _normal(rng, b, FEATURES), _normal(rng, b, FEATURES)


def _ctc(n, rng):
    t, b, c, s = CTC_SIZE["T"], CTC_SIZE["N"], CTC_SIZE["C"], CTC_SIZE["S"]
    target_lengths = rng.integers(s // 2, s + 1, b)
    return (
        _log_softmax(_normal(rng, t, b, c)),
        rng.integers(1, c, (b, s)),
        np.full(b, t, np.int64),
        target_lengths,
    )


def _ctc_to_optax(args: Args) -> Args:
    log_probs, targets, input_lengths, target_lengths = args
    t, b, _ = log_probs.shape
    logit_paddings = (np.arange(t)[None, :] >= input_lengths[:, None]).astype(np.float32)
    label_paddings = (np.arange(targets.shape[1])[None, :] >= target_lengths[:, None]).astype(np.float32)
    return np.ascontiguousarray(log_probs.transpose(1, 0, 2)), logit_paddings, targets, label_paddings


def _binary_from_signs(args: Args) -> Args:
    x, y = args
    return x, (y + 1) / 2


def _first_two(args: Args) -> Args:
    return args[:2]


LOSSES: tuple[LossRow, ...] = (
    LossRow("l1_loss", _pair),
    LossRow("mse_loss", _pair, optax=Optax(lambda x, y: optax.losses.squared_error(x, y).mean(), "squared_error().mean()")),
    LossRow(
        "huber_loss", _pair, kwargs=dict(delta=1.0),
        optax=Optax(lambda x, y: optax.losses.huber_loss(x, y, delta=1.0).mean(), "huber_loss(delta=1).mean()"),
    ),
    LossRow(
        "smooth_l1_loss", _pair, kwargs=dict(beta=1.0),
        optax=Optax(lambda x, y: optax.losses.huber_loss(x, y, delta=1.0).mean(), "huber_loss(delta=1).mean() (= smooth_l1 at beta=1)"),
    ),
    LossRow("gaussian_nll_loss", _gaussian, wrt=(0, 2)),
    LossRow("poisson_nll_loss", _poisson),
    LossRow(
        "kl_div", _distributions, kwargs=dict(reduction="batchmean"),
        optax=Optax(lambda lp, p: optax.losses.kl_divergence(lp, p).mean(), "kl_divergence().mean() (= batchmean)"),
    ),
    LossRow(
        "cross_entropy", _logits_labels,
        optax=Optax(
            lambda x, y: optax.losses.softmax_cross_entropy_with_integer_labels(x, y).mean(),
            "softmax_cross_entropy_with_integer_labels().mean()",
        ),
    ),
    LossRow(
        "cross_entropy+ls", _logits_labels, kwargs=dict(label_smoothing=0.1), function="cross_entropy",
        optax=Optax(
            lambda x, y: optax.losses.softmax_cross_entropy(
                x, optax.smooth_labels(jax.nn.one_hot(y, x.shape[-1], dtype=x.dtype), 0.1)
            ).mean(),
            "softmax_cross_entropy(x, smooth_labels(one_hot(y), 0.1)).mean()",
        ),
    ),
    LossRow("nll_loss", _log_probs_labels),
    LossRow("binary_cross_entropy", _probabilities),
    LossRow(
        "binary_cross_entropy_with_logits", _logits_binary,
        optax=Optax(lambda x, y: optax.losses.sigmoid_binary_cross_entropy(x, y).mean(), "sigmoid_binary_cross_entropy().mean()"),
    ),
    LossRow(
        "soft_margin_loss", _logits_signs,
        optax=Optax(
            lambda x, y: optax.losses.sigmoid_binary_cross_entropy(x, y).mean(),
            "sigmoid_binary_cross_entropy(x, (y+1)/2).mean() (same value)", _binary_from_signs,
        ),
    ),
    LossRow(
        "multilabel_soft_margin_loss", _multilabel_binary,
        optax=Optax(
            lambda x, y: optax.losses.sigmoid_binary_cross_entropy(x, y).mean(-1).mean(),
            "sigmoid_binary_cross_entropy().mean(-1).mean()",
        ),
    ),
    LossRow(
        "multi_margin_loss", _logits_labels,
        optax=Optax(
            lambda x, y: optax.losses.multiclass_hinge_loss(x, y).mean(),
            "multiclass_hinge_loss().mean() (Crammer-Singer max, not torch's Weston-Watkins sum)",
        ),
    ),
    LossRow("multilabel_margin_loss", _multilabel_indices),
    LossRow("margin_ranking_loss", _ranking, wrt=(0, 1)),
    LossRow("hinge_embedding_loss", _logits_signs),
    LossRow(
        "cosine_embedding_loss", _embedding_pair, wrt=(0, 1),
        optax=Optax(
            lambda a, b: optax.losses.cosine_distance(a, b).mean(),
            "cosine_distance().mean() (ignores the -1 targets' margin)", _first_two,
        ),
    ),
    LossRow(
        "triplet_margin_loss", _triplet, wrt=(0, 1, 2),
        optax=Optax(lambda a, p, n: optax.losses.triplet_margin_loss(a, p, n).mean(), "triplet_margin_loss().mean()"),
    ),
    LossRow(
        "triplet_margin_with_distance_loss", _triplet, wrt=(0, 1, 2),
        optax=Optax(lambda a, p, n: optax.losses.triplet_margin_loss(a, p, n).mean(), "triplet_margin_loss().mean()"),
    ),
    LossRow(
        "ctc_loss", _ctc, fixed_size=True,
        optax=Optax(
            lambda logits, lp, labels, ll: optax.losses.ctc_loss(logits, lp, labels, ll).mean(),
            "ctc_loss(N,T,C layout).mean() (per-sequence sum, not torch's per-length mean)", _ctc_to_optax,
        ),
    ),
)


def to_jax(args: Args, device: jax.Device) -> tuple[jax.Array, ...]:
    """Numpy inputs as JAX arrays on ``device``; integer targets become int32 (JAX's default width).

    The arrays are left uncommitted (``jnp.asarray`` under ``default_device``,
    not ``device_put``), like a model's parameters: mixing committed inputs with
    uncommitted parameters makes a jitted step compile a second time on its
    second call, when its outputs come back committed.
    """
    with jax.default_device(device):
        return tuple(jnp.asarray(a.astype(np.int32) if np.issubdtype(a.dtype, np.integer) else a) for a in args)
