"""linear_cross_entropy against torch 2.13 (reference and chunked paths, values and
gradients, the class weight's included), the chunked path's memory bound, matmuls
per block, half-precision accumulation and transformations, LinearCrossEntropyLoss
and AdaptiveLogSoftmaxWithLoss."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
import jaxnn.functional as F
from jaxnn import LinearCrossEntropyOptions
from tests.nn._module_parity import assert_module_parity
from tests.parity import assert_parity, tolerance

N, D, C = 13, 6, 11


def _data(dtype, seed=0):
    r = np.random.default_rng(seed)
    x, w, b = (r.standard_normal(s).astype(dtype) for s in ((N, D), (C, D), (C,)))
    t = r.integers(0, C, N)
    t[2] = -100
    t[5] = 3
    return x, w, b, t, r.random(C).astype(dtype)


CASES = [
    dict(reduction="mean", weight=True, bias=True),
    dict(reduction="sum", bias=True, ignore_index=3),
    dict(reduction="none", weight=True),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("chunk", [None, 4])
def test_matches_torch(case, chunk, float_dtype):
    c = CASES[case]
    x, w, b, t, cw = _data(float_dtype)
    kw = dict(reduction=c["reduction"], weight=cw if c.get("weight") else None)
    if "ignore_index" in c:
        kw["ignore_index"] = c["ignore_index"]
        t = np.where(t == -100, c["ignore_index"], t)
    options = None if chunk is None else LinearCrossEntropyOptions(batch_chunk_size=chunk)
    args, wrt = ([x, w, b], (0, 1, 2)) if c.get("bias") else ([x, w], (0, 1))

    def jfn(x, w, b=None):
        return F.linear_cross_entropy(x, w, t, linear_bias=b, options=options, **kw)

    def tfn(x, w, b=None):
        tkw = dict(kw, weight=None if kw["weight"] is None else torch.tensor(cw))
        return torch.nn.functional.linear_cross_entropy(x, w, torch.tensor(t), linear_bias=b, **tkw)

    assert_parity(jfn, tfn, args, wrt=wrt, jit=True)


def test_reference_path_options_torch_supports(float_dtype):
    """Probability targets, label smoothing, a K-dimensional weight, unbatched input."""
    r = np.random.default_rng(1)
    x, w = r.standard_normal((N, D)).astype(float_dtype), r.standard_normal((C, 3, D)).astype(float_dtype)
    tk = r.integers(0, C, (N, 3))
    p = r.random((N, C)).astype(float_dtype)
    cases = [
        ([x, w[:, 0]], dict(target=p / p.sum(1, keepdims=True), label_smoothing=0.1)),
        ([x, w], dict(target=tk)),
        ([x[0], w[:, 0]], dict(target=np.asarray(4), label_smoothing=0.2)),
    ]
    for args, kw in cases:
        t = kw.pop("target")
        assert_parity(lambda x, w: F.linear_cross_entropy(x, w, t, **kw),
                      lambda x, w: torch.nn.functional.linear_cross_entropy(x, w, torch.tensor(t), **kw),
                      args, wrt=(0, 1), jit=True)
    with pytest.warns(UserWarning, match="options"):
        F.linear_cross_entropy(x, w[:, 0], tk[:, 0], label_smoothing=0.1, options=LinearCrossEntropyOptions())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_chunked_path_holds_one_block_of_logits(reduction):
    """XLA's temporary memory: the chunked path's is far below the (N, C) logits the
    reference path materialises (and differentiates through), for the fused kernel
    ('mean', 'sum': its saved dx is (N, d)) as for the recomputing one ('none')."""
    n, d, c = 2048, 64, 4096
    x, w = jnp.zeros((n, d)), jnp.zeros((c, d))
    t = jnp.zeros((n,), jnp.int32)

    def temp(options):
        def loss(x, w):
            return F.linear_cross_entropy(x, w, t, reduction=reduction, options=options).sum()

        f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
        return f.lower(x, w).compile().memory_analysis().temp_size_in_bytes

    logits_bytes = n * c * 4
    reference, chunked = temp(None), temp(LinearCrossEntropyOptions(batch_chunk_size=128))
    assert reference >= logits_bytes
    assert chunked < logits_bytes / 4 and chunked * 4 < reference


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_chunked_matmuls_per_block(reduction):
    """Differentiated, 'mean' and 'sum' compute the loss and its gradient in one scan
    (3 matmuls a block: logits, dx, dW); 'none' recomputes the logits in its backward
    (4). Undifferentiated, the forward alone (1). A 4 for 'mean'/'sum' means the
    fused kernel (_lce_kernel.chunked_weighted_nll_sum) is no longer used."""
    x, w, b, t, cw = _data("float32")
    opts = LinearCrossEntropyOptions(batch_chunk_size=4)

    def loss(x, w, b, cw):
        return F.linear_cross_entropy(x, w, t, linear_bias=b, weight=cw, reduction=reduction, options=opts).sum()

    def dots(f):
        return str(jax.make_jaxpr(f)(x, w, b, cw)).count("dot_general")

    assert dots(jax.value_and_grad(loss, argnums=(0, 1, 2, 3))) == (4 if reduction == "none" else 3)
    assert dots(loss) == 1


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [4, 5, 13])
def test_chunked_gradient_wrt_class_weight(reduction, chunk, float_dtype):
    """The chunked path's gradients w.r.t. input, weight, bias and the class ``weight``
    (which torch does not differentiate: the torch side is the formula), for chunks
    that pad the last block (13 rows: 3 and 2 padded rows) and for one chunk."""
    x, w, b, t, cw = _data(float_dtype)
    t = np.where((t == -100) | (np.arange(N) == 7), 3, t)  # rows 2, 5, 7 ignored
    opts = LinearCrossEntropyOptions(batch_chunk_size=chunk)

    def jfn(x, w, b, cw):
        return F.linear_cross_entropy(x, w, t, linear_bias=b, weight=cw, reduction=reduction, ignore_index=3,
                                      options=opts)

    def tfn(x, w, b, cw):
        tt = torch.tensor(t)
        valid = tt != 3
        safe = torch.where(valid, tt, 0)
        nll = -torch.log_softmax(x @ w.T + b, -1).gather(1, safe[:, None])[:, 0]
        row_w = torch.where(valid, cw[safe], 0)
        losses = nll * row_w
        return {"none": losses, "sum": losses.sum(), "mean": losses.sum() / row_w.sum()}[reduction]

    assert_parity(jfn, tfn, [x, w, b, cw], wrt=(0, 1, 2, 3), jit=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_chunked_half_precision_accumulates_in_float32(reduction, dtype):
    """Half inputs: the chunked path's value and gradients (in the input dtypes) are the
    float32 computation on the same half numbers, rounded to the half dtype."""
    x, w, b, t, cw = (jnp.asarray(a, dtype) if a.dtype.kind == "f" else a for a in _data("float32"))
    opts = LinearCrossEntropyOptions(batch_chunk_size=4)

    def run(options, *args):
        def loss(x, w, b, cw):
            out = F.linear_cross_entropy(x, w, t, linear_bias=b, weight=cw, reduction=reduction, options=options)
            return (out * jnp.arange(1, out.size + 1, dtype=out.dtype).reshape(out.shape)).sum()

        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))(*args)

    half = run(opts, x, w, b, cw)
    exact = run(None, *(a.astype(jnp.float32) for a in (x, w, b, cw)))
    rtol, atol = tolerance(dtype)
    for got, want in zip(jax.tree.leaves(half), jax.tree.leaves(exact)):
        assert got.dtype == jnp.dtype(dtype)
        scale = float(jnp.abs(want).max())
        np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                                   rtol=rtol, atol=atol * max(scale, 1.0))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_chunked_under_transformations(reduction):
    """jit(value_and_grad) twice (the cached program), grad of grad (the fused kernel's
    forward rule is differentiable JAX code) and vmap agree with the reference path."""
    x, w, b, t, cw = (jnp.asarray(a) for a in _data("float32"))

    def loss(options):
        def f(x, w, b, cw):
            return F.linear_cross_entropy(x, w, t, linear_bias=b, weight=cw, reduction=reduction, options=options)

        return f

    chunked, reference = loss(LinearCrossEntropyOptions(batch_chunk_size=4)), loss(None)
    vg = jax.jit(jax.value_and_grad(chunked, argnums=(0, 1, 2, 3)))
    first, second = vg(x, w, b, cw), vg(x * 0.5, w, b, cw)
    want = [jax.value_and_grad(reference, argnums=(0, 1, 2, 3))(x_, w, b, cw) for x_ in (x, x * 0.5)]
    chex.assert_trees_all_close((first, second), tuple(want), rtol=2e-5, atol=2e-6)

    def hvp(f):  # jitted: one compile instead of an eager compile per primitive
        return jax.jit(jax.grad(lambda x: jnp.vdot(jax.grad(f)(x, w, b, cw), jnp.cos(x))))(x)

    chex.assert_trees_all_close(hvp(chunked), hvp(reference), rtol=2e-5, atol=2e-6)
    xs = jnp.stack([x, x * 0.5, -x])
    batched = [jax.jit(jax.vmap(jax.value_and_grad(f, argnums=(0, 1, 3)), in_axes=(0, None, None, None)))(xs, w, b, cw)
               for f in (chunked, reference)]
    chex.assert_trees_all_close(batched[0], batched[1], rtol=2e-5, atol=2e-6)


def test_chunk_size_resolution():
    assert LinearCrossEntropyOptions(batch_chunk_size=64).chunk_size(8192, 512, 50000) == 64
    # aspect_ratio: next_pow2(ceil(8192 / ceil(50000 / 512))) = 128, then // 2 for "auto".
    assert LinearCrossEntropyOptions().chunk_size(8192, 512, 50000) == 64
    assert LinearCrossEntropyOptions(chunking_method="aspect_ratio").chunk_size(8192, 512, 50000) == 128
    assert LinearCrossEntropyOptions(chunking_method=None).chunk_size(100, 5, 7) == 100
    with pytest.raises(ValueError, match="pass only one"):
        LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method="aspect_ratio").chunk_size(8192, 512, 50000)
    for bad in (dict(acc_policy="fast"), dict(chunking_method="square"), dict(batch_chunk_size=0)):
        with pytest.raises(ValueError):
            LinearCrossEntropyOptions(**bad)


def test_bad_input():
    x, w, b, t, _ = _data("float32")
    with pytest.raises(ValueError, match="in_features"):
        F.linear_cross_entropy(x, w[:, :4], t)
    with pytest.raises(ValueError, match="linear_bias shape"):
        F.linear_cross_entropy(x, w, t, linear_bias=b[:3])
    with pytest.raises(ValueError, match="dimensionality 1 or 2"):
        F.linear_cross_entropy(x[None], w, t)
    with pytest.raises(ValueError, match="ignore_index cannot"):
        F.linear_cross_entropy(x, w, np.full((N, C), 1.0 / C, np.float32), ignore_index=0)
    with pytest.raises(ValueError, match="target shape"):
        F.linear_cross_entropy(x, w, t[:3], options=LinearCrossEntropyOptions())


def test_linear_cross_entropy_loss_module(float_dtype):
    cw = np.random.default_rng(0).random(C).astype(float_dtype)
    x, _, _, t, _ = _data(float_dtype)
    for kw in (dict(bias=True, weight=cw), dict(options=LinearCrossEntropyOptions(batch_chunk_size=4))):
        tkw = dict(kw, **({"weight": torch.tensor(cw)} if "weight" in kw else {}))
        if "options" in kw:
            tkw["options"] = torch.nn.LinearCrossEntropyOptions(batch_chunk_size=4)
        tmod = torch.nn.LinearCrossEntropyLoss(D, C, **tkw)
        tmod = tmod.double() if float_dtype == "float64" else tmod
        jmod = jaxnn.LinearCrossEntropyLoss(D, C, **kw, rngs=nnx.Rngs(0), dtype=float_dtype)
        assert list(jaxnn.state_dict(jmod)) == list(tmod.state_dict())
        assert_module_parity(jmod, tmod, [x, t])
    w = np.asarray(jaxnn.LinearCrossEntropyLoss(64, 500, rngs=nnx.Rngs(0)).linear.weight[...])
    assert np.abs(w).max() <= 1 / 8 and np.abs(w).max() > 0.99 / 8  # Linear's U(+-1/sqrt(in))


def test_adaptive_log_softmax_matches_torch(float_dtype):
    tmod = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 30, [5, 12], div_value=2.0, head_bias=True)
    tmod = tmod.double() if float_dtype == "float64" else tmod
    jmod = jaxnn.AdaptiveLogSoftmaxWithLoss(16, 30, [5, 12], div_value=2.0, head_bias=True, rngs=nnx.Rngs(0),
                                            dtype=float_dtype)
    assert list(jaxnn.state_dict(jmod)) == list(tmod.state_dict())
    r = np.random.default_rng(0)
    x = r.standard_normal((9, 16)).astype(float_dtype)
    t = np.array([0, 4, 5, 11, 12, 29, 3, 20, 7])
    assert_module_parity(jmod, tmod, [x, t])
    with torch.no_grad():
        np.testing.assert_allclose(jmod.log_prob(x), tmod.log_prob(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(jmod.predict(x), tmod.predict(torch.tensor(x)).numpy())
        out = jmod(x[0], t[0])
        want = tmod(torch.tensor(x[0]), torch.tensor(t[0]))
    assert out.output.shape == () and np.isclose(float(out.loss), want.loss.item(), rtol=1e-5)
    with pytest.raises(ValueError, match="Target values"):
        jmod(x, np.full(9, 30))
    with pytest.raises(ValueError, match="cutoffs"):
        jaxnn.AdaptiveLogSoftmaxWithLoss(16, 30, [12, 5], rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="2D input"):
        jmod(x[None], t)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("chunked", [False, True])
def test_every_target_ignored_gives_torchs_value_and_zero_gradient(reduction, chunked):
    """'mean' of no target is nan (0/0) with a zero gradient in torch; the chunked path once gave a nan gradient."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    t = np.full(5, -100)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch_out = torch.nn.functional.linear_cross_entropy(tx, tw, torch.tensor(t), reduction=reduction)
    torch_out.backward()
    options = LinearCrossEntropyOptions(batch_chunk_size=2) if chunked else None
    value, (gx, gw) = jax.value_and_grad(
        lambda a, b: F.linear_cross_entropy(a, b, jnp.asarray(t), reduction=reduction, options=options), argnums=(0, 1)
    )(x, w)
    np.testing.assert_array_equal(np.asarray(value), torch_out.detach().numpy())  # nan == nan here
    np.testing.assert_array_equal(np.asarray(gx), tx.grad.numpy())
    np.testing.assert_array_equal(np.asarray(gw), tw.grad.numpy())
