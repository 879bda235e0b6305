"""scaled_dot_product_attention against torch: masks of each kind, causal alignment,
grouped-query attention, fully masked rows, dropout's distribution, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxnn.functional as F
from tests.parity import assert_parity


def rand(*shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _bool_mask(shape, seed=1):
    return np.random.default_rng(seed).random(shape) > 0.3


CASES = {
    "bool_mask_broadcast": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 8), mask=("bool", (4, 5)), kw={}),
    "float_mask_per_batch": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 8), mask=("float", (2, 1, 4, 5)), kw={}),
    "causal_short_query": dict(q=(2, 2, 3, 8), k=(2, 2, 5, 8), v=(2, 2, 5, 8), kw=dict(is_causal=True)),
    "causal_long_query": dict(q=(1, 2, 6, 4), k=(1, 2, 3, 4), v=(1, 2, 3, 4), kw=dict(is_causal=True)),
    "causal_and_mask": dict(q=(1, 2, 4, 4), k=(1, 2, 5, 4), v=(1, 2, 5, 4), mask=("bool", (4, 5)), kw=dict(is_causal=True)),
    "fully_masked_row": dict(q=(2, 2, 4, 8), k=(2, 2, 5, 8), v=(2, 2, 5, 8), mask=("masked_row", (4, 5)), kw={}),
    "fully_masked_float_row": dict(q=(2, 2, 4, 8), k=(2, 2, 5, 8), v=(2, 2, 5, 8), mask=("masked_float_row", (4, 5)), kw={}),
    "gqa_scale": dict(q=(2, 4, 3, 8), k=(2, 2, 5, 8), v=(2, 2, 5, 8), kw=dict(enable_gqa=True, scale=0.3)),
    "three_dim": dict(q=(3, 4, 8), k=(3, 5, 8), v=(3, 5, 2), kw={}),
    "two_dim": dict(q=(4, 8), k=(5, 8), v=(5, 3), kw=dict(is_causal=True)),
}


def _mask(kind, shape, dtype):
    if kind == "bool":
        return _bool_mask(shape)
    if kind == "float":
        return rand(*shape, dtype=dtype, seed=3)
    m = _bool_mask(shape)
    m[1] = False
    if kind == "masked_row":
        return m
    return np.where(m, 0.0, -np.inf).astype(dtype)


@pytest.mark.parametrize("case", list(CASES))
def test_sdpa_matches_torch(case, float_dtype):
    c = CASES[case]
    args = [rand(*c["q"], dtype=float_dtype, seed=0), rand(*c["k"], dtype=float_dtype, seed=1),
            rand(*c["v"], dtype=float_dtype, seed=2)]
    if "mask" in c:
        args.append(_mask(*c["mask"], float_dtype))
    assert_parity(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention, args,
                  c["kw"], wrt=(0, 1, 2), jit=True)


def test_fully_masked_row_is_zero_with_zero_gradient():
    q, k, v = rand(1, 3, 4), rand(1, 5, 4, seed=1), rand(1, 5, 4, seed=2)
    mask = np.ones((3, 5), bool)
    mask[0] = False
    out, vjp = jax.vjp(jax.jit(lambda q: F.scaled_dot_product_attention(q, k, v, mask)), jnp.asarray(q))
    assert np.all(np.asarray(out[0, 0]) == 0)
    (g,) = vjp(jnp.ones_like(out))
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g[0, 0]) == 0)


def test_dropout_distribution():
    # value = ones: each output is the sum of the kept, rescaled probabilities (mean 1).
    L, S, p = 512, 16, 0.25
    q, k = rand(1, L, 4), rand(1, S, 4, seed=1)
    out = F.scaled_dot_product_attention(q, k, np.ones((1, S, 1), np.float32), dropout_p=p,
                                         dropout_key=jax.random.key(0))
    assert abs(float(out.mean()) - 1.0) < 0.05
    probs = F.scaled_dot_product_attention(q, k, np.eye(S, dtype=np.float32)[None], dropout_p=p,
                                           dropout_key=jax.random.key(1))
    assert abs(float(jnp.mean(probs == 0)) - p) < 0.02
    with pytest.raises(ValueError, match="dropout_key"):
        F.scaled_dot_product_attention(q, k, k, dropout_p=0.1)


def test_half_precision_accumulates_in_float32():
    q, k, v = rand(2, 4, 8), rand(2, 6, 8, seed=1), rand(2, 6, 8, seed=2)
    got = F.scaled_dot_product_attention(jnp.asarray(q, jnp.bfloat16), jnp.asarray(k, jnp.bfloat16),
                                         jnp.asarray(v, jnp.bfloat16))
    want = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a).bfloat16() for a in (q, k, v)))
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(got, np.float32), want.float().numpy(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize(
    "args, kw, match",
    [
        (((2, 3, 4), (2, 5, 6), (2, 5, 4)), {}, "last dim"),
        (((2, 3, 4), (2, 5, 4), (2, 6, 4)), {}, "sequence dim"),
        (((2, 3, 4), (5, 4), (5, 4)), {}, "same rank"),
        (((4,), (4,), (4,)), {}, "same rank"),
        (((2, 3, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8)), {}, "do not broadcast"),
        (((2, 3, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8)), dict(enable_gqa=True), "multiple"),
        (((2, 3, 4), (2, 5, 4), (2, 5, 4)), dict(attn_mask=np.ones((3, 4), bool)), "attn_mask shape"),
        (((2, 3, 4), (2, 5, 4), (2, 5, 4)), dict(attn_mask=np.ones((3, 5), np.int32)), "bool or floating"),
    ],
)
def test_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        F.scaled_dot_product_attention(*(np.zeros(s, np.float32) for s in args), **kw)


def test_linear_and_bilinear_match_torch(float_dtype):
    x, w, b = rand(3, 4, dtype=float_dtype), rand(5, 4, dtype=float_dtype, seed=1), rand(5, dtype=float_dtype, seed=2)
    assert_parity(F.linear, torch.nn.functional.linear, [x, w, b], wrt=(0, 1, 2), jit=True)
    assert_parity(F.linear, torch.nn.functional.linear, [x, w[0]], wrt=(0, 1), jit=True)
    x2, bw = rand(3, 6, dtype=float_dtype, seed=3), rand(5, 4, 6, dtype=float_dtype, seed=4)
    assert_parity(F.bilinear, torch.nn.functional.bilinear, [x, x2, bw, b], wrt=(0, 1, 2, 3), jit=True)
    with pytest.raises(ValueError, match="cannot be multiplied"):
        F.linear(x, rand(5, 3))
    with pytest.raises(ValueError, match="bias shape"):
        F.bilinear(x, x2, bw, rand(4))
