"""Sequence losses: ctc_loss (torch.nn.functional's name).

The forward pass is Graves et al.'s alpha recursion in log space, one
``jax.lax.scan`` step per time frame (compile time does not grow with T); the
backward pass is a custom VJP running the beta recursion the same way and
returning torch's gradient (``aten/src/ATen/native/LossCTC.cpp``), which is not
the plain derivative of the loss: it adds ``exp(log_probs)``, the term that makes
it the logits' gradient once it flows back through ``log_softmax``.
"""

from __future__ import annotations

from typing import Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .. import checks
from ._shape_checks import as_array, class_target, float_input
from ._reduction import accumulation_dtype, apply_reduction, resolve

__all__ = ["ctc_loss"]

Lengths = Union[ArrayLike, Sequence[int]]


def _concrete(x: jax.Array):
    """The value of ``x`` as numpy, or None while tracing."""
    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


def _lengths(lengths: Lengths, name: str, batch: int) -> jax.Array:
    """Integer lengths of shape (batch,) from an array, tuple or list (torch takes all three)."""
    if isinstance(lengths, (tuple, list)):
        # stacked rather than np.asarray'd: under jax.jit the entries may be tracers
        entries = [as_array(v, name) for v in lengths]
        lengths = jnp.stack(entries) if entries else jnp.zeros((0,), jnp.int32)
    lengths = as_array(lengths, name)  # type: ignore[arg-type]  # a tuple or list was stacked above
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise TypeError(f"{name} must be integral, got dtype {lengths.dtype}")
    if lengths.size != batch:
        raise ValueError(
            f"{name} must have one entry per sequence (batch size {batch}), got shape {tuple(lengths.shape)}"
        )
    return lengths.reshape(batch).astype(jnp.int32)


def _padded_targets(targets: jax.Array, target_lengths: jax.Array, batch: int) -> jax.Array:
    """Targets as (N, S): padded ones as given, concatenated ones cut at the length offsets.

    For concatenated targets S is the longest target when the lengths are
    known, else the total length (a static bound under ``jax.jit``).
    """
    if targets.ndim == 2:
        if targets.shape[0] != batch:
            raise ValueError(
                f"targets of shape {tuple(targets.shape)} must have batch size {batch} rows"
            )
        return targets
    total = targets.shape[0]
    known = _concrete(target_lengths)
    if known is not None and int(known.sum()) != total:
        raise ValueError(
            f"concatenated targets must have sum(target_lengths) = {int(known.sum())} entries, "
            f"got shape {tuple(targets.shape)}"
        )
    width = int(known.max(initial=0)) if known is not None else total
    if width == 0:
        return jnp.zeros((batch, 0), targets.dtype)
    offsets = jnp.cumsum(target_lengths) - target_lengths
    index = jnp.clip(offsets[:, None] + jnp.arange(width), 0, total - 1)
    return targets[index]


def _stage_checks(labels, input_lengths, target_lengths, num_frames: int, num_classes: int) -> None:
    if not checks.enabled() or not any(isinstance(a, jax.core.Tracer) for a in (labels, input_lengths, target_lengths)):
        return
    checks.staged(target_lengths >= 0, "target_lengths must be >= 0")
    checks.staged(
        (target_lengths <= labels.shape[1]),
        f"targets of shape {tuple(labels.shape)} are shorter than the longest target length",
    )
    checks.staged(
        ((input_lengths >= 0) & (input_lengths <= num_frames)),
        f"input_lengths must be in [0, {num_frames}] (log_probs has {num_frames} frames)",
    )
    inside = jnp.arange(labels.shape[1]) < target_lengths[:, None]
    checks.staged(
        ~(inside & ((labels < 0) | (labels >= num_classes))),
        f"targets must be class indices in [0, {num_classes})",
    )


