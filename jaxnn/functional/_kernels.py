"""The losses' custom derivatives and the forms written for XLA:CPU's fusion.

Each function computes the formula its docstring states; what it chooses is
the expression XLA is given (so that XLA:CPU fuses it) or the derivative rule
(torch's, or one that runs faster with the same numbers). The losses in ``nll.py``, ``logistic.py``,
``margin.py`` and ``regression.py`` call these and read as the math. The
chunked linear + cross-entropy kernel, which relies on ``lax.scan``, is
``_lce_kernel.py``.

The XLA:CPU behaviour relied on (observed with jax 0.10's XLA, not promised
by it: a loss benchmark that slows down after an upgrade starts here, and
``tests/functional/test_kernel_guard.py`` fails when a compiled loss gains a
full-size temporary array or a scatter, the symptom of an undone trick):

1. **A reduction absorbs the elementwise work that feeds it**: a loss summed
   by 'mean'/'sum' is computed inside the reduction's loop and never written
   out -- provided every operation in it is one the CPU reduction fusion
   accepts. A ``select`` (``jnp.where``, also inside ``jax.nn.log_sigmoid``)
   is not: the whole loss is then written to memory and read back (3-4x
   slower at 1e7 elements). Hence the *select-free primal values*: the value
   of a ``custom_jvp`` function is its select-free body when nothing
   differentiates, while its JVP rule computes the value its own way for the
   gradient pass.
2. **Common-subexpression elimination merges equal expressions across
   fusions**: an expression that both the forward reduction and the gradient
   (or two reductions) read becomes one array with two readers, which XLA
   writes out in full instead of recomputing it in each fusion. Spelling the
   same number another way keeps the fusions apart: ``x + (-y)`` for
   ``x - y``, ``-(y - 1)`` for ``1 - y`` (whose constant 1 would be shared as
   a full array of ones), ``-max(x, 0)`` for ``min(-x, 0)``. Each use says
   which sharing it avoids.
3. **An array's last reader may write over it**: huber's forward writes one
   array whose *sign bit records the branch* taken (negative on the linear
   side); the forward reduction reads its ``abs`` and the gradient reads it
   last, so the gradient takes its buffer instead of a fresh full-size one.
4. **A gather transposes to a scatter-add**, a zero-filled copy of the input
   plus a serial scatter on CPU. A JVP that selects the tangent with a one-hot
   compare transposes to one fused elementwise select instead (:func:`pick`).

The ``custom_vjp`` kernels are there for torch, not for XLA: torch's backward
is not the derivative of its forward (binary cross entropy's clamped logs), or
the loop's trip count depends on the data so JAX cannot reverse it
(multilabel margin).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "pick",
    "shifted_sum",
    "bce",
    "log_sigmoid",
    "logistic_loss",
    "slots_used",
    "target_mask",
    "multilabel_hinge_sums",
    "huber",
]

# torch's binary_cross_entropy_backward divides by max(x (1 - x), EPSILON), a
# C++ float: 1e-12 rounded to float32 even for float64 inputs.
_BCE_EPSILON = float(np.float32(1e-12))


@jax.custom_jvp
def pick(x: jax.Array, index: jax.Array) -> jax.Array:
    """``x[n, index[n, ...], ...]``: one gather along the class axis 1."""
    return jnp.take_along_axis(x, index[:, None], axis=1)[:, 0]


@pick.defjvp
def _pick_jvp(primals, tangents):
    # Rule 4: the tangent selected by a one-hot mask (the same numbers: the
    # gradient is the cotangent at the picked class and 0 elsewhere) transposes
    # to one fused select that writes the gradient once.
    (x, index), (t, _) = primals, tangents
    hit = jax.lax.broadcasted_iota(index.dtype, x.shape, 1) == index[:, None]
    return pick(x, index), jnp.sum(jnp.where(hit, t, jnp.zeros((), t.dtype)), axis=1)


def shifted_sum(weight, x: jax.Array, top: jax.Array) -> jax.Array:
    """``sum_c weight[c] * (x[c] - top)`` over axis 1 (``top`` keeps that axis).

    Rule 2: ``x + (-top)`` is ``x - top`` to the bit (up to a zero's sign, lost
    in the sum) but not the expression the log-sum-exp's ``exp`` reads: shared,
    XLA would write it out in full for this sum instead of summing it as it is
    computed.
    """
    return jnp.sum(weight * (x + -top), axis=1)


@jax.custom_vjp
def bce(x: jax.Array, y: jax.Array) -> jax.Array:
    """``(y - 1) max(log(1 - x), -100) - y max(log x, -100)`` with torch's gradients (below)."""
    return (y - 1) * jnp.maximum(jnp.log1p(-x), -100.0) - y * jnp.maximum(jnp.log(x), -100.0)


