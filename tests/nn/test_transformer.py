"""The Transformer family against torch: each layer option (norm_first both ways,
relu / gelu / callable activations, batch_first both ways, bias, masks of each
kind, unbatched), the encoder-decoder Transformer and a GPT-2-style decoder that
load torch's state_dict and follow it over 5 AdamW steps; keys, clones, init,
dropout, torch's nested-tensor difference, bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx

import jaxnn
import jaxnn.functional as JF
from tests.nn import randn
from tests.nn._module_parity import assert_module_parity

D, H, FF, N, S, T = 8, 2, 16, 2, 5, 4
LOOSE = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11)}


def _seq(n, batch_first, dtype, seed=0):
    return randn(*((N, n, D) if batch_first else (n, N, D)), dtype=dtype, seed=seed)


def _pad(n, seed=3):
    m = np.zeros((N, n), bool)
    m[0, -2:] = True
    return m


def _both(tcls, jcls, dtype, *args, **kw):
    t = tcls(*args, dropout=0.0, **kw)
    jkw = dict(kw)
    if "activation" in kw and not isinstance(kw["activation"], str):
        jkw["activation"] = {torch.nn.functional.silu: JF.silu}[kw["activation"]]
    j = jcls(*args, dropout=0.0, **jkw, rngs=nnx.Rngs(0), dtype=dtype)
    return (t.double() if dtype == "float64" else t), j


ENCODER_CASES = {
    "post_norm_relu_float_masks": (dict(), lambda d: dict(src_mask=randn(S, S, dtype=d, seed=7))),
    "norm_first_gelu_batch_first_padding": (
        dict(activation="gelu", norm_first=True, batch_first=True), lambda d: dict(src_key_padding_mask=_pad(S))
    ),
    "callable_activation_no_bias_causal": (
        dict(activation=torch.nn.functional.silu, bias=False),
        lambda d: dict(src_mask=np.triu(np.ones((S, S), bool), 1), is_causal=True),
    ),
}


@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_encoder_layer_matches_torch(case, float_dtype):
    kw, call = ENCODER_CASES[case]
    t, j = _both(torch.nn.TransformerEncoderLayer, jaxnn.TransformerEncoderLayer, float_dtype, D, H, FF, **kw)
    assert_module_parity(j, t, [_seq(S, kw.get("batch_first", False), float_dtype)], call(float_dtype),
                         tol=LOOSE[float_dtype])


def test_encoder_layer_unbatched(x64):
    t, j = _both(torch.nn.TransformerEncoderLayer, jaxnn.TransformerEncoderLayer, "float64", D, H, FF)
    assert_module_parity(j, t, [randn(S, D, dtype="float64")], dict(src_key_padding_mask=np.arange(S) > 3),
                         tol=LOOSE["float64"])


DECODER_CASES = {
    "post_norm_masks": (
        dict(),
        lambda d: dict(tgt_mask=np.asarray(jaxnn.Transformer.generate_square_subsequent_mask(T)),
                       memory_key_padding_mask=_pad(S), tgt_is_causal=True),
    ),
    "norm_first_gelu_batch_first": (
        dict(norm_first=True, activation="gelu", batch_first=True),
        lambda d: dict(memory_mask=np.random.default_rng(0).random((T, S)) < 0.3, tgt_key_padding_mask=_pad(T)),
    ),
}


@pytest.mark.parametrize("case", list(DECODER_CASES))
def test_decoder_layer_matches_torch(case, float_dtype):
    kw, call = DECODER_CASES[case]
    bf = kw.get("batch_first", False)
    t, j = _both(torch.nn.TransformerDecoderLayer, jaxnn.TransformerDecoderLayer, float_dtype, D, H, FF, **kw)
    assert_module_parity(j, t, [_seq(T, bf, float_dtype), _seq(S, bf, float_dtype, seed=1)], call(float_dtype),
                         wrt=(0, 1), tol=LOOSE[float_dtype])


def _train_both(jmodel, tmodel, batch, jloss, tloss, steps=5):
    """Forward loss, every parameter's gradient at the first step, then the
    parameters after ``steps`` AdamW steps, jaxnn against torch (one compilation)."""
    jaxnn.load_state_dict(jmodel, tmodel.state_dict())
    # eps 1e-6: the key part of in_proj_bias has a zero true gradient (softmax is shift
    # invariant), so both sides' gradients there are rounding noise, which Adam with a
    # tiny eps would blow up into lr-sized steps in unrelated directions.
    tx = jaxnn.optim.AdamW(lr=1e-2, eps=1e-6, weight_decay=0.1)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=1e-2, eps=1e-6, weight_decay=0.1)
    graphdef, params, rest = nnx.split(jmodel, nnx.Param, ...)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state):
        loss, g = jax.value_and_grad(lambda p: jloss(nnx.merge(graphdef, p, rest, copy=True), *batch))(params)
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, g

    def flat(tree):
        return {".".join(map(str, k)): np.asarray(v) for k, v in nnx.to_flat_state(tree)}

    for i in range(steps):
        params, opt_state, jl, grads = step(params, opt_state)
        topt.zero_grad()
        tl = tloss(tmodel, *(torch.tensor(b) for b in batch))
        tl.backward()
        np.testing.assert_allclose(float(jl), tl.item(), rtol=1e-5)
        if i == 0:
            got = flat(grads)
            assert set(got) == {n for n, _ in tmodel.named_parameters()}
            for name, p in tmodel.named_parameters():
                np.testing.assert_allclose(got[name], p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=f"grad {name}")
        topt.step()
    got = flat(params)
    for name, p in tmodel.named_parameters():
        a, b = got[name], p.detach().numpy()
        if name.endswith("in_proj_bias"):  # leave out the key bias: its steps are amplified noise
            a, b = np.delete(a, np.s_[D : 2 * D]), np.delete(b, np.s_[D : 2 * D])
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5, err_msg=name)


def test_transformer_forward_gradients_and_five_adamw_steps():
    """torch's nn.Transformer (2 encoder layers, 1 decoder layer, batch_first, every
    kind of mask) loaded into jaxnn's."""
    t = torch.nn.Transformer(D, H, 2, 1, FF, dropout=0.0, batch_first=True)
    j = jaxnn.Transformer(D, H, 2, 1, FF, dropout=0.0, batch_first=True, rngs=nnx.Rngs(0))
    src, tgt, y = _seq(S, True, "float32"), _seq(T, True, "float32", seed=1), randn(N, T, D, seed=2)
    mask = np.asarray(jaxnn.Transformer.generate_square_subsequent_mask(T))
    masks = dict(tgt_mask=mask, src_key_padding_mask=_pad(S), memory_key_padding_mask=_pad(S))

    def jloss(m, src, tgt, y):
        return jnp.mean((m(src, tgt, **masks) - y) ** 2)

    def tloss(m, src, tgt, y):
        return torch.mean((m(src, tgt, **{k: torch.tensor(v) for k, v in masks.items()}) - y) ** 2)

    _train_both(j, t, (src, tgt, y), jloss, tloss)