def _check_values(labels, input_lengths, target_lengths, num_frames: int, num_classes: int) -> None:
    """torch's checks on the lengths, plus label range (torch reads out of bounds there).

    They need the values, so they run eagerly; under ``jax.jit`` they are
    skipped, or staged for ``checkify`` when ``jaxnn.checks`` is on.
    """
    _stage_checks(labels, input_lengths, target_lengths, num_frames, num_classes)
    il, tl, lab = _concrete(input_lengths), _concrete(target_lengths), _concrete(labels)
    # torch raises RuntimeError here; ValueRangeError is that and a ValueError.
    if tl is not None:
        if (tl < 0).any():
            raise checks.ValueRangeError(
                f"target_lengths must be >= 0, got {tl.tolist()}; found {tl[tl < 0][0]} at position {_first(tl < 0)}"
            )
        if tl.size and tl.max() > labels.shape[1]:
            raise checks.ValueRangeError(
                f"targets of shape {tuple(labels.shape)} are shorter than the longest target "
                f"length {int(tl.max())} (target_lengths position {_first(tl == tl.max())})"
            )
    if il is not None and ((il < 0) | (il > num_frames)).any():
        bad = (il < 0) | (il > num_frames)
        raise checks.ValueRangeError(
            f"input_lengths must be in [0, {num_frames}] (log_probs has {num_frames} frames), "
            f"got {il.tolist()}; found {il[bad][0]} at position {_first(bad)}"
        )
    if tl is not None and lab is not None:
        inside = np.arange(lab.shape[1]) < tl[:, None]
        bad = inside & ((lab < 0) | (lab >= num_classes))
        if bad.any():
            raise checks.ValueRangeError(
                f"targets must be class indices in [0, {num_classes}); got {lab[bad].tolist()}, "
                f"the first at position {_first(bad)}"
            )


def _first(mask: np.ndarray) -> tuple[int, ...]:
    """The position of the first True of ``mask``."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _logsumexp3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """log(e^a + e^b + e^c) with torch's guard: an all -inf max is replaced by 0."""
    m = jnp.maximum(jnp.maximum(a, b), c)
    m = jnp.where(m == -jnp.inf, jnp.zeros_like(m), m)
    return jnp.log(jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m)) + m


def _shift(x: jax.Array, k: int) -> jax.Array:
    """x[..., s - k] along the state axis, -inf where that falls off the edge (k may be negative)."""
    size = x.shape[-1]
    width = min(abs(k), size)
    pad = jnp.full(x.shape[:-1] + (width,), -jnp.inf, x.dtype)
    if k > 0:
        return jnp.concatenate([pad, x[..., : size - width]], axis=-1)
    return jnp.concatenate([x[..., width:], pad], axis=-1)


def _alphas(lp_ext, skip, input_lengths):
    """Log alphas for every frame, (T, N, L); after a sequence's last frame they stay frozen."""
    state = jnp.arange(lp_ext.shape[-1])
    alpha0 = jnp.where(state < 2, lp_ext[0], -jnp.inf)
    neg_inf = jnp.full_like(alpha0, -jnp.inf)

    def step(alpha, inputs):
        lp_t, t = inputs
        new = _logsumexp3(alpha, _shift(alpha, 1), jnp.where(skip, _shift(alpha, 2), neg_inf)) + lp_t
        new = jnp.where((t < input_lengths)[:, None], new, alpha)
        return new, new

    frames = jnp.arange(1, lp_ext.shape[0])
    _, rest = jax.lax.scan(step, alpha0, (lp_ext[1:], frames))
    return jnp.concatenate([alpha0[None], rest], axis=0)


def _betas(lp_ext, skip, input_lengths, target_lengths):
    """Log betas (T, N, L), torch's convention (they include the frame's own log prob)."""
    state = jnp.arange(lp_ext.shape[-1])
    end = 2 * target_lengths[:, None]
    final = (state == end) | ((state == end - 1) & (end > 0))
    skip_next = jnp.concatenate([skip[:, 2:], jnp.zeros_like(skip[:, :2])], axis=1)
    neg_inf = jnp.full(lp_ext.shape[1:], -jnp.inf, lp_ext.dtype)
    last = (input_lengths - 1)[:, None]

    def step(beta, inputs):
        lp_t, t = inputs
        new = _logsumexp3(beta, _shift(beta, -1), jnp.where(skip_next, _shift(beta, -2), neg_inf)) + lp_t
        new = jnp.where(t == last, jnp.where(final, lp_t, neg_inf), jnp.where(t < last, new, neg_inf))
        return new, new

    frames = jnp.arange(lp_ext.shape[0])
    _, betas = jax.lax.scan(step, neg_inf, (lp_ext, frames), reverse=True)
    return betas


