"""embedding and embedding_bag against torch: values and gradients w.r.t. the table
and per_sample_weights, every option, empty bags, padding, and torch's errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.parity import assert_parity

IDX = np.array([[0, 2, 4, 2], [1, 0, 3, 2]])
BAG_IDX = np.array([1, 2, 0, 5, 5, 3, 1, 4, 4])


def _table(dtype="float32", rows=6):
    w = np.random.default_rng(0).standard_normal((rows, 3)) * 2  # rows longer than the max_norms below
    w[3, 1] = w[1, 1]  # a tie for the max mode
    return w.astype(dtype)


@pytest.mark.parametrize(
    "options",
    [{}, {"padding_idx": 2}, {"padding_idx": -1, "scale_grad_by_freq": True}, {"max_norm": 1.5},
     {"max_norm": 1.0, "norm_type": 1.0, "sparse": True}],
    ids=str,
)
def test_embedding_matches_torch(options, float_dtype):
    """``sparse`` only changes torch's gradient layout: torch is asked for the dense one."""
    dense = {k: v for k, v in options.items() if k != "sparse"}
    assert_parity(F.embedding, TF.embedding, (IDX, _table(float_dtype)), options, wrt=(1,), torch_kwargs=dense, jit=True)


BAG_CASES = [
    ({"offsets": [0, 3, 3, 5], "mode": "sum"}),
    ({"offsets": [0, 3, 3, 5], "mode": "mean", "padding_idx": 5}),
    ({"offsets": [0, 3, 3, 5], "mode": "max"}),
    ({"offsets": [0, 2, 9], "mode": "max", "padding_idx": 1, "include_last_offset": True}),
    ({"offsets": [0, 4, 9], "mode": "sum", "per_sample_weights": True, "include_last_offset": True, "padding_idx": 4}),
    ({"offsets": [0, 4, 4], "mode": "mean", "scale_grad_by_freq": True, "max_norm": 1.0}),
    # unsorted indices with unequal counts: torch CPU's sorted-neighbour frequency divisor shows
    ({"offsets": [0, 1, 7], "mode": "sum", "scale_grad_by_freq": True, "norm_type": 1.0, "max_norm": 2.0}),
    ({"offsets": None, "mode": "mean"}),
    ({"offsets": None, "mode": "max", "padding_idx": 0}),
    ({"offsets": None, "mode": "sum", "per_sample_weights": True}),
]


@pytest.mark.parametrize("case", BAG_CASES, ids=str)
def test_embedding_bag_matches_torch(case, float_dtype):
    case = dict(case)
    offsets = case.pop("offsets")
    idx = IDX if offsets is None else BAG_IDX
    weighted = case.pop("per_sample_weights", False)
    args = [idx, _table(float_dtype)]
    if offsets is not None:
        args.append(np.array(offsets))
    wrt = (1,)
    if weighted:
        psw = np.linspace(-1.0, 2.0, idx.size).reshape(idx.shape).astype(float_dtype)
        if offsets is None:
            args.append(None)
        args.append(psw)
        wrt = (1, len(args) - 1)
    keys = ["input", "weight", "offsets", "per_sample_weights"][: len(args)]
    kw = dict(zip(keys, args))

    def call(fn):
        return lambda *a: fn(**dict(zip(keys, a)), **case)

    assert_parity(call(F.embedding_bag), call(TF.embedding_bag), list(kw.values()), wrt=wrt, jit=True)


def test_embedding_bag_traced_offsets_under_jit():
    w = _table()
    f = jax.jit(lambda i, o: F.embedding_bag(i, w, o, mode="sum"))
    for offsets in ([0, 3, 3, 5], [0, 1, 2, 9]):
        t = TF.embedding_bag(torch.tensor(BAG_IDX), torch.tensor(w), torch.tensor(offsets), mode="sum")
        chex.assert_trees_all_close(np.asarray(f(BAG_IDX, np.array(offsets))), t.numpy(), rtol=1e-6, atol=1e-6)


