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
from .clip_grad import get_total_norm as get_total_norm
from .clip_grad import clip_grads_with_norm_ as clip_grads_with_norm_
from . import parametrize as parametrize
from . import parametrizations as parametrizations
from .convert_parameters import parameters_to_vector as parameters_to_vector
from .convert_parameters import vector_to_parameters as vector_to_parameters
from .fusion import fuse_conv_bn_eval as fuse_conv_bn_eval
from .fusion import fuse_conv_bn_weights as fuse_conv_bn_weights
from .fusion import fuse_linear_bn_eval as fuse_linear_bn_eval
from .fusion import fuse_linear_bn_weights as fuse_linear_bn_weights
from .legacy_norm import weight_norm as weight_norm
from .legacy_norm import remove_weight_norm as remove_weight_norm
from .legacy_norm import spectral_norm as spectral_norm
from .legacy_norm import remove_spectral_norm as remove_spectral_norm

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
    "get_total_norm",
    "clip_grads_with_norm_",
    "parametrize",
    "parametrizations",
    "parameters_to_vector",
    "vector_to_parameters",
    "fuse_conv_bn_eval",
    "fuse_conv_bn_weights",
    "fuse_linear_bn_eval",
    "fuse_linear_bn_weights",
    "weight_norm",
    "remove_weight_norm",
    "spectral_norm",
    "remove_spectral_norm",
]
