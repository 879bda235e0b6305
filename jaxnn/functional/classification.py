"""Classification losses with torch 2.13's semantics (class axis at dim 1).

cross_entropy, nll_loss, binary_cross_entropy(_with_logits), soft_margin_loss,
multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss.

Out-of-range class indices cannot raise under ``jax.jit``: with
:mod:`jaxnn.checks` off they give a ``nan`` loss; see that module for the
opt-in errors.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .. import checks
from ._shape_checks import as_array, broadcast_all, broadcasts_to, class_target, class_weight, float_input
from ._reduction import accumulation_dtype, apply_reduction, resolve, weighted_mean

__all__ = [
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
]

# torch's binary_cross_entropy_backward divides by max(x (1 - x), EPSILON), a
# C++ float: 1e-12 rounded to float32 even for float64 inputs.
_BCE_EPSILON = float(np.float32(1e-12))


def _describe(x: jax.Array) -> str:
    return f"shape {tuple(x.shape)} and dtype {x.dtype}"


def _log_normalizer(x: jax.Array, axis: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(max, x - max, log sum exp(x - max))`` over ``axis`` in the accumulation dtype.

    ``x - max <= 0`` and the log-sum-exp ``>= 0``, so log-softmax terms built
    from them never cancel, even for logits of +-1e4. The max carries no
    gradient: the loss does not depend on it.
    """
    acc = accumulation_dtype(x.dtype)
    top = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True)).astype(acc)
    shifted = x.astype(acc) - top
    return top, shifted, jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def _class_layout(
    input: jax.Array, target: jax.Array, fn: str
) -> tuple[jax.Array, jax.Array, bool]:
    """Batched views ``(N, C, *d)`` and ``(N, *d)`` of nll-style arguments, and whether unbatched.

    An unbatched ``(C,)`` input takes a scalar (or one-element) target, as in torch.
    """
    if input.ndim == 0:
        raise ValueError(f"{fn}: expected input with 1 or more dimensions, got {_describe(input)}")
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: target must hold integer class indices; got target of {_describe(target)} "
            f"for input of {_describe(input)}"
        )
    if input.ndim == 1:
        expected = [(), (1,)]
    else:
        expected = [(input.shape[0], *input.shape[2:])]
    if tuple(target.shape) not in expected:
        raise ValueError(
            f"{fn}: expected target of shape {' or '.join(map(str, expected))} (the input's shape "
            f"without the class dim 1); got target of {_describe(target)} for input of "
            f"{_describe(input)}"
        )
    if input.ndim == 1:
        return input[None], target.reshape(1), True
    return input, target, False