def _nll_from_alphas(alphas, input_lengths, target_lengths):
    """-log p(target | input) per sequence, read off the frozen last alphas."""
    last = alphas[-1]
    end = 2 * target_lengths[:, None]
    l1 = jnp.take_along_axis(last, end, axis=1)[:, 0]
    l2 = jnp.where(target_lengths > 0, jnp.take_along_axis(last, jnp.maximum(end - 1, 0), axis=1)[:, 0], -jnp.inf)
    m = jnp.maximum(l1, l2)
    m = jnp.where(m == -jnp.inf, jnp.zeros_like(m), m)
    nll = -(jnp.log(jnp.exp(l1 - m) + jnp.exp(l2 - m)) + m)
    empty_input = jnp.where(target_lengths == 0, jnp.zeros_like(nll), jnp.full_like(nll, jnp.inf))
    return jnp.where(input_lengths == 0, empty_input, nll)


def _extended(log_probs, labels, target_lengths, blank):
    """Blank-interleaved labels l' (N, 2S+1), their log probs (T, N, 2S+1) and where l'[s-2] may be skipped.

    Padding past each target length becomes blank, so it is never out of range.
    """
    n, s = labels.shape
    labels = jnp.where(jnp.arange(s) < target_lengths[:, None], labels, blank).astype(jnp.int32)
    ext = jnp.full((n, 2 * s + 1), blank, jnp.int32).at[:, 1::2].set(labels)
    skip = jnp.zeros(ext.shape, bool).at[:, 2:].set(ext[:, 2:] != ext[:, :-2])
    lp_ext = jnp.take_along_axis(log_probs, jnp.broadcast_to(ext[None], (log_probs.shape[0],) + ext.shape), axis=2)
    return ext, skip, lp_ext


@jax.custom_vjp
def _ctc_nll(log_probs, labels, input_lengths, target_lengths, blank, zero_infinity):
    """Per-sequence -log p (N,) with torch's CTC gradient w.r.t. log_probs (T, N, C)."""
    return _ctc_nll_fwd(log_probs, labels, input_lengths, target_lengths, blank, zero_infinity)[0]


def _ctc_nll_fwd(log_probs, labels, input_lengths, target_lengths, blank, zero_infinity):
    ext, skip, lp_ext = _extended(log_probs, labels, target_lengths, blank)
    alphas = _alphas(lp_ext, skip, input_lengths)
    nll = _nll_from_alphas(alphas, input_lengths, target_lengths)
    return nll, (log_probs, ext, skip, lp_ext, alphas, nll, input_lengths, target_lengths, zero_infinity)


def _ctc_nll_bwd(residuals, g):
    log_probs, ext, skip, lp_ext, alphas, nll, input_lengths, target_lengths, zero_infinity = residuals
    t_count, n, _ = log_probs.shape
    betas = _betas(lp_ext, skip, input_lengths, target_lengths)
    # posterior occupancy of each (frame, state), summed onto the state's class:
    # torch's exp(log_alpha_beta + nll - log_prob) accumulated per class
    occupancy = jnp.exp(alphas + betas - lp_ext + nll[None, :, None])
    batch = jnp.broadcast_to(jnp.arange(n)[:, None], ext.shape)
    per_class = jnp.zeros_like(log_probs).at[:, batch, ext].add(occupancy)
    # an impossible alignment has log_alpha_beta = -inf everywhere: torch's
    # exp(-inf + inf) makes every class nan, not only those on the target
    impossible = jnp.isposinf(nll)[None, :, None]
    per_class = jnp.where(impossible, jnp.nan, per_class)
    grad = (jnp.exp(log_probs) - per_class) * g[None, :, None]
    keep = (jnp.arange(t_count)[:, None] < input_lengths[None, :]) & ~(zero_infinity & jnp.isposinf(nll))
    grad = jnp.where(keep[:, :, None], grad, jnp.zeros_like(grad))
    return grad, None, None, None, None, None


_ctc_nll.defvjp(_ctc_nll_fwd, _ctc_nll_bwd)
# compiled once per shape (blank and zero_infinity are traced), so eager calls
# do not re-lower the scans each time
_ctc_nll_compiled = jax.jit(_ctc_nll)


