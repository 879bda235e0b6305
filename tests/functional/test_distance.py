"""Distances against torch: values and gradients, at zero distance and zero vectors included."""

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.parity import assert_parity


def _rows(dtype):
    """Rows with a duplicate (zero distance), a zero row, a tiny row and tied coordinates."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4))
    x[1] = x[0]
    x[2] = 0.0
    x[3] = 1e-9 * x[4]
    x[5] = [1.0, -1.0, 1.0, 0.5]
    return x.astype(dtype)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, float("inf")])
def test_pdist_matches_torch(p, float_dtype):
    assert_parity(F.pdist, TF.pdist, (_rows(float_dtype),), {"p": p}, jit=True)


@pytest.mark.parametrize("options", [{}, {"p": 1.0, "eps": 0.0}, {"p": 3.0, "keepdim": True}, {"p": float("inf"), "eps": 0.0}, {"p": 0.5, "eps": 0.0}])
def test_pairwise_distance_matches_torch_including_zero_distance(options, float_dtype):
    x = _rows(float_dtype)
    y = x[::-1].copy()
    y[0] = x[0]  # a zero-distance pair (with eps = 0)
    assert_parity(F.pairwise_distance, TF.pairwise_distance, (x, y), options, wrt=(0, 1), jit=True)


def test_pairwise_distance_broadcasts_as_torch():
    x = _rows("float32")
    assert_parity(F.pairwise_distance, TF.pairwise_distance, (x, x[:1] + 1), wrt=(0, 1), jit=True)


@pytest.mark.parametrize(
    "shapes,options",
    [(((6, 4), (6, 4)), {}), (((6, 4), (1, 4)), {"dim": -1}), (((2, 6, 4), (6, 4)), {"dim": 1, "eps": 1e-3})],
)
def test_cosine_similarity_matches_torch_at_zero_and_tiny_vectors(shapes, options, float_dtype):
    x = _rows(float_dtype)
    a = np.broadcast_to(x, shapes[0]).copy()
    b = np.broadcast_to(x[::-1][: shapes[1][0]], shapes[1]).copy()
    assert_parity(F.cosine_similarity, TF.cosine_similarity, (a, b), options, wrt=(0, 1), jit=True)


def test_cosine_similarity_accepts_integer_with_float_as_torch():
    a, b = np.array([[1, 2], [0, 0]]), np.array([[1.0, 0.0], [2.0, 1.0]], np.float32)
    np.testing.assert_allclose(F.cosine_similarity(a, b), TF.cosine_similarity(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="2D"):
        F.pdist(jnp.ones(3))
    with pytest.raises(ValueError, match="non-negative p"):
        F.pdist(jnp.ones((3, 2)), -1.0)
    with pytest.raises(ValueError, match="out of range"):
        F.cosine_similarity(jnp.ones((2, 3)), jnp.ones((2, 3)), dim=2)
    with pytest.raises(ValueError, match="broadcast"):
        F.cosine_similarity(jnp.ones((2, 3)), jnp.ones((3, 2)))
    with pytest.raises(TypeError, match="floating"):
        F.cosine_similarity(np.ones((2, 3), int), np.ones((2, 3), int))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_accumulates_in_float32(dtype):
    """torch's half-precision norms and sums accumulate in float32; so do these.
    torch's pdist has no half-precision kernel: it is compared through float32."""
    x = _rows("float32")
    x = x[[0, 2, 4, 5]]  # no tiny row: 1e-9 is below float16's range
    half = np.asarray(jnp.asarray(x, dtype))
    assert_parity(F.pdist, lambda t: TF.pdist(t.float()).to(t.dtype), (half,), jit=True)
    assert_parity(F.cosine_similarity, TF.cosine_similarity, (half, half[::-1].copy()), wrt=(0, 1), jit=True)
    assert_parity(F.normalize, TF.normalize, (half,), jit=True)
    assert F.pdist(half).dtype == jnp.dtype(dtype)


@pytest.mark.parametrize("p", [0.5, 2.0, 3.0, -1.0, float("inf"), 0.0])
@pytest.mark.parametrize("value", [1.000001, -3.3, 1e200, 0.0])
def test_one_column_norms_are_torchs_bits(p, value, x64):
    # torch's linalg_vector_norm returns |x| for a reduction over one element (no
    # pow round trip: 1.000001 ** 0.5 ** 2 is an ulp off, 1e200 ** 2 overflows);
    # its pdist kernel has no such shortcut. Bit equality, not a tolerance.
    a, b = np.zeros((2, 1)), np.full((2, 1), -value)
    got = np.asarray(F.pairwise_distance(jnp.asarray(a), jnp.asarray(b), p, 0.0))
    np.testing.assert_array_equal(got, TF.pairwise_distance(torch.tensor(a), torch.tensor(b), p, 0.0).numpy())
    if p >= 0:
        rows = np.array([[0.0], [value]])
        np.testing.assert_array_equal(np.asarray(F.pdist(jnp.asarray(rows), p)), TF.pdist(torch.tensor(rows), p).numpy())


def test_triplet_margin_at_the_hinge_with_one_column_is_torchs(x64):
    # the deep fuzz profile's falsifying example (issue #23's rule): p=0.5, D=1, where
    # margin + d(a, p) - d(a, n) is exactly 0 in torch (so clamp_min passes the gradient)
    # and was -2.2e-16 in jaxnn (the norm's pow round trip), which zeroed the gradient.
    a, pos, neg = np.zeros((2, 1)), np.zeros((2, 1)), -np.ones((2, 1))
    assert_parity(F.triplet_margin_loss, TF.triplet_margin_loss, (a, pos, neg),
                  {"margin": 1.0, "p": 0.5, "eps": 1e-6, "reduction": "none"}, wrt=(0, 1, 2))