class TorchGPT(torch.nn.Module):
    def __init__(self, vocab, ctx):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(vocab, D), torch.nn.Embedding(ctx, D)
        layer = torch.nn.TransformerEncoderLayer(D, H, FF, 0.0, "gelu", batch_first=True, norm_first=True)
        self.h = torch.nn.TransformerEncoder(layer, 2, torch.nn.LayerNorm(D), enable_nested_tensor=False)
        self.lm_head = torch.nn.Linear(D, vocab, bias=False)

    def forward(self, idx):
        n = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(n))
        mask = torch.nn.Transformer.generate_square_subsequent_mask(n)
        return self.lm_head(self.h(x, mask=mask, is_causal=True))


class JaxGPT(jaxnn.Module):
    def __init__(self, vocab, ctx, rngs):
        self.wte, self.wpe = jaxnn.Embedding(vocab, D, rngs=rngs), jaxnn.Embedding(ctx, D, rngs=rngs)
        layer = jaxnn.TransformerEncoderLayer(D, H, FF, 0.0, "gelu", batch_first=True, norm_first=True, rngs=rngs)
        self.h = jaxnn.TransformerEncoder(layer, 2, jaxnn.LayerNorm(D), enable_nested_tensor=False)
        self.lm_head = jaxnn.Linear(D, vocab, bias=False, rngs=rngs)

    def __call__(self, idx):
        n = idx.shape[1]
        x = self.wte(idx) + self.wpe(jnp.arange(n))
        mask = jaxnn.Transformer.generate_square_subsequent_mask(n)
        return self.lm_head(self.h(x, mask=mask, is_causal=True))


