"""MultiheadAttention against torch: every constructor option, each kind of mask
(fully masked rows included), need_weights / average_attn_weights, unbatched input,
batch_first both ways; keys, initialisation, dropout and bad input."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.nn import randn
from tests.nn._module_parity import assert_module_parity

E, H, L, S, N = 8, 2, 4, 5, 3


def _bool(shape, seed=1):
    return np.random.default_rng(seed).random(shape) < 0.3


CASES = {
    # name: (constructor kwargs, call kwargs builder, batched, self-attention)
    "default": (dict(), lambda d: dict(), True, False),
    "batch_first_self_attention": (dict(batch_first=True), lambda d: dict(need_weights=False), True, True),
    "bool_masks_per_head_weights": (
        dict(), lambda d: dict(key_padding_mask=_bool((N, S)), attn_mask=_bool((L, S), 2), average_attn_weights=False),
        True, False,
    ),
    "float_masks_sdpa_path": (
        dict(batch_first=True),
        lambda d: dict(key_padding_mask=randn(N, S, dtype=d, seed=5), attn_mask=randn(N * H, L, S, dtype=d, seed=6),
                       need_weights=False),
        True, False,
    ),
    "kdim_vdim_no_bias": (dict(kdim=6, vdim=3, bias=False), lambda d: dict(), True, False),
    "bias_kv_zero_attn_masks": (
        dict(add_bias_kv=True, add_zero_attn=True),
        lambda d: dict(key_padding_mask=_bool((N, S)), attn_mask=_bool((L, S), 2)), True, False,
    ),
    "unbatched": (dict(add_bias_kv=True), lambda d: dict(key_padding_mask=_bool((S,))), False, False),
    "causal_hint": (
        dict(batch_first=True),
        lambda d: dict(attn_mask=np.triu(np.ones((L, L), bool), 1), is_causal=True, need_weights=False), True, True,
    ),
}


def _inputs(batched, self_attn, batch_first, kdim, vdim, dtype):
    def shape(n, e):
        if not batched:
            return (n, e)
        return (N, n, e) if batch_first else (n, N, e)

    q = randn(*shape(L, E), dtype=dtype)
    if self_attn:
        return [q, q, q], (0,)
    return [q, randn(*shape(S, kdim), dtype=dtype, seed=1), randn(*shape(S, vdim), dtype=dtype, seed=2)], (0, 1, 2)


@pytest.mark.parametrize("case", list(CASES))
def test_mha_matches_torch(case, float_dtype):
    ctor, call, batched, self_attn = CASES[case]
    tmod = torch.nn.MultiheadAttention(E, H, **ctor)
    if float_dtype == "float64":
        tmod = tmod.double()
    with torch.no_grad():  # torch zeroes the biases at init: make them count
        for name, p in tmod.named_parameters():
            if "bias" in name:
                p.normal_()
    jmod = jaxnn.MultiheadAttention(E, H, **ctor, rngs=nnx.Rngs(0), dtype=float_dtype)
    inputs, wrt = _inputs(batched, self_attn, ctor.get("batch_first", False), ctor.get("kdim", E), ctor.get("vdim", E),
                          float_dtype)
    assert_module_parity(jmod, tmod, inputs, call(float_dtype), wrt=wrt)


def test_fully_masked_rows_as_torch():
    """need_weights=True: nan (a plain softmax of -inf), as torch; need_weights=False:
    zero attention, so the output is out_proj's bias, as torch's SDPA path."""
    tmod = torch.nn.MultiheadAttention(E, H)
    jmod = jaxnn.MultiheadAttention(E, H, rngs=nnx.Rngs(0))
    kpm = np.zeros((N, S), bool)
    kpm[1] = True
    q, k = randn(L, N, E), randn(S, N, E, seed=1)
    for need_weights in (True, False):
        assert_module_parity(jmod, tmod, [q, k, k], dict(key_padding_mask=kpm, need_weights=need_weights),
                             grads=False)
    out, _ = jmod(q, k, k, key_padding_mask=kpm, need_weights=False)
    np.testing.assert_allclose(out[:, 1], np.broadcast_to(np.asarray(jmod.out_proj.bias[...]), (L, E)))


def test_state_dict_keys_and_init():
    for kw in (dict(), dict(kdim=6, vdim=3, add_bias_kv=True), dict(bias=False)):
        t, j = torch.nn.MultiheadAttention(64, 4, **kw), jaxnn.MultiheadAttention(64, 4, **kw, rngs=nnx.Rngs(0))
        want = {k: tuple(v.shape) for k, v in t.state_dict().items()}
        assert {k: v.shape for k, v in jaxnn.state_dict(j).items()} == want
    j = jaxnn.MultiheadAttention(64, 4, add_bias_kv=True, rngs=nnx.Rngs(0))
    w = np.asarray(j.in_proj_weight[...])
    bound = math.sqrt(6.0 / (64 + 192))  # xavier-uniform on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.all(np.asarray(j.in_proj_bias[...]) == 0) and np.all(np.asarray(j.out_proj.bias[...]) == 0)
    ow = np.asarray(j.out_proj.weight[...])
    assert np.abs(ow).max() <= 1 / 8 and np.abs(ow).max() > 0.9 / 8  # Linear's U(+-1/sqrt(E))
    bk = np.concatenate([np.asarray(j.bias_k[...]).ravel(), np.asarray(j.bias_v[...]).ravel()])
    assert abs(bk.std() - math.sqrt(2.0 / 128)) < 0.4 * math.sqrt(2.0 / 128)  # xavier-normal on (1, 1, E)


def test_dropout_follows_the_rng_stream():
    jmod = jaxnn.MultiheadAttention(E, H, dropout=0.5, rngs=nnx.Rngs(0))
    x = randn(L, N, E)
    _, w1 = jmod(x, x, x, average_attn_weights=False)
    _, w2 = jmod(x, x, x, average_attn_weights=False)
    assert not np.allclose(w1, w2)  # a fresh mask each call
    frac = float(jnp.mean(w1 == 0))
    assert 0.3 < frac < 0.7
    jmod.eval()
    _, e1 = jmod(x, x, x)
    _, e2 = jmod(x, x, x)
    np.testing.assert_array_equal(e1, e2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, q, k: m(q[0], k, k), "key and value must be 2-D"),
        (lambda m, q, k: m(q[None], k[None], k[None]), "unbatched 2-D or batched 3-D"),
        (lambda m, q, k: m(q, k[:3], k), "does not match value shape"),
        (lambda m, q, k: m(q, k, k, key_padding_mask=np.zeros((N, S + 1), bool)), "key_padding_mask"),
        (lambda m, q, k: m(q, k, k, key_padding_mask=np.zeros((S,), bool)), "key_padding_mask must be 2-D"),
        (lambda m, q, k: m(q, k, k, attn_mask=np.zeros((L, S + 1), bool)), "2-D attn_mask has shape"),
        (lambda m, q, k: m(q, k, k, attn_mask=np.zeros((N, L, S), bool)), "3-D attn_mask has shape"),
        (lambda m, q, k: m(q, k, k, attn_mask=np.zeros((L, S), np.int32)), "only bool and floating"),
        (lambda m, q, k: m(q, k, k, is_causal=True), "is_causal needs attn_mask"),
        (lambda m, q, k: m(q[..., :6], k, k), "embedding dimension"),
    ],
)
def test_bad_input(call, match):
    m = jaxnn.MultiheadAttention(E, H, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=match):
        call(m, randn(L, N, E), randn(S, N, E, seed=1))


def test_bad_construction():
    with pytest.raises(ValueError, match="divisible"):
        jaxnn.MultiheadAttention(10, 3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="greater than 0"):
        jaxnn.MultiheadAttention(0, 1, rngs=nnx.Rngs(0))
