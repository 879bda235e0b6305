"""Every F.*pool* function against torch: values, input gradients, indices, ties, nan,
ceil_mode edge windows, empty batches, unbatched input, float32/float64, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.nn import randn
from tests.parity import assert_parity, cotangent

S2 = np.random.default_rng(5).random((2, 3, 2))
S3 = np.random.default_rng(6).random((2, 3, 3))

# (function name, input shape, positional args, keyword args). Shapes stay tiny; every
# option appears at least once rather than in every combination.
CASES = [
    ("max_pool1d", (2, 3, 9), (3, 2, 1), {"ceil_mode": True}),
    ("max_pool1d", (3, 8), (2,), {"dilation": 3}),
    ("max_pool2d", (2, 2, 7, 6), ((3, 2), (2, 1), (1, 0)), {"ceil_mode": True}),
    ("max_pool3d", (2, 2, 5, 6, 5), ((2, 3, 2), (1, 2, 2), (0, 1, 1)), {"dilation": (2, 1, 2), "ceil_mode": True}),
    ("max_pool3d", (2, 5, 4, 6), (2,), {}),
    ("avg_pool1d", (2, 3, 9), (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("avg_pool2d", (2, 2, 7, 6), (3, 2, 1), {"ceil_mode": True}),
    ("avg_pool2d", (2, 7, 6), ((2, 3), 1, (1, 1)), {"divisor_override": 4}),
    ("avg_pool3d", (2, 2, 5, 6, 5), (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("avg_pool3d", (2, 2, 5, 6, 5), ((2, 3, 2), (1, 2, 2), (1, 1, 0)), {"divisor_override": 3}),
    ("avg_pool3d", (2, 5, 4, 6), (2,), {}),
    ("adaptive_avg_pool1d", (2, 3, 7), (3,), {}),
    ("adaptive_avg_pool2d", (3, 7, 6), ((4, None),), {}),
    ("adaptive_avg_pool3d", (2, 2, 5, 7, 6), ((2, 3, 4),), {}),
    ("adaptive_max_pool1d", (2, 3, 7), (3,), {}),
    ("adaptive_max_pool3d", (2, 2, 5, 7, 6), ((3, 4, 4),), {}),
    ("adaptive_max_pool3d", (2, 5, 4, 6), (8,), {}),
    ("lp_pool1d", (2, 3, 9), (2, 3, 2), {"ceil_mode": True}),
    ("lp_pool2d", (2, 2, 7, 6), (1.5, (2, 3)), {}),
    ("lp_pool3d", (2, 2, 5, 6, 5), (3, 2), {"stride": (1, 2, 2)}),
    ("fractional_max_pool2d", (3, 9, 8), ((3, 2),), {"output_ratio": (0.5, 0.6), "_random_samples": S2[:1]}),
    ("fractional_max_pool3d", (2, 3, 7, 8, 6), ((2, 3, 2),), {"output_size": (3, 4, 2), "_random_samples": S3}),
]

WITH_INDICES = {"max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
                "adaptive_max_pool3d", "fractional_max_pool2d", "fractional_max_pool3d"}


def _fns(name, args, kwargs, dtype="float32"):
    t_kwargs = dict(kwargs)
    if "_random_samples" in kwargs:
        t_kwargs["_random_samples"] = torch.from_numpy(np.asarray(kwargs["_random_samples"], dtype))
    jf, tf = getattr(F, name), getattr(TF, name)
    return (lambda x, **kw: jf(x, *args, **kwargs, **kw)), (lambda x, **kw: tf(x, *args, **t_kwargs, **kw))


def _data(name, shape, dtype="float32"):
    x = randn(*shape, dtype=dtype)
    # lp_pool with a fractional norm needs x >= 0; a few exact ties elsewhere exercise torch's pick
    return np.abs(x) + 0.1 if name.startswith("lp_pool") else np.round(x, 1)


@pytest.mark.parametrize("name,shape,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_gradients_and_indices_match_torch(name, shape, args, kwargs):
    jfn, tfn = _fns(name, args, kwargs)
    x = _data(name, shape)
    assert_parity(jfn, tfn, (x,), jit=True)
    if name in WITH_INDICES:
        j_out, j_idx = jax.jit(lambda a: jfn(a, return_indices=True))(x)
        t_out, t_idx = tfn(torch.from_numpy(x), return_indices=True)
        np.testing.assert_array_equal(np.asarray(j_out), t_out.numpy())
        np.testing.assert_array_equal(np.asarray(j_idx), t_idx.numpy())
        assert j_idx.dtype == jnp.int32  # x64 off; int64 under x64 (test_indices_are_int64_under_x64)


@pytest.mark.parametrize("index", [3, 8, 15, 21], ids=lambda i: CASES[i][0])
def test_float64(index, x64):
    name, shape, args, kwargs = CASES[index]
    jfn, tfn = _fns(name, args, kwargs, "float64")
    assert_parity(jfn, tfn, (_data(name, shape, "float64"),), jit=True)


def test_indices_are_int64_under_x64(x64):
    _, idx = F.max_pool2d_with_indices(np.zeros((1, 1, 2, 2)), 2)
    _, idx2 = F.adaptive_max_pool1d(np.zeros((1, 1, 4)), 2, return_indices=True)
    assert idx.dtype == idx2.dtype == jnp.int64


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("max_pool3d", (2, 1), {"padding": 1}),
        ("adaptive_max_pool3d", (3,), {}),
        ("fractional_max_pool3d", (2,), {"output_size": 3, "_random_samples": np.full((1, 1, 3), 0.3)}),
    ],
    ids=["max", "adaptive", "fractional"],
)
def test_ties_and_nan_follow_torch(name, args, kwargs):
    """Plateaus of equal values: torch keeps the first maximum and sends it the gradient;
    with nans, torch's kernels keep the last nan of the window."""
    x = np.repeat(np.array([1.0, 1.0, 0.0, 2.0, 2.0], np.float32), 25).reshape(1, 1, 5, 5, 5)
    jfn, tfn = _fns(name, args, kwargs)
    assert_parity(jfn, tfn, (x,))
    x[0, 0, 1, 1, 1] = x[0, 0, 1, 1, 3] = x[0, 0, 4, 0, 0] = np.nan
    j_out, j_idx = jax.jit(lambda a: jfn(a, return_indices=True))(x)
    t_out, t_idx = tfn(torch.from_numpy(x), return_indices=True)
    np.testing.assert_array_equal(np.asarray(j_out), t_out.numpy())
    np.testing.assert_array_equal(np.asarray(j_idx), t_idx.numpy())


