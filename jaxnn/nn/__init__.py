"""torch-layout layers on flax.nnx: torch's names, arguments, parameter shapes,
channels-first layouts and default initialisation. Every layer is a
:class:`jaxnn.Module` and takes ``rngs=nnx.Rngs(...)`` by keyword (required
where the initial parameters are random, accepted elsewhere)."""

from . import utils as utils
from .linear import Identity as Identity
from .linear import Linear as Linear
from .linear import Bilinear as Bilinear
from .linear import Flatten as Flatten
from .linear import Unflatten as Unflatten
from .container import Sequential as Sequential
from .container import ModuleList as ModuleList
from .container import ModuleDict as ModuleDict
from .container import ParameterList as ParameterList
from .container import ParameterDict as ParameterDict
from .container import Container as Container
from .lazy import LazyLinear as LazyLinear
from .lazy import LazyConv1d as LazyConv1d
from .lazy import LazyConv2d as LazyConv2d
from .lazy import LazyConv3d as LazyConv3d
from .lazy import LazyConvTranspose1d as LazyConvTranspose1d
from .lazy import LazyConvTranspose2d as LazyConvTranspose2d
from .lazy import LazyConvTranspose3d as LazyConvTranspose3d
from .lazy import LazyBatchNorm1d as LazyBatchNorm1d
from .lazy import LazyBatchNorm2d as LazyBatchNorm2d
from .lazy import LazyBatchNorm3d as LazyBatchNorm3d
from .lazy import LazyInstanceNorm1d as LazyInstanceNorm1d
from .lazy import LazyInstanceNorm2d as LazyInstanceNorm2d
from .lazy import LazyInstanceNorm3d as LazyInstanceNorm3d
from .conv import Conv1d as Conv1d
from .conv import Conv2d as Conv2d
from .conv import ConvTranspose1d as ConvTranspose1d
from .conv import ConvTranspose2d as ConvTranspose2d
from .conv import Conv3d as Conv3d
from .conv import ConvTranspose3d as ConvTranspose3d
from .fold import Fold as Fold
from .fold import Unfold as Unfold
from .norm import LayerNorm as LayerNorm
from .norm import GroupNorm as GroupNorm
from .norm import BatchNorm1d as BatchNorm1d
from .norm import BatchNorm2d as BatchNorm2d
from .norm import BatchNorm3d as BatchNorm3d
from .norm import RMSNorm as RMSNorm
from .norm import SyncBatchNorm as SyncBatchNorm
from .norm import LocalResponseNorm as LocalResponseNorm
from .norm import CrossMapLRN2d as CrossMapLRN2d
from .instancenorm import InstanceNorm1d as InstanceNorm1d
from .instancenorm import InstanceNorm2d as InstanceNorm2d
from .instancenorm import InstanceNorm3d as InstanceNorm3d
from .embedding import Embedding as Embedding
from .dropout import Dropout as Dropout
from .pooling import MaxPool1d as MaxPool1d
from .pooling import MaxPool2d as MaxPool2d
from .pooling import AvgPool1d as AvgPool1d
from .pooling import AvgPool2d as AvgPool2d
from .pooling import AdaptiveAvgPool1d as AdaptiveAvgPool1d
from .pooling import AdaptiveAvgPool2d as AdaptiveAvgPool2d
from .pooling import MaxPool3d as MaxPool3d
from .pooling import AvgPool3d as AvgPool3d
from .pooling import AdaptiveAvgPool3d as AdaptiveAvgPool3d
from .pooling import AdaptiveMaxPool1d as AdaptiveMaxPool1d
from .pooling import AdaptiveMaxPool2d as AdaptiveMaxPool2d
from .pooling import AdaptiveMaxPool3d as AdaptiveMaxPool3d
from .pooling import LPPool1d as LPPool1d
from .pooling import LPPool2d as LPPool2d
from .pooling import LPPool3d as LPPool3d
from .pooling import FractionalMaxPool2d as FractionalMaxPool2d
from .pooling import FractionalMaxPool3d as FractionalMaxPool3d
from .pooling import MaxUnpool1d as MaxUnpool1d
from .pooling import MaxUnpool2d as MaxUnpool2d
from .pooling import MaxUnpool3d as MaxUnpool3d
from .activation import ReLU as ReLU
from .activation import ReLU6 as ReLU6
from .activation import LeakyReLU as LeakyReLU
from .activation import Hardtanh as Hardtanh
from .activation import PReLU as PReLU
from .activation import ELU as ELU
from .activation import GELU as GELU
from .activation import SiLU as SiLU
from .activation import Softplus as Softplus
from .activation import Sigmoid as Sigmoid
from .activation import Tanh as Tanh
from .activation import Softmax as Softmax
from .activation import LogSoftmax as LogSoftmax
from .rnn import RNNBase as RNNBase
from .rnn import RNN as RNN
from .rnn import LSTM as LSTM
from .rnn import GRU as GRU
from .rnn import RNNCellBase as RNNCellBase
from .rnn import RNNCell as RNNCell
from .rnn import LSTMCell as LSTMCell
from .rnn import GRUCell as GRUCell
from .attention import MultiheadAttention as MultiheadAttention
from .transformer import TransformerEncoderLayer as TransformerEncoderLayer
from .transformer import TransformerDecoderLayer as TransformerDecoderLayer
from .transformer import TransformerEncoder as TransformerEncoder
from .transformer import TransformerDecoder as TransformerDecoder
from .transformer import Transformer as Transformer
from .linear_cross_entropy import LinearCrossEntropyLoss as LinearCrossEntropyLoss
from .linear_cross_entropy import LinearCrossEntropyOptions as LinearCrossEntropyOptions
from .adaptive import AdaptiveLogSoftmaxWithLoss as AdaptiveLogSoftmaxWithLoss
from .activation import CELU as CELU
from .activation import SELU as SELU
from .activation import GLU as GLU
from .activation import Hardshrink as Hardshrink
from .activation import Softshrink as Softshrink
from .activation import Hardsigmoid as Hardsigmoid
from .activation import Hardswish as Hardswish
from .activation import LogSigmoid as LogSigmoid
from .activation import Mish as Mish
from .activation import RReLU as RReLU
from .activation import Softmax2d as Softmax2d
from .activation import Softmin as Softmin
from .activation import Softsign as Softsign
from .activation import Tanhshrink as Tanhshrink
from .activation import Threshold as Threshold
from .dropout import Dropout1d as Dropout1d
from .dropout import Dropout2d as Dropout2d
from .dropout import Dropout3d as Dropout3d
from .dropout import AlphaDropout as AlphaDropout
from .dropout import FeatureAlphaDropout as FeatureAlphaDropout
from .distance import CosineSimilarity as CosineSimilarity
from .distance import PairwiseDistance as PairwiseDistance
from .embedding import EmbeddingBag as EmbeddingBag
from .padding import ZeroPad1d as ZeroPad1d
from .padding import ZeroPad2d as ZeroPad2d
from .padding import ZeroPad3d as ZeroPad3d
from .padding import ConstantPad1d as ConstantPad1d
from .padding import ConstantPad2d as ConstantPad2d
from .padding import ConstantPad3d as ConstantPad3d
from .padding import ReflectionPad1d as ReflectionPad1d
from .padding import ReflectionPad2d as ReflectionPad2d
from .padding import ReflectionPad3d as ReflectionPad3d
from .padding import ReplicationPad1d as ReplicationPad1d
from .padding import ReplicationPad2d as ReplicationPad2d
from .padding import ReplicationPad3d as ReplicationPad3d
from .padding import CircularPad1d as CircularPad1d
from .padding import CircularPad2d as CircularPad2d
from .padding import CircularPad3d as CircularPad3d
from .upsampling import Upsample as Upsample
from .upsampling import UpsamplingNearest2d as UpsamplingNearest2d
from .upsampling import UpsamplingBilinear2d as UpsamplingBilinear2d
from .pixelshuffle import PixelShuffle as PixelShuffle
from .pixelshuffle import PixelUnshuffle as PixelUnshuffle
from .channelshuffle import ChannelShuffle as ChannelShuffle

