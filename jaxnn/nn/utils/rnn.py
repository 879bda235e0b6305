"""torch.nn.utils.rnn: packing variable-length sequences for the recurrent layers.

torch's :class:`PackedSequence` stores the valid steps of a batch of sequences
back to back (``data`` of shape ``(sum(lengths), *)``, time-major, longest
sequences first) with ``batch_sizes``, ``sorted_indices`` and
``unsorted_indices``; its shape depends on the values of ``lengths``, so it
cannot be traced by ``jax.jit``. jaxnn keeps the *padded* layout instead:

* ``padded``: ``(T, B, *)``, time-major, the batch in the caller's order, zeros
  past each sequence's end (``T`` is ``max(lengths)`` when the lengths are
  concrete at packing time, else the input's length);
* ``lengths``: ``(B,)`` integers, a traced array under ``jit``.

Both are pytree leaves, so a PackedSequence passes through ``jax.jit`` and
``jax.grad``. The recurrent layers mask the steps past each length, which
gives torch's outputs and final states (each sequence's state at its own
length). torch's fields ``data``, ``batch_sizes``, ``sorted_indices`` and
``unsorted_indices`` are computed on demand from concrete lengths (outside
``jit``), equal to torch's; :meth:`PackedSequence.from_packed` builds one from
them.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = [
    "invert_permutation",
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


def invert_permutation(permutation: Optional[ArrayLike]) -> Optional[jax.Array]:
    """The inverse of a permutation of ``0..n-1`` (None stays None), torch's helper
    for ``PackedSequence.unsorted_indices``: ``out[permutation[i]] = i``.

    >>> invert_permutation(jnp.array([2, 0, 1])).tolist()
    [1, 2, 0]
    """
    if permutation is None:
        return None
    permutation = jnp.asarray(permutation)
    return jnp.zeros_like(permutation).at[permutation].set(jnp.arange(permutation.shape[0], dtype=permutation.dtype))


def _concrete(x: Any) -> Optional[np.ndarray]:
    """``x`` as a numpy int array, or None when it is traced."""
    if isinstance(x, jax.core.Tracer):
        return None
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach().cpu().numpy()
    return np.asarray(x).astype(np.int64)


def _require_concrete(x: Any, message: str) -> np.ndarray:
    """``_concrete(x)``, raising ValueError(message) when ``x`` is traced."""
    out = _concrete(x)
    if out is None:
        raise ValueError(message)
    return out


def _mask(lengths: ArrayLike, steps: int) -> jax.Array:
    """``(T, B)``: True where step ``t`` is inside sequence ``b``."""
    return jnp.arange(steps)[:, None] < jnp.asarray(lengths)[None, :]


def _where_valid(x: jax.Array, lengths: ArrayLike, value: Any) -> jax.Array:
    m = _mask(lengths, x.shape[0]).reshape(x.shape[:2] + (1,) * (x.ndim - 2))
    return jnp.where(m, x, jnp.asarray(value, x.dtype))


@jax.tree_util.register_pytree_node_class
class PackedSequence:
    """A batch of variable-length sequences, held padded (see the module docstring).

    Args:
      padded: ``(T, B, *)`` time-major, zeros past each sequence's length.
      lengths: ``(B,)`` lengths in the batch's order.
      enforce_sorted: whether it was packed with ``enforce_sorted=True``
        (torch's ``sorted_indices`` is then None).

    Build one with :func:`pack_padded_sequence` or :func:`pack_sequence`.
    """

    def __init__(self, padded: ArrayLike, lengths: ArrayLike, enforce_sorted: bool = True) -> None:
        self.padded = padded
        self.lengths = lengths
        self.enforce_sorted = enforce_sorted

    def tree_flatten(self):
        return (self.padded, self.lengths), self.enforce_sorted

    @classmethod
    def tree_unflatten(cls, enforce_sorted, children):
        padded, lengths = children
        return cls(padded, lengths, enforce_sorted=enforce_sorted)

    def _lengths(self) -> np.ndarray:
        return _require_concrete(
            self.lengths,
            "PackedSequence: torch's packed fields need concrete lengths; under jax.jit use "
            "`padded` and `lengths` (or pad_packed_sequence)",
        )

    @property
    def _order(self) -> np.ndarray:
        return np.argsort(-self._lengths(), kind="stable")

    @property
    def batch_sizes(self) -> np.ndarray:
        """torch's ``batch_sizes``: how many sequences are still running at each step."""
        lengths = self._lengths()
        return (lengths[None, :] > np.arange(lengths.max())[:, None]).sum(axis=1)

    @property
    def sorted_indices(self) -> Optional[np.ndarray]:
        """torch's ``sorted_indices`` (None when packed with ``enforce_sorted=True``)."""
        return None if self.enforce_sorted else self._order

    @property
    def unsorted_indices(self) -> Optional[np.ndarray]:
        """torch's ``unsorted_indices``: the inverse of ``sorted_indices``."""
        return None if self.enforce_sorted else np.argsort(self._order, kind="stable")

    @property
    def data(self) -> jax.Array:
        """torch's ``data``: ``(sum(lengths), *)``, step by step, longest sequences first."""
        order, sizes = self._order, self.batch_sizes
        t = np.repeat(np.arange(len(sizes)), sizes)
        b = np.concatenate([order[:n] for n in sizes])
        return jnp.asarray(self.padded)[t, b]

    @classmethod
    def from_packed(
        cls,
        data: ArrayLike,
        batch_sizes: ArrayLike,
        sorted_indices: Optional[ArrayLike] = None,
        unsorted_indices: Optional[ArrayLike] = None,
    ) -> "PackedSequence":
        """Builds one from torch's four fields (a torch ``PackedSequence``'s, converted)."""
        del unsorted_indices  # the inverse of sorted_indices, which fixes the order alone
        traced = "PackedSequence.from_packed: batch_sizes and sorted_indices must be concrete, not traced"
        sizes = _require_concrete(batch_sizes, traced)
        lengths_sorted = (sizes[None, :] > np.arange(sizes[0])[:, None]).sum(axis=1)
        order = np.arange(sizes[0]) if sorted_indices is None else _require_concrete(sorted_indices, traced)
        t = np.repeat(np.arange(len(sizes)), sizes)
        b = order[np.concatenate([np.arange(n) for n in sizes])]
        x = jnp.asarray(data.detach().cpu().numpy() if hasattr(data, "detach") else data)
        padded = jnp.zeros((len(sizes), int(sizes[0])) + x.shape[1:], x.dtype).at[t, b].set(x)
        lengths = np.empty_like(lengths_sorted)
        lengths[order] = lengths_sorted
        return cls(padded, lengths, enforce_sorted=sorted_indices is None)

    def __repr__(self) -> str:
        return f"PackedSequence(padded={self.padded!r}, lengths={self.lengths!r})"


def pack_padded_sequence(
    input: ArrayLike, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Packs a padded batch ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``) of sequences
    of the given ``lengths``.

    Concrete ``lengths`` (a list, numpy or torch array) are checked as torch does
    (1-D, one per sequence, all > 0, decreasing when ``enforce_sorted``) and also
    must not exceed ``T`` (torch reads past the end of ``input`` there); the result
    is cut to ``max(lengths)`` steps. Traced lengths (inside ``jit``) are taken as
    they are. Steps past a sequence's length are zeroed.

    >>> x = jnp.ones((4, 2, 3))
    >>> pack_padded_sequence(x, [4, 2]).batch_sizes
    array([2, 2, 1, 1])
    """
    x = jnp.asarray(input)
    if x.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must have at least 2 dimensions, got shape {x.shape}")
    if batch_first:
        x = jnp.swapaxes(x, 0, 1)
    concrete = _concrete(lengths)
    if concrete is not None:
        if concrete.ndim != 1:
            raise ValueError(f"pack_padded_sequence: lengths must be 1-D, got shape {concrete.shape}")
        if len(concrete) != x.shape[1]:
            raise ValueError(
                f"Expected `len(lengths)` to be equal to batch_size, but got {len(concrete)} "
                f"(batch_size={x.shape[1]})"
            )
        if enforce_sorted and np.any(np.diff(concrete) > 0):
            raise ValueError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                f"sidestep this requirement if you do not need ONNX exportability. Got lengths {concrete.tolist()}"
            )
        if np.any(concrete <= 0):
            raise ValueError(
                "Length of all samples has to be greater than 0, but found an element in 'lengths' "
                f"that is <= 0: {concrete.tolist()}"
            )
        if concrete.max() > x.shape[0]:
            raise ValueError(
                f"pack_padded_sequence: lengths {concrete.tolist()} exceed the sequence length "
                f"{x.shape[0]} of input {tuple(jnp.shape(input))}"
            )
        x = x[: int(concrete.max())]
        lengths = concrete
    else:
        lengths = jnp.asarray(lengths)
    return PackedSequence(_where_valid(x, lengths, 0), lengths, enforce_sorted)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: Optional[int] = None,
) -> tuple[jax.Array, jax.Array]:
    """Inverse of :func:`pack_padded_sequence`: ``(padded, lengths)`` with
    ``padding_value`` past each length, ``(T, B, *)`` or ``(B, T, *)``.

    ``T`` is ``max(lengths)`` (the packed length, see the module docstring), or
    ``total_length``, which must not be shorter (``ValueError`` as torch).
    ``lengths`` come back in the batch's original order.

    >>> padded, lengths = pad_packed_sequence(pack_padded_sequence(jnp.ones((4, 2, 3)), [4, 2]))
    >>> padded.shape, lengths.tolist()
    ((4, 2, 3), [4, 2])
    """
    x = jnp.asarray(sequence.padded)
    steps = x.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, "
                f"but got total_length={total_length} and max sequence length being {steps}"
            )
        x = jnp.pad(x, [(0, total_length - steps)] + [(0, 0)] * (x.ndim - 1))
    x = _where_valid(x, sequence.lengths, padding_value)
    return (jnp.swapaxes(x, 0, 1) if batch_first else x), jnp.asarray(sequence.lengths)


def pad_sequence(
    sequences: Sequence[ArrayLike],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> jax.Array:
    """Stacks sequences ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` if
    ``batch_first``), ``T = max L_i``, padding with ``padding_value`` on
    ``padding_side`` (``'right'`` or ``'left'``). The trailing shapes must agree.

    >>> pad_sequence([jnp.ones(3), jnp.ones(1)], batch_first=True).tolist()
    [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    seqs = [jnp.asarray(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: received an empty list of sequences")
    trailing = {s.shape[1:] for s in seqs}
    if len(trailing) != 1 or any(s.ndim == 0 for s in seqs):
        raise ValueError(
            f"pad_sequence: every sequence needs shape (L, *) with the same trailing dims, got "
            f"{[tuple(s.shape) for s in seqs]}"
        )
    steps = max(s.shape[0] for s in seqs)
    dtype = jnp.result_type(*seqs)

    def pad(s):
        n = steps - s.shape[0]
        width = [(0, n) if padding_side == "right" else (n, 0)] + [(0, 0)] * (s.ndim - 1)
        return jnp.pad(s.astype(dtype), width, constant_values=padding_value)

    return jnp.stack([pad(s) for s in seqs], axis=0 if batch_first else 1)


def unpad_sequence(
    padded_sequences: ArrayLike, lengths: Any, batch_first: bool = False
) -> list[jax.Array]:
    """Splits a padded batch back into its sequences ``(L_i, *)`` (concrete lengths).

    >>> [s.shape for s in unpad_sequence(jnp.ones((3, 2)), [3, 1])]
    [(3,), (1,)]
    """
    x = jnp.asarray(padded_sequences)
    if not batch_first:
        x = jnp.swapaxes(x, 0, 1)
    concrete = _require_concrete(lengths, "unpad_sequence: lengths must be concrete, not traced")
    return [x[i, : int(n)] for i, n in enumerate(concrete)]


def pack_sequence(sequences: Sequence[ArrayLike], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences ``(L_i, *)``: ``pack_padded_sequence(pad_sequence(...))``.

    >>> pack_sequence([jnp.ones((3, 2)), jnp.ones((1, 2))]).batch_sizes
    array([2, 1, 1])
    """
    lengths = [jnp.shape(s)[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[jax.Array]:
    """The list of sequences ``(L_i, *)`` in a :class:`PackedSequence` (concrete lengths).

    >>> [s.shape[0] for s in unpack_sequence(pack_sequence([jnp.ones(3), jnp.ones(1)]))]
    [3, 1]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
