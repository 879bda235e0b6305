"""jaxnn.nn.utils.rnn (packing) against torch.nn.utils.rnn: padded results, torch's
packed fields, gradients through pack -> pad, pytree use under jit, and errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxnn.nn.utils.rnn as jrnn
from jaxnn.nn.utils import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence
from tests.nn import randn
from tests.parity import assert_parity, to_torch

trnn = torch.nn.utils.rnn


def sequences(lengths, dtype="float32"):
    return [randn(n, 2, dtype=dtype, seed=i) for i, n in enumerate(lengths)]


@pytest.mark.parametrize(
    "batch_first,padding_value,padding_side",
    [(False, 0.0, "right"), (True, -1.5, "left"), (True, 2.0, "right")],
)
def test_pad_sequence(batch_first, padding_value, padding_side):
    seqs = sequences((3, 5, 1))
    got = pad_sequence(seqs, batch_first, padding_value, padding_side)
    want = trnn.pad_sequence([to_torch(s) for s in seqs], batch_first, padding_value, padding_side)
    np.testing.assert_array_equal(got, want.numpy())


@pytest.mark.parametrize(
    "lengths,enforce_sorted,batch_first",
    [((5, 3, 3, 1), True, False), ((2, 5, 1, 5), False, True), ((3, 1, 4, 2), False, False)],
)
def test_packed_fields_equal_torch(lengths, enforce_sorted, batch_first):
    x = randn(*((4, 6, 2) if batch_first else (6, 4, 2)))
    got = pack_padded_sequence(x, list(lengths), batch_first, enforce_sorted)
    want = trnn.pack_padded_sequence(to_torch(x), list(lengths), batch_first, enforce_sorted)
    np.testing.assert_array_equal(got.data, want.data.numpy())
    np.testing.assert_array_equal(got.batch_sizes, want.batch_sizes.numpy())
    for name in ("sorted_indices", "unsorted_indices"):
        g, w = getattr(got, name), getattr(want, name)
        assert (g is None) == (w is None)
        if w is not None:
            np.testing.assert_array_equal(g, w.numpy())
    rebuilt = PackedSequence.from_packed(want.data, want.batch_sizes, want.sorted_indices, want.unsorted_indices)
    np.testing.assert_array_equal(rebuilt.padded, got.padded)
    np.testing.assert_array_equal(rebuilt.lengths, lengths)


@pytest.mark.parametrize("batch_first,padding_value,total_length", [(False, 0.0, None), (True, -2.0, 7)])
def test_pad_packed_sequence_and_its_gradient_equal_torch(batch_first, padding_value, total_length, float_dtype):
    """pack -> pad: values, lengths, and the gradient to the padded input (zero past each length)."""
    lengths = [3, 5, 2]
    x = randn(*((3, 6, 2) if batch_first else (6, 3, 2)), dtype=float_dtype)

    def jround(x):
        return pad_packed_sequence(
            pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False), batch_first, padding_value, total_length
        )[0]

    def tround(x):
        return trnn.pad_packed_sequence(
            trnn.pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False), batch_first, padding_value, total_length
        )[0]

    assert_parity(jround, tround, (x,))
    _, got_lengths = pad_packed_sequence(pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False))
    np.testing.assert_array_equal(got_lengths, lengths)


def test_pack_unpack_unpad_sequence_round_trip_equal_torch():
    seqs = sequences((2, 4, 3))
    packed = jrnn.pack_sequence(seqs, enforce_sorted=False)
    tpacked = trnn.pack_sequence([to_torch(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data, tpacked.data.numpy())
    for got, want in zip(jrnn.unpack_sequence(packed), trnn.unpack_sequence(tpacked)):
        np.testing.assert_array_equal(got, want.numpy())
    padded = pad_sequence(seqs, batch_first=True)
    for got, want in zip(jrnn.unpad_sequence(padded, [2, 4, 3], batch_first=True), seqs):
        np.testing.assert_array_equal(got, want)


def test_packed_sequence_is_a_pytree_with_traced_lengths():
    """Under jit the lengths are traced: pad_packed_sequence still masks by them
    (its length stays the input's, as no value-dependent shape can be traced)."""
    x, lengths = jnp.asarray(randn(5, 3, 2)), jnp.array([2, 5, 3])

    @jax.jit
    def f(x, lengths):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        return jax.tree.map(lambda a: a, packed), pad_packed_sequence(packed, padding_value=9.0)[0]

    packed, padded = f(x, lengths)
    assert isinstance(packed, PackedSequence) and not packed.enforce_sorted
    want = trnn.pad_packed_sequence(
        trnn.pack_padded_sequence(to_torch(np.asarray(x)), [2, 5, 3], enforce_sorted=False), padding_value=9.0
    )[0]
    np.testing.assert_array_equal(padded, want.numpy())
    np.testing.assert_array_equal(packed.batch_sizes, [3, 3, 2, 1, 1])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: pack_padded_sequence(jnp.ones((4, 3, 2)), [2, 3, 1]), "sorted in decreasing order.*enforce_sorted"),
        (lambda: pack_padded_sequence(jnp.ones((4, 3, 2)), [5, 2, 1]), r"lengths \[5, 2, 1\] exceed the sequence length 4"),
        (lambda: pack_padded_sequence(jnp.ones((4, 3, 2)), [3, 2, 0]), "greater than 0"),
        (lambda: pack_padded_sequence(jnp.ones((4, 3, 2)), [3, 2]), r"len\(lengths\)` to be equal to batch_size.*2 \(batch_size=3\)"),
        (lambda: pack_padded_sequence(jnp.ones((4, 3, 2)), [[3, 2, 1]]), "lengths must be 1-D"),
        (
            lambda: pad_packed_sequence(pack_padded_sequence(jnp.ones((4, 3, 2)), [4, 2, 1]), total_length=2),
            "total_length=2 and max sequence length being 4",
        ),
        (lambda: pad_sequence([jnp.ones(2)], padding_side="middle"), "padding_side to be one of left or right"),
        (lambda: pad_sequence([jnp.ones((2, 3)), jnp.ones((2, 2))]), r"same trailing dims.*\(2, 3\), \(2, 2\)"),
    ],
    ids=["unsorted", "too-long", "zero", "count", "2d", "total_length", "padding_side", "trailing"],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_invert_permutation_equals_torch():
    p = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    got = jrnn.invert_permutation(jnp.asarray(p.numpy()))
    np.testing.assert_array_equal(np.asarray(got), torch.nn.utils.rnn.invert_permutation(p).numpy())
    assert jrnn.invert_permutation(None) is None


def test_traced_lengths_raise_value_error_naming_the_argument():
    # _concrete gives None for a tracer; these used to index it (a bare TypeError)
    with pytest.raises(ValueError, match="unpad_sequence: lengths must be concrete"):
        jax.jit(lambda n: jrnn.unpad_sequence(jnp.ones((3, 2)), n))(jnp.array([3, 1]))
    with pytest.raises(ValueError, match="from_packed: batch_sizes and sorted_indices must be concrete"):
        jax.jit(lambda s: PackedSequence.from_packed(jnp.ones((4,)), s).padded)(jnp.array([2, 1, 1]))