def test_gpt2_style_decoder_forward_gradients_and_five_adamw_steps():
    """Token and position embeddings, pre-norm gelu layers under a causal mask, a final
    LayerNorm and an untied head: loads torch's state_dict and trains as torch."""
    vocab, ctx = 11, 6
    t, j = TorchGPT(vocab, ctx), JaxGPT(vocab, ctx, nnx.Rngs(0))
    assert list(jaxnn.state_dict(j)) == list(t.state_dict())
    idx = np.random.default_rng(0).integers(0, vocab, (N, ctx))

    def jloss(m, idx):
        logits = m(idx[:, :-1])
        return JF.cross_entropy(logits.reshape(-1, vocab), idx[:, 1:].reshape(-1))

    def tloss(m, idx):
        logits = m(idx[:, :-1])
        return torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), idx[:, 1:].reshape(-1))

    _train_both(j, t, (idx,), jloss, tloss)


def test_keys_clones_and_init():
    t = torch.nn.Transformer(16, 2, 2, 1, 32)
    j = jaxnn.Transformer(16, 2, 2, 1, 32, rngs=nnx.Rngs(0))
    assert list(jaxnn.state_dict(j)) == list(t.state_dict())
    sd = jaxnn.state_dict(j)
    w = sd["encoder.layers.0.linear1.weight"]  # xavier-uniform (32, 16) after Transformer's reset
    bound = math.sqrt(6 / 48)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not np.array_equal(w, sd["encoder.layers.1.linear1.weight"])
    # Biases are not redrawn: the deep copies keep the same ones, as torch's.
    np.testing.assert_array_equal(sd["encoder.layers.0.linear1.bias"], sd["encoder.layers.1.linear1.bias"])
    # A bare TransformerEncoder's layers are deep copies: equal weights, as torch's _get_clones.
    layer = jaxnn.TransformerEncoderLayer(16, 2, 32, rngs=nnx.Rngs(1))
    enc = jaxnn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    e = jaxnn.state_dict(enc)
    np.testing.assert_array_equal(e["layers.0.self_attn.in_proj_weight"], e["layers.1.self_attn.in_proj_weight"])
    assert list(e) == list(torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(16, 2, 32), 2,
                                                       enable_nested_tensor=False).state_dict())
    m = np.asarray(jaxnn.Transformer.generate_square_subsequent_mask(4))
    np.testing.assert_array_equal(m, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_dropout_train_random_eval_deterministic():
    layer = jaxnn.TransformerEncoderLayer(D, H, FF, dropout=0.5, rngs=nnx.Rngs(0))
    enc = jaxnn.TransformerEncoder(layer, 2)
    # Each clone has its own dropout streams: the layers draw different masks.
    keys = [np.asarray(jax.random.key_data(layer_.dropout.rngs.key[...])) for layer_ in enc.layers]
    assert not np.array_equal(keys[0], keys[1])
    x = _seq(S, False, "float32")

    @jax.jit
    def run(state):
        m = nnx.merge(graphdef, state)
        return m(x), nnx.state(m)

    graphdef, state = nnx.split(enc)
    y1, state = run(state)
    y2, _ = run(state)
    assert not np.allclose(y1, y2)  # the stream advances: a fresh mask each call
    enc.eval()
    graphdef, state = nnx.split(enc)
    np.testing.assert_array_equal(run(state)[0], run(state)[0])


def test_eval_padding_differs_from_torch_nested_path_only_at_padded_positions():
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True), 2).eval()
    j = jaxnn.TransformerEncoder(jaxnn.TransformerEncoderLayer(D, H, FF, batch_first=True, rngs=nnx.Rngs(0)), 2)
    jaxnn.load_state_dict(j, t.state_dict())
    j.eval()
    x, pad = _seq(S, True, "float32"), _pad(S)
    with torch.no_grad():
        want = t(torch.tensor(x), src_key_padding_mask=torch.tensor(pad)).numpy()
    got = np.asarray(j(x, src_key_padding_mask=pad))
    np.testing.assert_allclose(got[~pad], want[~pad], rtol=1e-4, atol=1e-5)
    assert np.all(want[pad] == 0) and not np.all(got[pad] == 0)


def test_bad_input():
    j = jaxnn.Transformer(D, H, 1, 1, FF, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="batch number"):
        j(_seq(S, False, "float32"), randn(T, N + 1, D))
    with pytest.raises(ValueError, match="d_model"):
        j(_seq(S, False, "float32"), randn(T, N, D + 1))
    with pytest.raises(ValueError, match="relu/gelu"):
        jaxnn.TransformerEncoderLayer(D, H, activation="tanh", rngs=nnx.Rngs(0))
    layer = jaxnn.TransformerEncoderLayer(D, H, FF, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="attn_mask"):
        layer(_seq(S, False, "float32"), src_mask=np.zeros((S, S + 1), bool))
    with pytest.raises(ValueError, match="divisible"):
        jaxnn.TransformerDecoderLayer(9, 2, rngs=nnx.Rngs(0))
