"""Attention: torch's ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Mask polarity differs between the two, as in torch: a boolean ``attn_mask`` of
``scaled_dot_product_attention`` is True where a query *may* attend; the boolean
``attn_mask`` / ``key_padding_mask`` of ``multi_head_attention_forward`` (and of
``MultiheadAttention`` and the Transformer layers) is True where attention is
*blocked*. Float masks are added to the scores in both.
"""

from __future__ import annotations

import math
import warnings
from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_HALF = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def _dropout(x: jax.Array, p: float, key: Optional[jax.Array], who: str) -> jax.Array:
    if p == 0.0:
        return x
    if p == 1.0:
        return jnp.zeros_like(x)
    if key is None:
        raise ValueError(f"{who}: dropout_p={p} needs randomness: pass dropout_key=jax.random.key(...)")
    keep = jax.random.bernoulli(key, 1.0 - p, x.shape)
    return x * jnp.where(keep, 1.0 / (1.0 - p), 0.0).astype(x.dtype)


def _safe_softmax(scores: jax.Array) -> jax.Array:
    """Softmax over the last axis whose rows of all -inf give 0 (and a 0 gradient), as
    torch's SDPA kernels do, where a plain softmax gives nan."""
    m = jnp.max(scores, axis=-1, keepdims=True)
    e = jnp.exp(scores - jnp.where(jnp.isfinite(m), m, 0.0))
    s = jnp.sum(e, axis=-1, keepdims=True)
    return e / jnp.where(s > 0, s, 1.0)


def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: Optional[ArrayLike] = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: Optional[float] = None,
    enable_gqa: bool = False,
    *,
    dropout_key: Optional[jax.Array] = None,
) -> jax.Array:
    """softmax(Q K^T * scale + M) V, torch's ``F.scaled_dot_product_attention``.

    Args:
      query: ``(*, Hq, L, E)`` (any number of leading dims, at least 2-D).
      key: ``(*, H, S, E)``; value: ``(*, H, S, Ev)``. Leading dims broadcast.
      attn_mask: broadcastable to ``(*, Hq, L, S)``. Boolean: True = may attend
        (False entries get -inf). Float: added to the scores.
      dropout_p: dropout on the attention probabilities, drawn from ``dropout_key``
        (a jaxnn keyword: JAX has no global generator). The distribution is
        torch's; the bits are not.
      is_causal: query i attends to keys j <= i, aligned at the top-left corner
        (``tril(ones(L, S))``) as torch, also when L != S. Combined with an
        ``attn_mask`` both apply (torch's CPU kernels do the same).
      scale: defaults to ``1 / sqrt(E)``.
      enable_gqa: grouped-query attention: key and value heads H divide Hq and
        each is shared by ``Hq // H`` consecutive query heads (torch's
        ``repeat_interleave``).

    Returns ``(*, Hq, L, Ev)``. A query whose every key is masked gets a zero
    output and a zero gradient, as torch's kernels give (not nan). Half
    precision computes the scores and softmax in float32, as torch's CPU kernel.

    >>> q = jnp.ones((2, 4, 3, 8)); kv = jnp.ones((2, 4, 5, 8))
    >>> scaled_dot_product_attention(q, kv, kv, is_causal=True).shape
    (2, 4, 3, 8)
    """
    q, k, v = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    who = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(
            f"{who}: query, key and value must have the same rank >= 2, got query {q.shape}, "
            f"key {k.shape}, value {v.shape}"
        )
    if k.shape[-1] != q.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"{who}: query {q.shape} and key {k.shape} must share the last dim, key and value {v.shape} "
            f"the sequence dim (-2)"
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{who}: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa and q.ndim >= 3:
        hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
        if hk == 0 or hv == 0 or hq % hk or hq % hv:
            raise ValueError(
                f"{who}: with enable_gqa the query heads ({hq}) must be a multiple of the key heads ({hk}) "
                f"and the value heads ({hv})"
            )
        k = jnp.repeat(k, hq // hk, axis=-3)
        v = jnp.repeat(v, hq // hv, axis=-3)
    try:
        batch = jnp.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{who}: the leading dims of query {q.shape}, key {k.shape} and value {v.shape} do not broadcast"
        ) from None
    L, S = q.shape[-2], k.shape[-2]
    mask = None
    if attn_mask is not None:
        mask = jnp.asarray(attn_mask)
        if mask.dtype != jnp.bool_ and not jnp.issubdtype(mask.dtype, jnp.floating):
            raise ValueError(f"{who}: attn_mask must be bool or floating, got dtype {mask.dtype}")
        try:
            jnp.broadcast_shapes(mask.shape, batch + (L, S))
        except ValueError:
            raise ValueError(
                f"{who}: attn_mask shape {mask.shape} does not broadcast to the scores' shape {batch + (L, S)}"
            ) from None
    dtype = jnp.result_type(q, k, v)
    compute = jnp.float32 if dtype in _HALF else dtype
    q, k, v = q.astype(compute), k.astype(compute), v.astype(compute)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ jnp.swapaxes(k, -1, -2)) * jnp.asarray(scale, compute)
    if is_causal:
        scores = jnp.where(jnp.tril(jnp.ones((L, S), bool)), scores, -jnp.inf)
    if mask is not None:
        scores = jnp.where(mask, scores, -jnp.inf) if mask.dtype == jnp.bool_ else scores + mask.astype(compute)
    probs = _dropout(_safe_softmax(scores), dropout_p, dropout_key, who)
    return (probs @ v).astype(dtype)