def _bce_fwd(x, y):
    return bce(x, y), (x, y)


def _bce_bwd(res, g):
    x, y = res
    # torch's binary_cross_entropy_backward and _target_backward: not the
    # derivative of the clamped forward, so inputs of exactly 0 and 1 get
    # +-1/EPSILON and the target -logit(x), unclamped.
    dx = (x - y) / jnp.maximum((1 - x) * x, _BCE_EPSILON)
    dy = jnp.log1p(-x) - jnp.log(x)
    return g * dx, g * dy


bce.defvjp(_bce_fwd, _bce_bwd)


def log_sigmoid(x: jax.Array, negated: bool = False) -> jax.Array:
    """``jax.nn.log_sigmoid`` of ``x`` (or of ``-x`` when ``negated``) with the same numbers.

    torch's ``min(x, 0) - log1p(exp(-|x|))``, without jax's nan select (rule 1),
    so a loss built on it is summed as it is computed. The negated form never
    builds ``-x``, which XLA would share with the gradient's sigmoid and write
    out in full (rule 2).
    """
    low = -jnp.maximum(x, 0) if negated else jnp.minimum(x, 0)
    return low - jnp.log1p(jnp.exp(-jnp.abs(x)))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def logistic_loss(x: jax.Array, y: jax.Array, multilabel: bool) -> jax.Array:
    """Per-element loss of logits ``x`` and targets ``y``, in torch's operation order.

    ``multilabel=False``: binary_cross_entropy_with_logits' kernel,
    ``(1 - y) x - log_sigmoid(x)``; ``True``: multilabel_soft_margin_loss',
    ``-(y log_sigmoid(x) + (1 - y) log_sigmoid(-x))``.
    """
    # Rule 2: -(y - 1), not 1 - y, whose constant 1 XLA would share with the
    # gradient's sigmoid and write as a full array of ones for this reduction
    not_y = -(y - 1)
    if multilabel:
        return -(y * log_sigmoid(x) + not_y * log_sigmoid(x, negated=True))
    return not_y * x - log_sigmoid(x)


@logistic_loss.defjvp
def _logistic_loss_jvp(multilabel, primals, tangents):
    # torch's binary_cross_entropy_with_logits_backward, (sigmoid(x) - y) and -x
    # for the target; one fused pass over x and y instead of reusing a stored
    # log-sigmoid through jax's logaddexp rule. multilabel's target term keeps
    # the order of torch's autograd through its Python formula.
    (x, y), (tx, ty) = primals, tangents
    if multilabel:
        dy = ty * log_sigmoid(x, negated=True) - ty * log_sigmoid(x)
    else:
        dy = ty * -x
    return logistic_loss(x, y, multilabel), tx * (jax.nn.sigmoid(x) - y) + dy


def _slot_hinges(x: jax.Array, slot: jax.Array, targets: jax.Array, listed: jax.Array, is_target: jax.Array):
    """Slot ``slot``'s hinges ``1 - x[j] + x[i]`` over non-targets ``i``, and where they count (strictly > 0)."""
    j = jax.lax.dynamic_index_in_dim(targets, slot, axis=1, keepdims=True)
    valid = jax.lax.dynamic_index_in_dim(listed, slot, axis=1, keepdims=True)
    z = 1 - jnp.take_along_axis(x, j, axis=1) + x
    # A nan hinge (nan or inf - inf logits) fails the strict test and counts 0, as in torch.
    return j, z, (z > 0) & ~is_target & valid


def slots_used(listed: jax.Array) -> jax.Array:
    """The longest target list in the batch: the multilabel loops' trip count."""
    return jnp.max(jnp.sum(listed, axis=1), initial=0)


def target_mask(targets: jax.Array, listed: jax.Array, slots: jax.Array) -> jax.Array:
    """``mask[n, k]``: class k is one of row n's targets. One compare per slot, not an (N, C) scatter."""
    classes = jnp.arange(targets.shape[1])

    def mark(slot, mask):
        j = jax.lax.dynamic_index_in_dim(targets, slot, axis=1, keepdims=True)
        ok = jax.lax.dynamic_index_in_dim(listed, slot, axis=1, keepdims=True)
        return mask | ((classes == j) & ok)

    return jax.lax.fori_loop(0, slots, mark, jnp.zeros(targets.shape, bool))


