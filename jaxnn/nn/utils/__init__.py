"""torch.nn.utils: gradient clipping, and (as they land) packing of sequences,
parametrizations and parameter/vector conversion, each in its own module."""

from .clip_grad import clip_grad_norm as clip_grad_norm
from .clip_grad import clip_grad_norm_ as clip_grad_norm_
from .clip_grad import clip_grad_value as clip_grad_value
from .clip_grad import clip_grad_value_ as clip_grad_value_
from . import rnn as rnn
from .rnn import PackedSequence as PackedSequence
from .rnn import pack_padded_sequence as pack_padded_sequence
from .rnn import pad_packed_sequence as pad_packed_sequence
from .rnn import pad_sequence as pad_sequence
from .rnn import unpad_sequence as unpad_sequence
from .rnn import pack_sequence as pack_sequence
from .rnn import unpack_sequence as unpack_sequence

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grad_norm",
    "clip_grad_value",
    "rnn",
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]