def _indexed(
    input: jax.Array,
    target: jax.Array,
    weight: Optional[ArrayLike],
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    *,
    fn: str,
    log_softmax: bool,
) -> jax.Array:
    """nll_loss on ``input`` (log-probabilities, or logits when ``log_softmax``) with integer targets.

    Per element: ``-w[t] * logp[t]`` (0 where ``t == ignore_index``, nan where
    ``t`` is out of range), plus with label smoothing torch's
    ``(1 - eps) * nll + eps / C * (-sum_c w[c] * logp[c])``. 'mean' divides by
    the summed ``w[t]`` of the non-ignored targets, for both terms.
    """
    x, t, unbatched = _class_layout(input, target, fn)
    num_classes = x.shape[1]
    w = class_weight(weight, num_classes)
    ignore_index = operator.index(ignore_index)
    checks.validate_class_indices(t, num_classes, ignore_index=ignore_index)
    acc = accumulation_dtype(x.dtype)

    ignored = t == ignore_index
    in_range = (t >= 0) & (t < num_classes)
    safe = jnp.where(in_range, t, 0)
    # gathering from the logits themselves (not the shifted copy) lets XLA fuse
    # the shift into the log-sum-exp reduction without materialising it
    log_p = _pick(x, safe).astype(acc)
    # one conversion for both uses below, so their gradients add before rounding
    # back to a half-precision input's dtype
    wide = x.astype(acc)
    if log_softmax:
        top, _, log_z = _log_normalizer(wide, axis=1)
        log_p = (log_p - top[:, 0]) - log_z[:, 0]
    w_t = jnp.ones((), acc) if w is None else w.astype(acc)[safe]
    # torch's total weight counts w[t] of every non-ignored target; an
    # out-of-range one poisons it, as torch would have raised.
    denominator = jnp.where(ignored, 0, jnp.where(in_range, w_t, jnp.nan))
    loss = -w_t * log_p
    if label_smoothing > 0:
        class_w = 1 if w is None else w.astype(acc).reshape((1, num_classes) + (1,) * (x.ndim - 2))
        total_w = num_classes if w is None else jnp.sum(w, dtype=acc)
        # sum_c w_c log p_c = sum_c w_c (x_c - max) - (sum_c w_c) log Z, both terms <= 0.
        # x + (-max) is x - max to the bit (up to a zero's sign, lost in the sum), but
        # not the expression exp() reads: shared, XLA would write it out in full
        # for this reduction instead of summing it as it is computed.
        smooth = total_w * log_z[:, 0] - jnp.sum(class_w * (wide + -top), axis=1)
        if reduction == "mean":
            # torch reduces the two terms separately, each over the kept targets'
            # weight: with a zero total weight its nll term is 0/0 = nan, which a
            # fused sum would turn into inf (the smoothing sum is not 0).
            denominator = denominator.astype(x.dtype)
            nll_mean = weighted_mean(_kept(loss, ignored, in_range, x.dtype), denominator, reduction)
            smooth_mean = weighted_mean(_kept(smooth, ignored, in_range, x.dtype), denominator, reduction)
            return (1 - label_smoothing) * nll_mean + (label_smoothing / num_classes) * smooth_mean
        loss = (1 - label_smoothing) * loss + (label_smoothing / num_classes) * smooth
    loss = _kept(loss, ignored, in_range, x.dtype)
    if unbatched and reduction == "none":
        return loss[0]
    return weighted_mean(loss, denominator.astype(x.dtype), reduction)


def _kept(loss: jax.Array, ignored: jax.Array, in_range: jax.Array, dtype: Any) -> jax.Array:
    """0 at ignored targets, nan at out-of-range ones (torch would have raised)."""
    return jnp.where(ignored, 0, jnp.where(in_range, loss, jnp.nan)).astype(dtype)


@jax.custom_jvp
def _pick(x: jax.Array, index: jax.Array) -> jax.Array:
    """``x[n, index[n, ...], ...]``: one gather along the class axis 1."""
    return jnp.take_along_axis(x, index[:, None], axis=1)[:, 0]


@_pick.defjvp
def _pick_jvp(primals, tangents):
    # The gather's own transpose is a scatter-add into a zeroed copy of the
    # input: a full extra write pass plus a serial scatter on CPU. Selecting the
    # tangent with a one-hot mask instead transposes to one fused elementwise
    # select that writes the gradient once, with the same numbers (the
    # gradient is the cotangent at the picked class and 0 elsewhere).
    (x, index), (t, _) = primals, tangents
    hit = jax.lax.broadcasted_iota(index.dtype, x.shape, 1) == index[:, None]
    return _pick(x, index), jnp.sum(jnp.where(hit, t, jnp.zeros((), t.dtype)), axis=1)