__all__ = [
    "Identity",
    "Linear",
    "Bilinear",
    "Flatten",
    "Unflatten",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Container",
    "LazyLinear",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "LayerNorm",
    "GroupNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "RMSNorm",
    "SyncBatchNorm",
    "LocalResponseNorm",
    "CrossMapLRN2d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "Embedding",
    "Dropout",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "Hardtanh",
    "PReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Softplus",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "RNNBase",
    "RNN",
    "LSTM",
    "GRU",
    "RNNCellBase",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerDecoder",
    "Transformer",
    "LinearCrossEntropyLoss",
    "LinearCrossEntropyOptions",
    "AdaptiveLogSoftmaxWithLoss",
    "CELU",
    "SELU",
    "GLU",
    "Hardshrink",
    "Softshrink",
    "Hardsigmoid",
    "Hardswish",
    "LogSigmoid",
    "Mish",
    "RReLU",
    "Softmax2d",
    "Softmin",
    "Softsign",
    "Tanhshrink",
    "Threshold",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "FeatureAlphaDropout",
    "CosineSimilarity",
    "PairwiseDistance",
    "EmbeddingBag",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "Upsample",
    "UpsamplingNearest2d",
    "UpsamplingBilinear2d",
    "PixelShuffle",
    "PixelUnshuffle",
    "ChannelShuffle",
    "Conv3d",
    "ConvTranspose3d",
    "Fold",
    "Unfold",
    "MaxPool3d",
    "AvgPool3d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "FractionalMaxPool2d",
    "FractionalMaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
]