@jax.custom_vjp
def multilabel_hinge_sums(x: jax.Array, targets: jax.Array, listed: jax.Array, is_target: jax.Array) -> jax.Array:
    """Per row, ``sum_{slot} sum_{i not target} max(0, 1 - x[target[slot]] + x[i])`` (torch's kernel loop).

    One pass over the (N, C) scores per target slot, for as many slots as the
    longest target list in the batch: O(N |T| C) time and O(N C) memory, as
    torch's loop. The loop's trip count depends on the data, so reverse mode
    comes from a custom VJP whose gradient is accumulated in the same loop.
    """

    def body(slot, total):
        _, z, hit = _slot_hinges(x, slot, targets, listed, is_target)
        return total + jnp.sum(jnp.where(hit, z, 0), axis=1)

    return jax.lax.fori_loop(0, slots_used(listed), body, jnp.zeros(x.shape[0], x.dtype))


def _multilabel_hinge_fwd(x, targets, listed, is_target):
    rows = jnp.arange(x.shape[0])[:, None]

    def body(slot, carry):
        total, grad = carry
        j, z, hit = _slot_hinges(x, slot, targets, listed, is_target)
        counted = hit.astype(x.dtype)
        grad = (grad + counted).at[rows, j].add(-jnp.sum(counted, axis=1, keepdims=True))
        return total + jnp.sum(jnp.where(hit, z, 0), axis=1), grad

    init = (jnp.zeros(x.shape[0], x.dtype), jnp.zeros_like(x))
    total, grad = jax.lax.fori_loop(0, slots_used(listed), body, init)
    return total, grad


def _multilabel_hinge_bwd(grad, cotangent):
    return grad * cotangent[:, None], None, None, None


multilabel_hinge_sums.defvjp(_multilabel_hinge_fwd, _multilabel_hinge_bwd)


def _signed_huber(x: jax.Array, y: jax.Array, threshold: float, smooth: bool) -> jax.Array:
    """torch's huber kernel on ``d = x - y`` (or smooth_l1's), negated on the linear side.

    Written in torch's own operation order (smooth_l1 is not huber divided
    afterwards, which could overflow ``threshold * |d|`` before the division).
    The sign bit records the branch for the backward pass (rule 3): the
    forward reduction reads its ``abs`` (the exact value) and the gradient
    reads it back, its last use.
    """
    z = jnp.abs(x - y)
    t = jnp.asarray(threshold, z.dtype)
    if smooth:
        return jnp.where(z < t, 0.5 * z * z / t, -(z - 0.5 * t))
    return jnp.where(z < t, 0.5 * z * z, -(t * (z - 0.5 * t)))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def huber(x: jax.Array, y: jax.Array, threshold: float, smooth: bool) -> jax.Array:
    """huber_loss's (or smooth_l1_loss's) elementwise loss of ``x - y``.

    This body runs when nothing differentiates (evaluation); the JVP rule below
    computes the value its own way for the gradient pass. Huber's is select-free
    (rule 1) and still torch's numbers to the bit: with ``q = min(|d|, delta)``,
    ``q * (|d| - q/2)`` is ``(|d|/2) * |d|`` below delta (``|d| - |d|/2`` is
    exact) and ``delta * (|d| - delta/2)`` from delta on, nan and inf included.
    smooth_l1's linear piece ``|d| - beta/2`` has no such form.
    """
    if not smooth:
        z = jnp.abs(x - y)
        q = jnp.minimum(z, jnp.asarray(threshold, z.dtype))
        return q * (z - 0.5 * q)
    return jnp.abs(_signed_huber(x, y, threshold, smooth))


@huber.defjvp
def _huber_jvp(threshold, smooth, primals, tangents):
    # torch's huber/smooth_l1 backward kernels: the linear slope from |d| >= threshold
    # on (ties included), d itself inside. Differentiating the forward `where`
    # instead would give nan at d = +-inf (0 * inf from the unselected square).
    # The branch comes from the sign bit of the forward's array (-0 included; a
    # nan there is a nan d, whose slope is d), unless the threshold is 0 or inf
    # in this dtype, where the linear piece itself can be nan. d is x + (-y),
    # the same number as x - y (rule 2: a shared x - y would be written out in
    # full for both passes to read).
    (x, y), (tx, ty) = primals, tangents
    signed = _signed_huber(x, y, threshold, smooth)
    d = x + -y
    t = jnp.asarray(threshold, d.dtype)
    if 0 < np.asarray(threshold, d.dtype) < np.inf:
        linear = jnp.signbit(signed) & ~jnp.isnan(signed)
    else:
        linear = jnp.abs(d) >= t
    scale = jnp.ones_like(t) if smooth else t
    slope = jnp.where(linear, jnp.where(d > 0, scale, -scale), d / t if smooth else d)
    return jnp.abs(signed), slope * (tx - ty)