def test_reduce_window_max_gradient_at_ties_is_torchs():
    """The fast path (no indices, no dilation) too: overlapping windows over a plateau."""
    x = np.repeat(np.array([1.0, 1.0, 0.0, 2.0], np.float32), 16).reshape(1, 1, 4, 4, 4)
    assert_parity(lambda a: F.max_pool3d(a, 3, 1, 1), lambda a: TF.max_pool3d(a, 3, 1, 1), (x,))


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("max_pool3d", (2,), {"return_indices": True}),
        ("max_pool3d", (2,), {}),
        ("avg_pool3d", (2,), {"ceil_mode": True}),
        ("adaptive_avg_pool3d", (3,), {}),
        ("adaptive_max_pool3d", (3,), {"return_indices": True}),
        ("lp_pool3d", (2, 2), {}),
        ("fractional_max_pool3d", (2,), {"output_size": 3, "return_indices": True, "_random_samples": np.zeros((0, 2, 3))}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_empty_batch(name, args, kwargs):
    x = np.zeros((0, 2, 5, 5, 5), np.float32)
    jfn, tfn = _fns(name, args, kwargs)
    got, expected = jfn(x), tfn(torch.from_numpy(x))
    for g, e in zip(*((got, expected) if isinstance(got, tuple) else ((got,), (expected,)))):
        assert g.shape == tuple(e.shape)


def test_ceil_mode_edge_window_divisors():
    """ceil_mode windows that overhang the input: avg divides by the clipped window, the
    last window starting in the padding is dropped (torch), max ignores the overhang."""
    x = randn(1, 2, 6, 6, 6)
    for kw in ({"padding": 1}, {"padding": 1, "count_include_pad": False}, {}):
        assert_parity(lambda a: F.avg_pool3d(a, 3, 2, ceil_mode=True, **kw), lambda a: TF.avg_pool3d(a, 3, 2, ceil_mode=True, **kw), (x,))
    assert F.max_pool1d(np.zeros((1, 1, 5), np.float32), 2, 2, 1, ceil_mode=True).shape == TF.max_pool1d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True).shape


@pytest.mark.parametrize("nd,pool_args", [(1, (3, 2, 1)), (2, (2,)), (3, (3, 1, 1))], ids=["1d", "2d-unbatched", "3d-overlapping"])
def test_max_unpool_inverts_max_pool_as_torch(nd, pool_args):
    """Overlapping windows repeat an index: torch writes it once, and its backward gives every
    repeat the output gradient at that index."""
    shape = {1: (2, 3, 9), 2: (3, 6, 5), 3: (1, 2, 4, 5, 4)}[nd]
    x = randn(*shape)
    t_y, t_i = getattr(TF, f"max_pool{nd}d")(torch.from_numpy(x), *pool_args, return_indices=True)
    y, i = t_y.numpy(), t_i.numpy()
    size = x.shape[-nd:]
    jfn = lambda a: getattr(F, f"max_unpool{nd}d")(a, i, *pool_args, output_size=size)  # noqa: E731
    tfn = lambda a: getattr(TF, f"max_unpool{nd}d")(a, t_i, *pool_args, output_size=size)  # noqa: E731
    assert_parity(jfn, tfn, (y,))