def _canonical_mask(mask: Optional[ArrayLike], name: str, dtype) -> Optional[jax.Array]:
    """torch's ``_canonical_mask``: a boolean mask (True = blocked) becomes 0 / -inf in ``dtype``."""
    if mask is None:
        return None
    m = jnp.asarray(mask)
    if m.dtype == jnp.bool_:
        return jnp.where(m, -jnp.inf, 0.0).astype(dtype)
    if not jnp.issubdtype(m.dtype, jnp.floating):
        raise ValueError(f"only bool and floating types of {name} are supported, got dtype {m.dtype}")
    return m


def _mask_dtype_warning(key_padding_mask, attn_mask, kpm_name: str, am_name: str) -> None:
    if key_padding_mask is not None and attn_mask is not None:
        if jnp.asarray(key_padding_mask).dtype != jnp.asarray(attn_mask).dtype:
            warnings.warn(
                f"Support for mismatched {kpm_name} and {am_name} is deprecated. Use same type for both instead.",
                UserWarning,
                stacklevel=3,
            )


# Long on purpose: torch's F.multi_head_attention_forward transcribed step by step, in its
# order, so that it reads side by side with torch's (the source of every check and branch).
def multi_head_attention_forward(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Optional[ArrayLike],
    in_proj_bias: Optional[ArrayLike],
    bias_k: Optional[ArrayLike],
    bias_v: Optional[ArrayLike],
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: ArrayLike,
    out_proj_bias: Optional[ArrayLike],
    training: bool = True,
    key_padding_mask: Optional[ArrayLike] = None,
    need_weights: bool = True,
    attn_mask: Optional[ArrayLike] = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Optional[ArrayLike] = None,
    k_proj_weight: Optional[ArrayLike] = None,
    v_proj_weight: Optional[ArrayLike] = None,
    static_k: Optional[ArrayLike] = None,
    static_v: Optional[ArrayLike] = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    dropout_key: Optional[jax.Array] = None,
) -> tuple[jax.Array, Optional[jax.Array]]:
    """torch's ``F.multi_head_attention_forward``: the whole of ``MultiheadAttention``.

    Shapes are sequence-first, as torch's functional form: query ``(L, N, E)``,
    key ``(S, N, kdim)``, value ``(S, N, vdim)``, or unbatched ``(L, E)``,
    ``(S, kdim)``, ``(S, vdim)``. With ``h = num_heads`` and ``d = E / h``:

        q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v
        head_i = softmax(q_i k_i^T / sqrt(d) + M) v_i
        output = concat(head_1..head_h) W_o^T + b_o

    ``in_proj_weight`` ``(3E, E)`` packs W_q, W_k, W_v (``use_separate_proj_weight``
    takes ``q/k/v_proj_weight`` instead); ``in_proj_bias`` ``(3E,)`` packs the
    biases. ``bias_k``/``bias_v`` ``(1, 1, E)`` append one learned key/value;
    ``add_zero_attn`` appends one zero key/value after the projection.
    ``static_k``/``static_v`` ``(N*h, S, d)`` replace the projected key/value.

    Masks: ``key_padding_mask`` ``(N, S)`` (``(S,)`` unbatched) and ``attn_mask``
    ``(L, S)`` or ``(N*h, L, S)``; boolean True = blocked, float = added. The
    two are summed. ``is_causal`` is torch's *hint* that ``attn_mask`` is the
    causal mask: it needs ``attn_mask``, and where torch then uses its causal
    kernel (no key_padding_mask, ``need_weights=False``) the causal mask
    replaces ``attn_mask``, as there.

    Returns ``(output, weights)``: output ``(L, N, E)`` (``(L, E)``); weights
    ``(N, L, S')`` averaged over heads, ``(N, h, L, S')`` with
    ``average_attn_weights=False``, or None when ``need_weights=False``.

    At the edges, as torch: a query whose every key is blocked gives nan with
    ``need_weights=True`` (a plain softmax of -inf) and a zero attention
    (output = out_proj bias) with ``need_weights=False`` (torch's SDPA kernel).
    Dropout (``training`` and ``dropout_p > 0``) is drawn from ``dropout_key``.
    """
    q_in, k_in, v_in = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    who = "multi_head_attention_forward"
    if q_in.ndim == 3:
        if k_in.ndim != 3 or v_in.ndim != 3:
            raise ValueError(
                f"{who}: for batched (3-D) query {q_in.shape}, key and value must be 3-D, got key {k_in.shape} "
                f"and value {v_in.shape}"
            )
        kpm_rank = 2
    elif q_in.ndim == 2:
        if k_in.ndim != 2 or v_in.ndim != 2:
            raise ValueError(
                f"{who}: for unbatched (2-D) query {q_in.shape}, key and value must be 2-D, got key {k_in.shape} "
                f"and value {v_in.shape}"
            )
        kpm_rank = 1
    else:
        raise ValueError(f"{who}: query must be unbatched 2-D or batched 3-D, got shape {q_in.shape}")
    if key_padding_mask is not None and jnp.ndim(key_padding_mask) != kpm_rank:
        raise ValueError(
            f"{who}: for a {q_in.ndim}-D query, key_padding_mask must be {kpm_rank}-D, got shape "
            f"{jnp.shape(key_padding_mask)}"
        )
    if attn_mask is not None and jnp.ndim(attn_mask) not in (2, 3):
        raise ValueError(f"{who}: attn_mask must be 2-D or 3-D, got shape {jnp.shape(attn_mask)}")
    batched = q_in.ndim == 3
    if not batched:
        q_in, k_in, v_in = q_in[:, None], k_in[:, None], v_in[:, None]
        if key_padding_mask is not None:
            key_padding_mask = jnp.asarray(key_padding_mask)[None]
    tgt_len, bsz, embed_dim = q_in.shape
    src_len = k_in.shape[0]
    if embed_dim != embed_dim_to_check:
        raise ValueError(f"{who}: expected embedding dimension {embed_dim_to_check}, got query {q_in.shape}")
    if num_heads <= 0 or embed_dim % num_heads:
        raise ValueError(f"{who}: embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if use_separate_proj_weight:
        if k_in.shape[:2] != v_in.shape[:2]:
            raise ValueError(
                f"{who}: key's sequence and batch dims {k_in.shape[:2]} do not match value's {v_in.shape[:2]}"
            )
    elif k_in.shape != v_in.shape:
        raise ValueError(f"{who}: key shape {k_in.shape} does not match value shape {v_in.shape}")
    if k_in.shape[1] != bsz:
        raise ValueError(f"{who}: query {q_in.shape} and key {k_in.shape} have different batch sizes")
    dtype = q_in.dtype

    _mask_dtype_warning(key_padding_mask, attn_mask, "key_padding_mask", "attn_mask")
    kpm = _canonical_mask(key_padding_mask, "key_padding_mask", dtype)
    if is_causal and attn_mask is None:
        raise ValueError(
            f"{who}: is_causal needs attn_mask (is_causal is a hint that attn_mask is the causal mask); "
            "Transformer.generate_square_subsequent_mask makes one"
        )
    use_causal_kernel = is_causal and kpm is None and not need_weights
    am = None if use_causal_kernel else _canonical_mask(attn_mask, "attn_mask", dtype)

    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{who}: use_separate_proj_weight needs q_proj_weight, k_proj_weight and v_proj_weight")
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = jnp.split(jnp.asarray(in_proj_bias), 3)
        q = linear(q_in, q_proj_weight, b_q)
        k = linear(k_in, k_proj_weight, b_k)
        v = linear(v_in, v_proj_weight, b_v)
    else:
        if in_proj_weight is None:
            raise ValueError(f"{who}: in_proj_weight is None but use_separate_proj_weight is False")
        w_q, w_k, w_v = jnp.split(jnp.asarray(in_proj_weight), 3)
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = jnp.split(jnp.asarray(in_proj_bias), 3)
        q, k, v = linear(q_in, w_q, b_q), linear(k_in, w_k, b_k), linear(v_in, w_v, b_v)

    if am is not None:
        if am.ndim == 2:
            if am.shape != (tgt_len, src_len):
                raise ValueError(f"{who}: the 2-D attn_mask has shape {am.shape}, but should be {(tgt_len, src_len)}")
            am = am[None]
        elif am.shape != (bsz * num_heads, tgt_len, src_len):
            raise ValueError(
                f"{who}: the 3-D attn_mask has shape {am.shape}, but should be {(bsz * num_heads, tgt_len, src_len)}"
            )

    def pad_last(m):
        return None if m is None else jnp.pad(m, [(0, 0)] * (m.ndim - 1) + [(0, 1)])

    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{who}: bias_k and bias_v must be given together")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise ValueError(f"{who}: bias_k/bias_v cannot be added to static_k/static_v")
        k = jnp.concatenate([k, jnp.broadcast_to(jnp.asarray(bias_k, k.dtype), (1, bsz, embed_dim))])
        v = jnp.concatenate([v, jnp.broadcast_to(jnp.asarray(bias_v, v.dtype), (1, bsz, embed_dim))])
        am, kpm = pad_last(am), pad_last(kpm)

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(1, 0, 2)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(1, 0, 2)
    else:
        k = jnp.asarray(static_k)
        if k.ndim != 3 or k.shape[0] != bsz * num_heads or k.shape[2] != head_dim:
            raise ValueError(f"{who}: static_k must be ({bsz * num_heads}, S, {head_dim}), got {k.shape}")
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(1, 0, 2)
    else:
        v = jnp.asarray(static_v)
        if v.ndim != 3 or v.shape[0] != bsz * num_heads or v.shape[2] != head_dim:
            raise ValueError(f"{who}: static_v must be ({bsz * num_heads}, S, {head_dim}), got {v.shape}")
    if add_zero_attn:
        k = jnp.concatenate([k, jnp.zeros((bsz * num_heads, 1, head_dim), k.dtype)], axis=1)
        v = jnp.concatenate([v, jnp.zeros((bsz * num_heads, 1, head_dim), v.dtype)], axis=1)
        am, kpm = pad_last(am), pad_last(kpm)
    src_len = k.shape[1]
    if kpm is not None:
        if kpm.shape != (bsz, src_len):
            raise ValueError(
                f"{who}: key_padding_mask must be (batch, source length) = {(bsz, src_len)} counting "
                f"bias_k and add_zero_attn columns, got {kpm.shape}"
            )
        kpm = jnp.broadcast_to(kpm[:, None, None, :], (bsz, num_heads, 1, src_len)).reshape(
            bsz * num_heads, 1, src_len
        )
        am = kpm if am is None else am + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * jnp.asarray(math.sqrt(1.0 / head_dim), q.dtype)) @ k.transpose(0, 2, 1)
        if am is not None:
            scores = scores + am
        weights = jax.nn.softmax(scores, axis=-1)
        weights = _dropout(weights, dropout_p, dropout_key, who)
        out = (weights @ v).transpose(1, 0, 2).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            out, weights = out[:, 0], weights[0]
        return out, weights

    if am is not None:
        am = am[None] if am.shape[0] == 1 else am.reshape(bsz, num_heads, -1, src_len)
    out = scaled_dot_product_attention(
        q.reshape(bsz, num_heads, tgt_len, head_dim),
        k.reshape(bsz, num_heads, src_len, head_dim),
        v.reshape(bsz, num_heads, src_len, head_dim),
        am,
        dropout_p,
        use_causal_kernel,
        dropout_key=dropout_key,
    )
    out = out.transpose(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    return (out if batched else out[:, 0]), None