def _smoothing(label_smoothing: float) -> float:
    """A static label smoothing in [0, 1]; torch silently ignores negative values, jaxnn raises."""
    if isinstance(label_smoothing, jax.core.Tracer):
        raise TypeError("label_smoothing must be a Python float (a static option), not a traced value")
    label_smoothing = float(label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    return label_smoothing


def _soft_cross_entropy(
    x: jax.Array, y: jax.Array, weight: Optional[ArrayLike], reduction: str, label_smoothing: float
) -> jax.Array:
    """Cross entropy against class probabilities of the input's shape; 'mean' divides by N * d1 ... dk."""
    axis = 0 if x.ndim == 1 else 1
    num_classes = x.shape[axis]
    w = class_weight(weight, num_classes, "cross_entropy: ")
    _, shifted, log_z = _log_normalizer(x, axis=axis)
    acc = shifted.dtype
    y = y.astype(acc)
    if label_smoothing > 0:
        y = y * (1 - label_smoothing) + label_smoothing / num_classes
    if w is not None:
        y = y * w.astype(acc).reshape((num_classes,) + (1,) * (x.ndim - axis - 1))
    loss = -jnp.sum(y * (shifted - log_z), axis=axis).astype(x.dtype)
    return apply_reduction(loss, reduction)


def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Cross entropy between logits and class indices or class probabilities (torch's rules).

    With class indices ``y``, per element (``p = softmax(input)`` over dim 1)::

        l = (1 - eps) * (-w[y] log p[y]) + eps / C * (-sum_c w[c] log p[c])

    (``eps = label_smoothing``, ``w = 1`` without ``weight``), and ``l = 0``
    where ``y == ignore_index``. 'mean' divides the sum by ``sum w[y]`` over
    non-ignored elements (the count without ``weight``), for both terms; all
    elements ignored, or an empty batch, gives nan.

    With class probabilities ``q`` (a floating target of the input's shape)::

        l = -sum_c w[c] q'[c] log p[c],   q' = (1 - eps) q + eps / C

    and 'mean' divides by the number of elements N * d1 * ... * dk (not by the
    weights); ``ignore_index`` must stay negative.

    Args:
      input: logits ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
      target: integer class indices ``()``, ``(N,)`` or ``(N, d1, ..., dk)``
        (any integer dtype), or floating probabilities of ``input``'s shape.
      weight: optional ``(C,)`` rescaling weight per class.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      ignore_index: a target value that contributes nothing (any int, also a
        valid class).
      reduction: 'none' | 'mean' | 'sum'.
      label_smoothing: in [0, 1] (static).

    Returns:
      A scalar, or with 'none' the per-element loss of shape ``()``, ``(N,)``
      or ``(N, d1, ..., dk)``.

    An out-of-range index gives a nan loss (see :mod:`jaxnn.checks` for errors).
    The logits are read by one max and one log-sum-exp reduction; the target
    logit by a gather, with no one-hot of the logits' size.

    Reference: ``torch.nn.functional.cross_entropy`` (aten LossNLL.cpp).

    Example:
      >>> F.cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])).round(4)
      Array(1.3863, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    label_smoothing = _smoothing(label_smoothing)
    input = float_input(input, "input")
    target = as_array(target, "target")
    if input.ndim == 0:
        raise ValueError(f"cross_entropy: expected input with 1 or more dimensions, got {_describe(input)}")
    if tuple(target.shape) == tuple(input.shape):
        if not jnp.issubdtype(target.dtype, jnp.floating):
            raise TypeError(
                f"cross_entropy: a target of the input's shape holds class probabilities and needs a "
                f"floating dtype; got target of {_describe(target)} for input of {_describe(input)} "
                "(class indices have no class dim 1)"
            )
        if operator.index(ignore_index) >= 0:
            raise ValueError(
                f"cross_entropy: ignore_index={ignore_index} is not supported for class-probability "
                "(floating) targets"
            )
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise TypeError(
            f"cross_entropy: target of {_describe(target)} does not fit input of {_describe(input)}: "
            "class probabilities need a floating target of the input's shape, class indices an "
            "integer target without the class dim 1"
        )
    return _indexed(
        input, target, weight, ignore_index, reduction, label_smoothing, fn="cross_entropy", log_softmax=True
    )


def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Negative log-likelihood of class indices: ``-w[y] * input[y]`` per element.

    Elements with ``y == ignore_index`` give 0; 'mean' divides by the summed
    ``w[y]`` of the others (nan when all are ignored or the batch is empty).

    Args:
      input: log-probabilities ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
      target: integer class indices ``()``, ``(N,)`` or ``(N, d1, ..., dk)``.
      weight, size_average, ignore_index, reduce, reduction: as :func:`cross_entropy`.

    Returns:
      A scalar, or the per-element loss with 'none'.

    Reference: ``torch.nn.functional.nll_loss`` (aten LossNLL.cpp).

    Example:
      >>> F.nll_loss(jnp.log(jnp.array([[0.25, 0.75]])), jnp.array([1])).round(4)
      Array(0.2877, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    return _indexed(
        float_input(input, "input"),
        as_array(target, "target"),
        weight,
        ignore_index,
        reduction,
        0.0,
        fn="nll_loss",
        log_softmax=False,
    )


@jax.custom_vjp
def _bce(x: jax.Array, y: jax.Array) -> jax.Array:
    return (y - 1) * jnp.maximum(jnp.log1p(-x), -100.0) - y * jnp.maximum(jnp.log(x), -100.0)


def _bce_fwd(x, y):
    return _bce(x, y), (x, y)


def _bce_bwd(res, g):
    x, y = res
    # torch's binary_cross_entropy_backward and _target_backward: not the
    # derivative of the clamped forward, so inputs of exactly 0 and 1 get
    # +-1/EPSILON and the target -logit(x), unclamped.
    dx = (x - y) / jnp.maximum((1 - x) * x, _BCE_EPSILON)
    dy = jnp.log1p(-x) - jnp.log(x)
    return g * dx, g * dy


_bce.defvjp(_bce_fwd, _bce_bwd)


def _log_sigmoid(x: jax.Array, negated: bool = False) -> jax.Array:
    """``jax.nn.log_sigmoid`` of ``x`` (or of ``-x`` when ``negated``) with the same numbers.

    torch's ``min(x, 0) - log1p(exp(-|x|))``, without jax's nan select: made
    only of operations XLA's CPU reduction fusion accepts, so a loss built on
    it is summed as it is computed instead of being written out first. The
    negated form never builds ``-x``, which XLA would share with the
    gradient's sigmoid and write out in full.
    """
    low = -jnp.maximum(x, 0) if negated else jnp.minimum(x, 0)
    return low - jnp.log1p(jnp.exp(-jnp.abs(x)))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _logistic_loss(x: jax.Array, y: jax.Array, multilabel: bool) -> jax.Array:
    """Per-element loss of logits ``x`` and targets ``y``, in torch's operation order.

    ``multilabel=False``: binary_cross_entropy_with_logits' kernel,
    ``(1 - y) x - log_sigmoid(x)``; ``True``: multilabel_soft_margin_loss',
    ``-(y log_sigmoid(x) + (1 - y) log_sigmoid(-x))``.
    """
    # -(y - 1), not 1 - y: XLA would share the constant 1 with the gradient's
    # sigmoid and write a full array of ones for the forward reduction to read
    not_y = -(y - 1)
    if multilabel:
        return -(y * _log_sigmoid(x) + not_y * _log_sigmoid(x, negated=True))
    return not_y * x - _log_sigmoid(x)


@_logistic_loss.defjvp
def _logistic_loss_jvp(multilabel, primals, tangents):
    # torch's binary_cross_entropy_with_logits_backward, (sigmoid(x) - y) and -x
    # for the target; one fused pass over x and y instead of reusing a stored
    # log-sigmoid through jax's logaddexp rule. multilabel's target term keeps
    # the order of torch's autograd through its Python formula.
    (x, y), (tx, ty) = primals, tangents
    if multilabel:
        dy = ty * _log_sigmoid(x, negated=True) - ty * _log_sigmoid(x)
    else:
        dy = ty * -x
    return _logistic_loss(x, y, multilabel), tx * (jax.nn.sigmoid(x) - y) + dy


def _same_shape_target(input: jax.Array, target: jax.Array, message: str) -> None:
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(message.format(target=tuple(target.shape), input=tuple(input.shape)))


def _promoted(*arrays: jax.Array) -> jnp.dtype:
    """torch's result dtype of arithmetic on the arrays: the promotion of the floating ones."""
    return jnp.result_type(*(a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)))


def _upcast(*arrays: jax.Array) -> list[jax.Array]:
    """The arrays in the first one's accumulation dtype (float32 for half precision)."""
    acc = accumulation_dtype(arrays[0].dtype)
    return [a.astype(acc) for a in arrays]


def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Binary cross entropy of probabilities: ``-w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))``.

    Each log term is clamped at -100 as torch does, so ``x`` of exactly 0 or 1
    gives a finite loss; the gradient is torch's
    ``w (x - y) / max(x (1 - x), 1e-12)`` (so +-1e12 there), and w.r.t. the
    target ``-w logit(x)`` (infinite at 0 and 1, as in torch).

    Args:
      input: probabilities in [0, 1], any shape.
      target: same shape as ``input`` (a different shape raises, as torch).
      weight: optional, broadcastable to ``input``'s shape.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' is over all elements.

    Returns:
      A scalar, or ``input``'s shape with 'none'. Empty input: 'mean' is nan.

    torch raises for ``input`` or ``target`` outside [0, 1]; jaxnn does so only
    with :mod:`jaxnn.checks` on, and otherwise returns nan (input) or the
    formula's value (target).

    Reference: ``torch.nn.functional.binary_cross_entropy`` (aten Loss.cpp).

    Example:
      >>> F.binary_cross_entropy(jnp.array([0.5, 0.9]), jnp.array([1.0, 1.0])).round(4)
      Array(0.39929998, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = float_input(target, "target")
    _same_shape_target(
        input,
        target,
        "Using a target size {target} that is different to the input size {input} is deprecated. "
        "Please ensure they have the same size.",
    )
    checks.validate_interval(input, 0, 1, "input")
    checks.validate_interval(target, 0, 1, "target")
    x, y = _upcast(input, target)
    loss = _bce(x, y)
    if weight is not None:
        loss = loss * broadcasts_to(float_input(weight, "weight"), input.shape, "weight").astype(x.dtype)
    return apply_reduction(loss.astype(input.dtype), reduction)


def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    pos_weight: Optional[ArrayLike] = None,
) -> jax.Array:
    """Binary cross entropy of logits, torch's stable form::

        l = w ((1 - y) x - (1 + (pos_weight - 1) y) log_sigmoid(x))

    finite with finite gradients for logits of +-1e4.

    Args:
      input: logits, any shape.
      target: same shape as ``input``.
      weight: optional, broadcastable to ``input``'s shape.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' is over all elements.
      pos_weight: optional weight of positive examples, broadcast against
        ``input`` (NumPy rules from the last dim: a ``(C,)`` pos_weight of an
        ``(N, C)`` input weighs each class; use ``(C, 1, 1)`` for
        ``(N, C, H, W)``), as torch documents.

    Returns:
      A scalar, or ``input``'s shape with 'none', in ``target``'s dtype (as
      torch; the same as ``input``'s unless they differ). Empty input: 'mean'
      is nan.

    Reference: ``torch.nn.functional.binary_cross_entropy_with_logits`` (aten Loss.cpp).

    Example:
      >>> F.binary_cross_entropy_with_logits(jnp.zeros(2), jnp.array([1.0, 0.0])).round(4)
      Array(0.6931, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = as_array(target, "target")
    _same_shape_target(input, target, "Target size {target} must be the same as input size {input}")
    # torch's kernel builds the loss in place on (1 - target): the result has the (floating)
    # target's dtype, computed in the promotion of input and target; weights never widen it
    out_dtype = target.dtype if jnp.issubdtype(target.dtype, jnp.floating) else input.dtype
    x, y = _upcast(input.astype(_promoted(input, target)), target)
    if pos_weight is None:
        loss = _logistic_loss(x, y, False)
    else:
        pw = broadcasts_to(float_input(pos_weight, "pos_weight"), input.shape, "pos_weight").astype(x.dtype)
        loss = (1 - y) * x - jax.nn.log_sigmoid(x) * (1 + (pw - 1) * y)
    if weight is not None:
        loss = loss * broadcasts_to(float_input(weight, "weight"), input.shape, "weight").astype(x.dtype)
    return apply_reduction(loss.astype(out_dtype), reduction)


def soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Two-class logistic loss ``log(1 + exp(-y x))`` for targets ``y`` in {-1, 1}.

    Computed as a stable softplus: where torch's ``log1p(exp(-y x))``
    overflows (``-y x`` above ~88 in float32) torch returns inf with a nan
    gradient, jaxnn the finite value ``-y x`` and gradient ``-y``.

    Args:
      input: any shape.
      target: broadcastable to ``input``'s shape (any numeric dtype).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'.

    Returns:
      A scalar, or ``input``'s shape with 'none'. Empty input: 'mean' is nan.

    Reference: ``torch.nn.functional.soft_margin_loss`` (aten Loss.cpp).

    Example:
      >>> F.soft_margin_loss(jnp.zeros(2), jnp.array([1.0, -1.0])).round(4)
      Array(0.6931, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = broadcasts_to(as_array(target, "target"), input.shape, "target")
    x, y = _upcast(input, target)
    return apply_reduction(jax.nn.softplus(-x * y).astype(input.dtype), reduction)


def multilabel_soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """One-vs-all logistic loss averaged over the classes (the LAST dim, as torch)::

        l = -1/C sum_c w_c (y_c log_sigmoid(x_c) + (1 - y_c) log_sigmoid(-x_c))

    Args:
      input: ``(C,)`` or ``(N, C)`` (more leading dims work as in torch).
      target: 0/1 labels broadcastable with ``input`` (any numeric dtype).
      weight: optional, broadcastable (e.g. ``(C,)``).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' averages over N.

    Returns:
      A scalar, or the loss without the class dim with 'none'. Empty batch:
      'mean' is nan.

    Reference: ``torch.nn.functional.multilabel_soft_margin_loss`` (Python in torch).

    Example:
      >>> F.multilabel_soft_margin_loss(jnp.zeros((1, 3)), jnp.array([[1.0, 0.0, 1.0]])).round(4)
      Array(0.6931, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = as_array(target, "target")
    if input.ndim == 0:
        raise ValueError(f"multilabel_soft_margin_loss: input needs a class dim, got {_describe(input)}")
    weight = None if weight is None else float_input(weight, "weight")
    # torch's Python arithmetic: the result promotes input, target and weight
    out_dtype = _promoted(input, target, *([] if weight is None else [weight]))
    # broadcast both ways as torch's Python arithmetic does, with the arguments named on failure
    x, y = broadcast_all(_upcast(input.astype(out_dtype), target), ("input", "target"))
    loss = _logistic_loss(x, y, True)
    if weight is not None:
        loss, w = broadcast_all((loss, weight.astype(x.dtype)), ("input", "weight"))
        loss = loss * w
    loss = (jnp.sum(loss, axis=-1) / input.shape[-1]).astype(out_dtype)
    return apply_reduction(loss, reduction)


def _kernel_hinge(z: jax.Array) -> jax.Array:
    """max(0, z) as torch's margin kernels compute it, ``z if z > 0 else 0``.

    Gradient 0 at the margin, and a nan ``z`` (from inf - inf logits) counts as 0
    where a relu would keep the nan.
    """
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def _margin_layout(input: jax.Array, fn: str) -> tuple[int, int]:
    """(frames, classes) of a 0-d, ``(C,)`` or ``(N, C)`` input with ``C > 0`` (torch's shape check)."""
    if not (input.ndim == 0 or (input.ndim in (1, 2) and input.shape[-1] != 0)):
        raise ValueError(
            f"{fn}: expected non-empty vector or matrix with optional 0-dim batch size, got input "
            f"of {_describe(input)}"
        )
    if input.ndim == 2:
        return input.shape[0], input.shape[1]
    return 1, (input.shape[0] if input.ndim == 1 else 1)


def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[ArrayLike] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-class hinge loss (Weston-Watkins), per sample with class index ``y``::

        l = 1/C sum_{j != y} w[y] max(0, margin - x[y] + x[j])**p

    The hinge has torch's gradient 0 exactly at the margin.

    Args:
      input: ``(N, C)``, ``(C,)`` or a scalar, ``C > 0``.
      target: integer class indices with N elements (``(N,)``; ``()`` or
        ``(1,)`` when unbatched).
      p: 1 or 2.
      margin: the margin (default 1).
      weight: optional ``(C,)`` weight, taken at the target class.
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' averages over N.

    Returns:
      A scalar, or with 'none' ``(N,)`` (a scalar for a 0-d target). An empty
      batch's 'mean' is nan (torch returns an uninitialised number there).
      Out-of-range indices give nan (see :mod:`jaxnn.checks`).

    Reference: ``torch.nn.functional.multi_margin_loss`` (aten LossMultiMargin.cpp).

    Example:
      >>> F.multi_margin_loss(jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([3])).round(4)
      Array(0.325, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got p={p!r}")
    input = float_input(input, "input")
    target = class_target(target, "target")
    frames, num_classes = _margin_layout(input, "multi_margin_loss")
    if target.ndim > 1 or target.size != frames:
        raise ValueError(
            "multi_margin_loss: target should be 1-D with size equal to the number of input "
            f"samples ({frames}); got target of {_describe(target)} for input of {_describe(input)}"
        )
    if weight is not None:
        weight = float_input(weight, "weight")
        if weight.ndim > 1 or weight.size != num_classes:
            raise ValueError(
                f"multi_margin_loss: weight should have {num_classes} elements (one per class); "
                f"got weight of {_describe(weight)}"
            )
    x = input.reshape(frames, num_classes)
    t = target.reshape(frames)
    checks.validate_class_indices(t, num_classes)
    (x,) = _upcast(x)
    in_range = (t >= 0) & (t < num_classes)
    safe = jnp.where(in_range, t, 0)
    z = margin - _pick(x, safe)[:, None] + x
    hinge = _kernel_hinge(z)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight.astype(x.dtype).reshape(-1)[safe][:, None]
    hinge = jnp.where(jnp.arange(num_classes) == safe[:, None], 0, hinge)
    loss = jnp.sum(hinge, axis=1) / num_classes
    loss = jnp.where(in_range, loss, jnp.nan).astype(input.dtype)
    if reduction == "none":
        return loss.reshape(target.shape)
    return apply_reduction(loss, reduction)



def _slot_hinges(x: jax.Array, slot: jax.Array, targets: jax.Array, listed: jax.Array, is_target: jax.Array):
    """Slot ``slot``'s hinges ``1 - x[j] + x[i]`` over non-targets ``i``, and where they count (strictly > 0)."""
    j = jax.lax.dynamic_index_in_dim(targets, slot, axis=1, keepdims=True)
    valid = jax.lax.dynamic_index_in_dim(listed, slot, axis=1, keepdims=True)
    z = 1 - jnp.take_along_axis(x, j, axis=1) + x
    # A nan hinge (nan or inf - inf logits) fails the strict test and counts 0, as in torch.
    return j, z, (z > 0) & ~is_target & valid


def _slots_used(listed: jax.Array) -> jax.Array:
    return jnp.max(jnp.sum(listed, axis=1), initial=0)


def _target_mask(targets: jax.Array, listed: jax.Array, slots: jax.Array) -> jax.Array:
    """``mask[n, k]``: class k is one of row n's targets. One compare per slot, not an (N, C) scatter."""
    classes = jnp.arange(targets.shape[1])

    def mark(slot, mask):
        j = jax.lax.dynamic_index_in_dim(targets, slot, axis=1, keepdims=True)
        ok = jax.lax.dynamic_index_in_dim(listed, slot, axis=1, keepdims=True)
        return mask | ((classes == j) & ok)

    return jax.lax.fori_loop(0, slots, mark, jnp.zeros(targets.shape, bool))


@jax.custom_vjp
def _multilabel_hinge_sums(x: jax.Array, targets: jax.Array, listed: jax.Array, is_target: jax.Array) -> jax.Array:
    """Per row, ``sum_{slot} sum_{i not target} max(0, 1 - x[target[slot]] + x[i])`` (torch's kernel loop).

    One pass over the (N, C) scores per target slot, for as many slots as the
    longest target list in the batch: O(N |T| C) time and O(N C) memory, as
    torch's loop. The loop's trip count depends on the data, so reverse mode
    comes from a custom VJP whose gradient is accumulated in the same loop.
    """

    def body(slot, total):
        _, z, hit = _slot_hinges(x, slot, targets, listed, is_target)
        return total + jnp.sum(jnp.where(hit, z, 0), axis=1)

    return jax.lax.fori_loop(0, _slots_used(listed), body, jnp.zeros(x.shape[0], x.dtype))


def _multilabel_hinge_fwd(x, targets, listed, is_target):
    rows = jnp.arange(x.shape[0])[:, None]

    def body(slot, carry):
        total, grad = carry
        j, z, hit = _slot_hinges(x, slot, targets, listed, is_target)
        counted = hit.astype(x.dtype)
        grad = (grad + counted).at[rows, j].add(-jnp.sum(counted, axis=1, keepdims=True))
        return total + jnp.sum(jnp.where(hit, z, 0), axis=1), grad

    init = (jnp.zeros(x.shape[0], x.dtype), jnp.zeros_like(x))
    total, grad = jax.lax.fori_loop(0, _slots_used(listed), body, init)
    return total, grad


def _multilabel_hinge_bwd(grad, cotangent):
    return grad * cotangent[:, None], None, None, None


_multilabel_hinge_sums.defvjp(_multilabel_hinge_fwd, _multilabel_hinge_bwd)


def multilabel_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-label hinge loss; each sample's target classes are listed up to the first -1::

        l = 1/C sum_{j in targets} sum_{i not in targets} max(0, 1 - x[j] + x[i])

    A class listed twice counts twice, as in torch's kernel. Gradient 0 exactly
    at the hinge, as torch.

    Args:
      input: ``(N, C)``, ``(C,)`` or a scalar, ``C > 0``.
      target: integer, same shape as ``input`` (``C`` elements when unbatched):
        class indices, then -1 padding (entries after the first negative are
        ignored).
      size_average, reduce: deprecated; override ``reduction`` as in torch.
      reduction: 'none' | 'mean' | 'sum'; 'mean' averages over N.

    Returns:
      A scalar, or ``(N,)`` with 'none' (a scalar for unbatched input). An
      empty batch's 'mean' is nan (torch returns an uninitialised number).
      A listed index ``>= C`` gives nan; torch (and :mod:`jaxnn.checks`) reject
      any entry outside [-1, C).

    Time O(N |T| C) for the longest target list |T| in the batch, memory
    O(N C), as torch's kernel: one pass over the scores per target slot. The
    gradient is a custom VJP (the loop's length depends on the data), so
    forward-mode differentiation (``jax.jvp``) is not available for this loss.

    Reference: ``torch.nn.functional.multilabel_margin_loss`` (aten LossMultiLabelMargin.cpp).

    Example:
      >>> F.multilabel_margin_loss(jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([[3, 0, -1, 1]])).round(4)
      Array(0.84999996, dtype=float32)
    """
    reduction = resolve(reduction, size_average, reduce)
    input = float_input(input, "input")
    target = class_target(target, "target")
    frames, num_classes = _margin_layout(input, "multilabel_margin_loss")
    fits = (
        target.shape == input.shape
        if input.ndim == 2
        else target.ndim <= 1 and target.size == num_classes
    )
    if not fits:
        raise ValueError(
            f"multilabel_margin_loss: inconsistent target of {_describe(target)} for input of "
            f"{_describe(input)}"
        )
    x = input.reshape(frames, num_classes)
    t = target.reshape(frames, num_classes)
    checks.validate_class_indices(t, num_classes, low=-1)
    (x,) = _upcast(x)
    # Slots before each row's first negative entry list its targets.
    negative = t < 0
    stop = jnp.where(jnp.any(negative, axis=1), jnp.argmax(negative, axis=1), num_classes)
    listed = jnp.arange(num_classes) < stop[:, None]
    in_range = t < num_classes
    safe = jnp.where(listed & in_range, t, 0)
    is_target = _target_mask(safe, listed & in_range, _slots_used(listed))
    loss = _multilabel_hinge_sums(x, safe, listed, is_target) / num_classes
    loss = jnp.where(jnp.all(in_range | ~listed, axis=1), loss, jnp.nan).astype(input.dtype)
    if reduction == "none" and input.ndim < 2:
        return loss[0]
    return apply_reduction(loss, reduction)