def ctc_loss(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: Lengths,
    target_lengths: Lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> jax.Array:
    """Connectionist Temporal Classification loss: ``-log p(target | input)`` summed over alignments.

    Args:
      log_probs: (T, N, C) log probabilities (e.g. ``log_softmax`` over C), or
        unbatched (T, C). Frames past a sequence's ``input_lengths`` are ignored.
      targets: integer class indices, padded (N, S) (entries past each target
        length are never read, any value) or concatenated 1-D
        (sum(target_lengths),). Unbatched: (S,) concatenated or (1, S).
      input_lengths: (N,) integers in [0, T], as an array, tuple or list
        (0-d or (1,) unbatched).
      target_lengths: (N,) non-negative integers, same forms.
      blank: the blank class, in [0, C).
      reduction: 'none' gives (N,) (a scalar unbatched); 'mean' divides each
        loss by its target length (clamped at 1, as torch) and averages over N;
        'sum' adds the losses.
      zero_infinity: replace infinite losses (targets that cannot be aligned in
        the given frames, e.g. repeated labels needing a blank between them)
        and their gradients by 0.

    Returns:
      The loss in ``log_probs``' dtype. An impossible alignment gives inf and,
      as torch, a nan gradient on that sequence's frames unless ``zero_infinity``.
      An empty input with an empty target gives 0.

    The gradient w.r.t. ``log_probs`` is torch's: ``(exp(log_probs) - gamma) * g``
    on frames inside the input length (``gamma`` the per-class posterior), 0
    beyond. Composed with ``log_softmax`` it equals the true gradient w.r.t. the
    logits; used on its own it differs from ``jax.grad`` of the formula by the
    ``exp(log_probs)`` term, exactly as torch does.

    Shapes, ranks, dtypes and ``blank`` are checked at trace time; the values
    of the lengths and targets (ranges, sums) are checked when they are
    concrete (not under ``jax.jit``). Out-of-range labels raise ``ValueError``
    (torch reads past the class axis there). float16/bfloat16 run in float32
    (torch's CPU kernel has no half precision) and are cast back.

    Reference: ``torch.nn.functional.ctc_loss``.

    Example:
      >>> log_probs = jax.nn.log_softmax(jnp.zeros((3, 1, 2)))   # (T, N, C), blank 0
      >>> F.ctc_loss(log_probs, jnp.array([[1]]), jnp.array([3]), jnp.array([1])).round(4)
      Array(0.2877, dtype=float32)
    """
    reduction = resolve(reduction)
    log_probs = float_input(log_probs, "log_probs")
    if log_probs.ndim not in (2, 3):
        raise ValueError(
            f"log_probs must be (T, N, C) or unbatched (T, C), got shape {tuple(log_probs.shape)}"
        )
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = log_probs[:, None, :]
    t_count, batch, num_classes = log_probs.shape
    if log_probs.size == 0:
        raise ValueError(f"log_probs must not be empty, got shape {tuple(log_probs.shape)}")
    if not isinstance(blank, (int, np.integer)) or not 0 <= blank < num_classes:
        raise ValueError(f"blank must be in label range [0, {num_classes}), got {blank!r}")
    targets = class_target(targets, "targets")
    if targets.ndim not in (1, 2):
        raise ValueError(
            f"targets must be padded (N, S) or concatenated 1-D, got shape {tuple(targets.shape)}"
        )
    input_lengths = _lengths(input_lengths, "input_lengths", batch)
    target_lengths = _lengths(target_lengths, "target_lengths", batch)
    labels = _padded_targets(targets, target_lengths, batch)
    _check_values(labels, input_lengths, target_lengths, t_count, num_classes)

    compute = accumulation_dtype(log_probs.dtype)
    nll = _ctc_nll_compiled(
        log_probs.astype(compute), labels, input_lengths, target_lengths, jnp.int32(blank), jnp.bool_(zero_infinity)
    )
    if zero_infinity:
        nll = jnp.where(jnp.isposinf(nll), jnp.zeros_like(nll), nll)
    nll = nll.astype(log_probs.dtype)
    if reduction == "mean":
        return apply_reduction(nll / jnp.maximum(target_lengths, 1).astype(nll.dtype), "mean")
    if reduction == "sum" or batched:
        return apply_reduction(nll, reduction)
    return nll[0]