def test_errors():
    w = jnp.ones((6, 3))
    i = jnp.array(BAG_IDX)
    with pytest.raises(ValueError, match="non-decreasing"):
        F.embedding_bag(i, w, jnp.array([0, 3, 2]))
    with pytest.raises(ValueError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(i, w, jnp.array([1, 3]))
    with pytest.raises(ValueError, match="can not be greater than input's length 9"):
        F.embedding_bag(i, w, jnp.array([0, 10]))
    with pytest.raises(ValueError, match="must equal the input's length 9"):
        F.embedding_bag(i, w, jnp.array([0, 3, 5]), include_last_offset=True)
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(jnp.array(IDX), w, jnp.array([0, 1]))
    with pytest.raises(ValueError, match="but got None"):
        F.embedding_bag(i, w)
    with pytest.raises(ValueError, match="1D or 2D"):
        F.embedding_bag(jnp.zeros((1, 1, 1), int), w)
    with pytest.raises(ValueError, match="mode has to be one of"):
        F.embedding_bag(i, w, jnp.array([0]), mode="min")
    with pytest.raises(ValueError, match="max mode does not support scaling"):
        F.embedding_bag(i, w, jnp.array([0]), mode="max", scale_grad_by_freq=True)
    with pytest.raises(ValueError, match="only supported for mode='sum'"):
        F.embedding_bag(i, w, jnp.array([0]), per_sample_weights=jnp.ones(9))
    with pytest.raises(ValueError, match="same shape as the input"):
        F.embedding_bag(i, w, jnp.array([0]), mode="sum", per_sample_weights=jnp.ones(8))
    with pytest.raises(ValueError, match="padding_idx \\(6\\) must be within num_embeddings \\(6\\)"):
        F.embedding_bag(i, w, jnp.array([0]), padding_idx=6)
    with pytest.raises(ValueError, match="out of range"):
        F.embedding(jnp.array([0, 6]), w)
    with pytest.raises(TypeError, match="integer"):
        F.embedding(jnp.array([0.0]), w)
    with pytest.raises(ValueError, match="2D"):
        F.embedding(jnp.array([0]), jnp.ones(3))


def test_embedding_bag_half_precision_matches_torch():
    w = np.asarray(jnp.asarray(_table(), jnp.bfloat16))
    for mode in ("sum", "mean"):
        assert_parity(
            lambda i, t, o: F.embedding_bag(i, t, o, mode=mode),
            lambda i, t, o: TF.embedding_bag(i, t, o, mode=mode),
            (BAG_IDX, w, np.array([0, 4, 4])),
            wrt=(1,),
            jit=True,
        )


@pytest.mark.parametrize("scale", [1.0, 1e200])
def test_max_norm_rows_are_torchs_bits_with_the_lookup_gradient(scale, x64):
    # The renormed row is read exactly (it was weight + (renormed - weight): 0 for a row of
    # 1e200, an ulp off elsewhere), and the gradient is the plain lookup's, as torch's.
    w = np.array([[-3.3 * scale], [0.5], [2.0 * scale]])
    idx = np.array([0, 1, 2, 0])
    for table in (w, np.repeat(w, 3, axis=1)):
        tw = torch.tensor(table, requires_grad=True)
        with torch.no_grad():
            tw_ = tw.clone()
        t_out = TF.embedding(torch.tensor(idx), tw_.requires_grad_(), max_norm=1.0)
        t_out.sum().backward()
        j_out, vjp = jax.vjp(lambda a: F.embedding(jnp.asarray(idx), a, max_norm=1.0), jnp.asarray(table))
        np.testing.assert_array_equal(np.asarray(j_out), t_out.detach().numpy())
        np.testing.assert_array_equal(np.asarray(vjp(jnp.ones(j_out.shape))[0]), tw_.grad.numpy())