def test_max_unpool_default_and_full_output_size():
    y, i = F.max_pool2d_with_indices(randn(2, 3, 7, 7), 2)
    t = TF.max_unpool2d(torch.tensor(np.asarray(y)), torch.tensor(np.asarray(i, np.int64)), 2, output_size=[2, 3, 7, 7])
    np.testing.assert_array_equal(np.asarray(F.max_unpool2d(y, i, 2, output_size=[2, 3, 7, 7])), t.numpy())
    # Without output_size the output is 6x6, too small for indices from a 7x7 input: torch raises.
    with pytest.raises(RuntimeError, match="between 0 and 35"):
        F.max_unpool2d(y, i, 2)
    with pytest.raises(RuntimeError, match="invalid max index"):
        TF.max_unpool2d(torch.tensor(np.asarray(y)), torch.tensor(np.asarray(i, np.int64)), 2)
    y6, i6 = F.max_pool2d_with_indices(randn(2, 3, 6, 6), 2)
    assert F.max_unpool2d(y6, i6, 2).shape == (2, 3, 6, 6)


def test_fractional_draws_from_the_key():
    x = randn(2, 3, 9, 9)
    a, ia = F.fractional_max_pool2d(x, 2, output_ratio=0.5, return_indices=True, key=jax.random.key(0))
    b = F.fractional_max_pool2d(x, 2, output_ratio=0.5, key=jax.random.key(1))
    assert a.shape == b.shape == (2, 3, 4, 4)
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    # Whatever the draw, each output is the input at its index.
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 3, -1), np.asarray(ia).reshape(2, 3, -1), 2).reshape(a.shape), a)


def test_fractional_gradient_goes_to_the_chosen_element():
    x = randn(1, 2, 7, 7)
    kwargs = {"output_size": 3, "_random_samples": S2[:1, :2]}
    _, idx = F.fractional_max_pool2d_with_indices(x, 3, **kwargs)
    ct = cotangent((1, 2, 3, 3), "float32")
    grad = jax.jit(jax.grad(lambda a: jnp.sum(F.fractional_max_pool2d(a, 3, **kwargs) * ct)))(x)
    expected = np.zeros((1, 2, 49), np.float32)
    np.add.at(expected, (0, np.arange(2)[:, None], np.asarray(idx).reshape(2, -1)), ct.reshape(2, -1))
    np.testing.assert_array_equal(np.asarray(grad), expected.reshape(x.shape))


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: F.max_pool2d(np.zeros((4, 4), np.float32), 2), ValueError, r"max_pool2d: expected 3D \(unbatched\) or 4D"),
        (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4), np.int32), 2), TypeError, "floating dtype"),
        (lambda: F.max_pool3d(np.zeros((1, 1, 4, 4, 4), np.float32), 2, padding=2), ValueError, "pad should be at most half"),
        (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4), np.float32), 2, stride=0), ValueError, "stride must be greater than zero"),
        (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4), np.float32), (2, 2, 2)), ValueError, "kernel_size must be an int or a tuple of 2"),
        (lambda: F.avg_pool3d(np.zeros((1, 1, 2, 4, 4), np.float32), 3), ValueError, "output size is too small"),
        (lambda: F.avg_pool2d(np.zeros((1, 1, 4, 4), np.float32), 2, divisor_override=0), ValueError, "divisor_override"),
        (lambda: F.adaptive_max_pool2d(np.zeros((1, 0, 4, 4), np.float32), 2), ValueError, "non-zero sizes"),
        (lambda: F.adaptive_avg_pool3d(np.zeros((1, 1, 4, 4, 4), np.float32), (2, 2)), ValueError, "output_size must be"),
        (lambda: F.fractional_max_pool2d(np.zeros((1, 1, 4, 4), np.float32), 2), ValueError, "output_size or an output_ratio"),
        (lambda: F.fractional_max_pool2d(np.zeros((1, 1, 4, 4), np.float32), 3, output_size=3, key=jax.random.key(0)), ValueError, "do not fit"),
        (lambda: F.fractional_max_pool2d(np.zeros((1, 1, 4, 4), np.float32), 2, output_size=2), ValueError, "PRNG key"),
        (lambda: F.fractional_max_pool2d(np.zeros((2, 1, 4, 4), np.float32), 2, output_size=2, _random_samples=np.zeros((1, 1, 2))), ValueError, r"_random_samples must have shape \(2, 1, 2\)"),
        (lambda: F.max_unpool2d(np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 1), np.int32), 2), ValueError, "indices must have the input's shape"),
        (lambda: F.max_unpool2d(np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 2), np.int32), 2, output_size=(6, 4)), ValueError, "invalid output_size"),
        (lambda: F.max_unpool2d(np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 2)), 2), TypeError, "integer dtype"),
    ],
)
def test_bad_input_raises(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_errors_are_raised_at_trace_time():
    with pytest.raises(ValueError, match="output size is too small"):
        jax.jit(lambda a: F.max_pool2d(a, 5))(jnp.zeros((1, 1, 3, 3)))


def test_max_unpool_out_of_range_index_raises_with_checks():
    import jaxnn.checks

    with jaxnn.checks.checking(), pytest.raises(ValueError, match="indices"):
        F.max_unpool1d(np.ones((1, 1, 2), np.float32), np.array([[[0, 7]]]), 2)
