"""F.pad against torch: every mode, negative (cropping) entries, batched and unbatched,
empty batches, and the inputs torch refuses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from tests.parity import assert_parity

CASES = [
    ("constant", (1, 2), (2, 3, 5)),
    ("constant", (2, -1, -1, 3, 0, 1), (2, 3, 4, 5)),
    ("constant", (1, 1), (4,)),
    ("reflect", (2, 1), (3, 5)),
    ("reflect", (-1, 3, 2, -2), (2, 2, 4, 5)),
    ("reflect", (1, 2, 2, 0, 1, 1), (1, 2, 3, 4, 3)),
    ("replicate", (3, -2), (2, 3, 5)),
    ("replicate", (1, 2, -1, 4), (2, 4, 5)),
    ("replicate", (2, 0, 1, 1, -1, 2), (2, 3, 4, 5)),
    ("circular", (-1, 2), (2, 3, 5)),
    ("circular", (2, -1, 1, 3), (2, 2, 4, 5)),
    ("circular", (1, 1, -1, 1, 2, 0), (1, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("mode,pad,shape", CASES, ids=[f"{m}-{p}-{s}" for m, p, s in CASES])
def test_pad_parity(mode, pad, shape, float_dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(float_dtype)
    assert_parity(
        lambda a: F.pad(a, pad, mode), lambda a: TF.pad(a, pad, mode), [x], jit=True
    )


def test_constant_value_is_cast_to_the_input_dtype():
    x = np.arange(6).reshape(2, 3)
    expected = TF.pad(torch.from_numpy(x), (1, 1), value=2.7).numpy()
    got = F.pad(x, (1, 1), value=2.7)
    np.testing.assert_array_equal(np.asarray(got), expected)
    np.testing.assert_array_equal(np.asarray(F.pad(x.astype(np.float32), (1, 1), value=2.5))[:, 0], [2.5, 2.5])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_empty_batch(mode):
    got = F.pad(np.zeros((0, 2, 4), np.float32), (1, 2), mode)
    assert got.shape == tuple(TF.pad(torch.zeros(0, 2, 4), (1, 2), mode).shape)


def test_reflect_of_every_cropped_side_keeps_the_original_edges():
    """Reflection folds around the input's own edges even when the other side crops."""
    x = np.arange(5.0, dtype=np.float32).reshape(1, 1, 5)
    for p in [(-1, 2), (2, -1), (-4, 3), (-5, 1)]:
        expected = TF.pad(torch.from_numpy(x), p, "reflect").numpy()
        np.testing.assert_array_equal(np.asarray(F.pad(x, p, "reflect")), expected)


def test_under_jit():
    x = jnp.arange(10.0).reshape(1, 2, 5)
    got = jax.jit(lambda a: F.pad(a, (2, 1), "reflect"))(x)
    np.testing.assert_array_equal(np.asarray(got), TF.pad(torch.arange(10.0).reshape(1, 2, 5), (2, 1), "reflect").numpy())


BAD = [
    ((3, 5), (1,), "constant", None, ValueError, "divisible by 2"),
    ((5,), (1, 1, 1, 1), "constant", None, ValueError, "two times the input dimension"),
    ((1, 5), (-3, -3), "constant", None, ValueError, "crops more"),
    ((1, 5), (1, 1), "bogus", None, NotImplementedError, "bogus"),
    ((1, 1, 5), (5, 0), "reflect", None, ValueError, "less than the corresponding input dimension"),
    ((1, 5), (1, 1, 1, 1), "reflect", None, NotImplementedError, "not supported"),
    ((5,), (1, 1), "replicate", None, NotImplementedError, "not supported"),
    ((1, 1, 5), (1, 1), "reflect", 1.0, ValueError, "doesn't take in value"),
    ((1, 1, 5), (0, 6), "circular", None, ValueError, "wraps around more than once"),
    ((1, 1, 5), (-4, 3), "circular", None, ValueError, "wraps around more than once"),
    ((1, 0, 5), (1, 1), "replicate", None, ValueError, "non-zero dimensions"),
    ((1, 1, 3), (-3, 0), "replicate", None, ValueError, "too small"),
    ((1, 2, 3, 3), (-3, 0, -3, 0), "reflect", None, ValueError, "too small"),
]


@pytest.mark.parametrize("shape,pad,mode,value,error,match", BAD, ids=[b[-1] for b in BAD])
def test_bad_input_raises_where_torch_does(shape, pad, mode, value, error, match):
    with pytest.raises((RuntimeError, NotImplementedError)):
        TF.pad(torch.zeros(shape), pad, mode, value)
    with pytest.raises(error, match=match):
        F.pad(np.zeros(shape, np.float32), pad, mode, value)


def test_pad_must_hold_ints():
    with pytest.raises(TypeError, match="sequence of ints"):
        F.pad(np.zeros((2, 3), np.float32), (1.5, 1))
