"""The chunked linear + cross-entropy kernels: per-row ``logsumexp(z) - z[y]`` with
``z = x W^T + b``, never holding more than one ``(chunk, C)`` block of logits.

XLA behaviour relied on: a ``lax.scan`` body is compiled once and its per-step
temporaries are reused across steps, so the peak is one block, not N/chunk of
them.

Two custom VJPs, one per kind of caller:

* :func:`chunked_nll` (``reduction='none'``): the per-row losses. Its cotangent
  ``g`` is a vector known only in the backward pass, so the backward recomputes
  each block (one extra matmul per block: 4 per block under differentiation)
  instead of saving it, the trade torch's chunked op makes for 'none'; the
  forward saves only the row log-sum-exps.
* :func:`chunked_weighted_nll_sum` ('mean' and 'sum'): ``S = sum_i coef_i nll_i``,
  a scalar. Its gradient is linear in the scalar cotangent ``g``, so, as fused
  linear-cross-entropy kernels (Liger's) do, the forward rule computes the
  gradient for ``g = 1`` in the same pass as the loss: per block ``z``, ``lse``,
  ``nll``, ``p = exp(z - lse)``, ``dz = (p - onehot(y)) * coef``, ``dx_c = dz W``,
  ``dW += dz^T x_c``, ``db += sum_rows dz`` (3 matmuls per block), and saves
  ``dx (N, d)`` (the input's size and dtype), ``dW``, ``db`` and ``nll``. The
  backward only scales them by ``g`` and returns ``g * nll`` for ``coef``, so a
  gradient w.r.t. the row weights (torch's class ``weight``) still flows. Why:
  the recomputation costs a quarter of the matmuls, and what is saved instead is
  no larger than the gradients the backward returns anyway, so the peak is
  still one block (XLA's temporary memory of ``value_and_grad`` is unchanged).
  A call that is not differentiated runs the cheap forward (no gradient work).
  'mean' passes ``coef = w_i / sum(w)``, so that ``g`` is 1 and a half input's
  ``dx`` is rounded once.

Half-precision inputs (float16/bfloat16) accumulate logits, ``dz``, ``dW`` and
``db`` in float32 (``_acc``); ``dx`` is cast to the input dtype per block, as
the gradient of a half input is.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

_HALF = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def _acc(dtype):
    return jnp.float32 if jnp.dtype(dtype) in _HALF else dtype


def _blocks(x: jax.Array, chunk: int) -> jax.Array:
    n = x.shape[0]
    pad = -n % chunk
    x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))
    return x.reshape((n + pad) // chunk, chunk, *x.shape[1:])


def _logits(xc, w, b):
    acc = _acc(xc.dtype)
    return lax.dot_general(xc, w, (((1,), (1,)), ((), ())), preferred_element_type=acc) + b.astype(acc)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def chunked_nll(x: jax.Array, w: jax.Array, b: jax.Array, target: jax.Array, chunk: int) -> jax.Array:
    """Per-row ``logsumexp(x_i W^T + b) - (x_i W^T + b)[target_i]``, shape ``(N,)``, in the
    accumulation dtype (float32 for half inputs). ``target`` must be in ``[0, C)``."""
    return _forward(x, w, b, target, chunk)[0]


def _forward(x, w, b, target, chunk):
    n = x.shape[0]

    def block(args):
        xc, tc = args
        z = _logits(xc, w, b)
        lse = jax.nn.logsumexp(z, axis=-1)
        return lse, lse - jnp.take_along_axis(z, tc[:, None], axis=-1)[:, 0]

    lse, nll = lax.map(block, (_blocks(x, chunk), _blocks(target, chunk)))
    return nll.reshape(-1)[:n], lse.reshape(-1)[:n]


def _fwd(x, w, b, target, chunk):
    nll, lse = _forward(x, w, b, target, chunk)
    return nll, (x, w, b, target, lse)


def _bwd(chunk, res, g):
    x, w, b, target, lse = res
    n, acc = x.shape[0], _acc(x.dtype)

    def block(carry, args):
        dw, db = carry
        xc, tc, lc, gc = args
        p = jnp.exp(_logits(xc, w, b) - lc[:, None])
        dz = (p - jax.nn.one_hot(tc, w.shape[0], dtype=acc)) * gc[:, None].astype(acc)
        dx = (dz @ w.astype(acc)).astype(x.dtype)
        return (dw + dz.T @ xc.astype(acc), db + dz.sum(0)), dx

    zeros = (jnp.zeros(w.shape, acc), jnp.zeros(b.shape, acc))
    blocks = (_blocks(x, chunk), _blocks(target, chunk), _blocks(lse, chunk), _blocks(g, chunk))
    (dw, db), dx = lax.scan(block, zeros, blocks)
    return dx.reshape(-1, x.shape[1])[:n], dw.astype(w.dtype), db.astype(b.dtype), None


chunked_nll.defvjp(_fwd, _bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def chunked_weighted_nll_sum(
    x: jax.Array, w: jax.Array, b: jax.Array, target: jax.Array, coef: jax.Array, chunk: int
) -> jax.Array:
    """``sum_i coef_i * nll_i`` with ``nll_i`` as :func:`chunked_nll`'s, a scalar in the
    accumulation dtype; ``coef`` is ``(N,)`` in that dtype (0 for an ignored row).
    ``target`` must be in ``[0, C)``. Differentiated, it does 3 matmuls per block
    (the gradient is computed in the forward pass and scaled in the backward).

    >>> x, w, b = jnp.ones((3, 2)), jnp.ones((4, 2)), jnp.zeros(4)
    >>> s = chunked_weighted_nll_sum(x, w, b, jnp.array([0, 1, 2]), jnp.array([1.0, 1.0, 0.0]), 2)
    >>> round(float(s), 4)  # 2 * log(4)
    2.7726
    """
    nll = _forward(x, w, b, target, chunk)[0]
    return (nll * coef).sum()


def _wfwd(x, w, b, target, coef, chunk):
    n, acc = x.shape[0], _acc(x.dtype)

    def block(carry, args):
        dw, db = carry
        xc, tc, cc = args
        z = _logits(xc, w, b)
        lse = jax.nn.logsumexp(z, axis=-1)
        nll = lse - jnp.take_along_axis(z, tc[:, None], axis=-1)[:, 0]
        p = jnp.exp(z - lse[:, None])
        dz = (p - jax.nn.one_hot(tc, w.shape[0], dtype=acc)) * cc[:, None]
        dx = (dz @ w.astype(acc)).astype(x.dtype)
        return (dw + dz.T @ xc.astype(acc), db + dz.sum(0)), (nll, dx)

    zeros = (jnp.zeros(w.shape, acc), jnp.zeros(b.shape, acc))
    # The padded rows of the last block get coef 0: they add nothing to S, dW or db.
    blocks = (_blocks(x, chunk), _blocks(target, chunk), _blocks(coef.astype(acc), chunk))
    (dw, db), (nll, dx) = lax.scan(block, zeros, blocks)
    nll = nll.reshape(-1)[:n]
    return (nll * coef).sum(), (dx.reshape(-1, x.shape[1])[:n], dw, db, nll, w, b, coef)


def _wbwd(chunk, res, g):
    dx, dw, db, nll, w, b, coef = res  # w, b, coef: the inputs, kept for their dtypes
    return (
        (g * dx).astype(dx.dtype),
        (g * dw).astype(w.dtype),
        (g * db).astype(b.dtype),
        None,
        (g * nll).astype(coef.dtype),
    )


chunked_weighted_nll_sum.defvjp(_wfwd, _wbwd)
