"""jaxnn: PyTorch's torch.nn core as pure, jit-compiled JAX with torch's numbers.

The public face only re-exports: losses and activations live in
:mod:`jaxnn.functional`, criterion classes in :mod:`jaxnn.losses`, layers in
:mod:`jaxnn.nn`, optimizers in :mod:`jaxnn.optim`, the training cycle in
:mod:`jaxnn.training`.
"""

from . import functional as functional
from . import init as init
from . import interop as interop
from . import optim as optim
from . import training as training
from .module import Module as Module
from .parameter import Buffer as Buffer
from .parameter import FrozenParameter as FrozenParameter
from .parameter import Parameter as Parameter
from .losses import L1Loss as L1Loss
from .losses import MSELoss as MSELoss
from .losses import CrossEntropyLoss as CrossEntropyLoss
from .losses import NLLLoss as NLLLoss
from .losses import NLLLoss2d as NLLLoss2d
from .losses import PoissonNLLLoss as PoissonNLLLoss
from .losses import GaussianNLLLoss as GaussianNLLLoss
from .losses import KLDivLoss as KLDivLoss
from .losses import BCELoss as BCELoss
from .losses import BCEWithLogitsLoss as BCEWithLogitsLoss
from .losses import MarginRankingLoss as MarginRankingLoss
from .losses import HingeEmbeddingLoss as HingeEmbeddingLoss
from .losses import MultiLabelMarginLoss as MultiLabelMarginLoss
from .losses import HuberLoss as HuberLoss
from .losses import SmoothL1Loss as SmoothL1Loss
from .losses import SoftMarginLoss as SoftMarginLoss
from .losses import MultiLabelSoftMarginLoss as MultiLabelSoftMarginLoss
from .losses import CosineEmbeddingLoss as CosineEmbeddingLoss
from .losses import MultiMarginLoss as MultiMarginLoss
from .losses import TripletMarginLoss as TripletMarginLoss
from .losses import TripletMarginWithDistanceLoss as TripletMarginWithDistanceLoss
from .losses import CTCLoss as CTCLoss
from .nn import Identity as Identity
from .nn import Linear as Linear
from .nn import Bilinear as Bilinear
from .nn import Flatten as Flatten
from .nn import Unflatten as Unflatten
from .nn import Sequential as Sequential
from .nn import ModuleList as ModuleList
from .nn import ModuleDict as ModuleDict
from .nn import ParameterList as ParameterList
from .nn import ParameterDict as ParameterDict
from .nn import Container as Container
from .nn import LazyLinear as LazyLinear
from .nn import LazyConv1d as LazyConv1d
from .nn import LazyConv2d as LazyConv2d
from .nn import LazyConv3d as LazyConv3d
from .nn import LazyConvTranspose1d as LazyConvTranspose1d
from .nn import LazyConvTranspose2d as LazyConvTranspose2d
from .nn import LazyConvTranspose3d as LazyConvTranspose3d
from .nn import LazyBatchNorm1d as LazyBatchNorm1d
from .nn import LazyBatchNorm2d as LazyBatchNorm2d
from .nn import LazyBatchNorm3d as LazyBatchNorm3d
from .nn import LazyInstanceNorm1d as LazyInstanceNorm1d
from .nn import LazyInstanceNorm2d as LazyInstanceNorm2d
from .nn import LazyInstanceNorm3d as LazyInstanceNorm3d
from .nn import Conv1d as Conv1d
from .nn import Conv2d as Conv2d
from .nn import ConvTranspose1d as ConvTranspose1d
from .nn import ConvTranspose2d as ConvTranspose2d
from .nn import Conv3d as Conv3d
from .nn import ConvTranspose3d as ConvTranspose3d
from .nn import Fold as Fold
from .nn import Unfold as Unfold
from .nn import LayerNorm as LayerNorm
from .nn import GroupNorm as GroupNorm
from .nn import BatchNorm1d as BatchNorm1d
from .nn import BatchNorm2d as BatchNorm2d
from .nn import BatchNorm3d as BatchNorm3d
from .nn import RMSNorm as RMSNorm
from .nn import SyncBatchNorm as SyncBatchNorm
from .nn import LocalResponseNorm as LocalResponseNorm
from .nn import CrossMapLRN2d as CrossMapLRN2d
from .nn import InstanceNorm1d as InstanceNorm1d
from .nn import InstanceNorm2d as InstanceNorm2d
from .nn import InstanceNorm3d as InstanceNorm3d
from .nn import Embedding as Embedding
from .nn import Dropout as Dropout
from .nn import MaxPool1d as MaxPool1d
from .nn import MaxPool2d as MaxPool2d
from .nn import AvgPool1d as AvgPool1d
from .nn import AvgPool2d as AvgPool2d
from .nn import AdaptiveAvgPool1d as AdaptiveAvgPool1d
from .nn import AdaptiveAvgPool2d as AdaptiveAvgPool2d
from .nn import MaxPool3d as MaxPool3d
from .nn import AvgPool3d as AvgPool3d
from .nn import AdaptiveAvgPool3d as AdaptiveAvgPool3d
from .nn import AdaptiveMaxPool1d as AdaptiveMaxPool1d
from .nn import AdaptiveMaxPool2d as AdaptiveMaxPool2d
from .nn import AdaptiveMaxPool3d as AdaptiveMaxPool3d
from .nn import LPPool1d as LPPool1d
from .nn import LPPool2d as LPPool2d
from .nn import LPPool3d as LPPool3d
from .nn import FractionalMaxPool2d as FractionalMaxPool2d
from .nn import FractionalMaxPool3d as FractionalMaxPool3d
from .nn import MaxUnpool1d as MaxUnpool1d
from .nn import MaxUnpool2d as MaxUnpool2d
from .nn import MaxUnpool3d as MaxUnpool3d
from .nn import ReLU as ReLU
from .nn import ReLU6 as ReLU6
from .nn import LeakyReLU as LeakyReLU
from .nn import Hardtanh as Hardtanh
from .nn import PReLU as PReLU
from .nn import ELU as ELU
from .nn import GELU as GELU
from .nn import SiLU as SiLU
from .nn import Softplus as Softplus
from .nn import Sigmoid as Sigmoid
from .nn import Tanh as Tanh
from .nn import Softmax as Softmax
from .nn import LogSoftmax as LogSoftmax
from .nn import RNNBase as RNNBase
from .nn import RNN as RNN
from .nn import LSTM as LSTM
from .nn import GRU as GRU
from .nn import RNNCellBase as RNNCellBase
from .nn import RNNCell as RNNCell
from .nn import LSTMCell as LSTMCell
from .nn import GRUCell as GRUCell
from .nn import MultiheadAttention as MultiheadAttention
from .nn import TransformerEncoderLayer as TransformerEncoderLayer
from .nn import TransformerDecoderLayer as TransformerDecoderLayer
from .nn import TransformerEncoder as TransformerEncoder
from .nn import TransformerDecoder as TransformerDecoder
from .nn import Transformer as Transformer
from .nn import LinearCrossEntropyLoss as LinearCrossEntropyLoss
from .nn import LinearCrossEntropyOptions as LinearCrossEntropyOptions
from .nn import AdaptiveLogSoftmaxWithLoss as AdaptiveLogSoftmaxWithLoss
from .nn import CELU as CELU
from .nn import SELU as SELU
from .nn import GLU as GLU
from .nn import Hardshrink as Hardshrink
from .nn import Softshrink as Softshrink
from .nn import Hardsigmoid as Hardsigmoid
from .nn import Hardswish as Hardswish
from .nn import LogSigmoid as LogSigmoid
from .nn import Mish as Mish
from .nn import RReLU as RReLU
from .nn import Softmax2d as Softmax2d
from .nn import Softmin as Softmin
from .nn import Softsign as Softsign
from .nn import Tanhshrink as Tanhshrink
from .nn import Threshold as Threshold
from .nn import Dropout1d as Dropout1d
from .nn import Dropout2d as Dropout2d
from .nn import Dropout3d as Dropout3d
from .nn import AlphaDropout as AlphaDropout
from .nn import FeatureAlphaDropout as FeatureAlphaDropout
from .nn import CosineSimilarity as CosineSimilarity
from .nn import PairwiseDistance as PairwiseDistance
from .nn import EmbeddingBag as EmbeddingBag
from .nn import ZeroPad1d as ZeroPad1d
from .nn import ZeroPad2d as ZeroPad2d
from .nn import ZeroPad3d as ZeroPad3d
from .nn import ConstantPad1d as ConstantPad1d
from .nn import ConstantPad2d as ConstantPad2d
from .nn import ConstantPad3d as ConstantPad3d
from .nn import ReflectionPad1d as ReflectionPad1d
from .nn import ReflectionPad2d as ReflectionPad2d
from .nn import ReflectionPad3d as ReflectionPad3d
from .nn import ReplicationPad1d as ReplicationPad1d
from .nn import ReplicationPad2d as ReplicationPad2d
from .nn import ReplicationPad3d as ReplicationPad3d
from .nn import CircularPad1d as CircularPad1d
from .nn import CircularPad2d as CircularPad2d
from .nn import CircularPad3d as CircularPad3d
from .nn import Upsample as Upsample
from .nn import UpsamplingNearest2d as UpsamplingNearest2d
from .nn import UpsamplingBilinear2d as UpsamplingBilinear2d
from .nn import PixelShuffle as PixelShuffle
from .nn import PixelUnshuffle as PixelUnshuffle
from .nn import ChannelShuffle as ChannelShuffle
from .state_dict import state_dict as state_dict
from .state_dict import load_state_dict as load_state_dict
from .state_dict import save_state_dict as save_state_dict
from .state_dict import named_parameters as named_parameters
from .state_dict import parameters as parameters
from .state_dict import num_parameters as num_parameters
from .state_dict import StateDictError as StateDictError
from .state_dict import IncompatibleKeys as IncompatibleKeys
from .training import make_train_step as make_train_step
from .training import make_eval_step as make_eval_step
from .training import make_multi_step as make_multi_step
from .training import split_model as split_model
from .training import fit as fit
from .training import History as History
from .training import Callback as Callback
from .training import EarlyStopping as EarlyStopping
from .training import NonFiniteLossError as NonFiniteLossError
from .training import Checkpointer as Checkpointer
from .training import dynamic_loss_scale as dynamic_loss_scale
from .interop import from_torch as from_torch
from .interop import compare as compare

__version__ = "0.1.0"

__all__ = [
    "from_torch",
    "compare",
    "Parameter",
    "FrozenParameter",
    "Buffer",
    "Module",
    "functional",
    "init",
    "interop",
    "optim",
    "training",
    "L1Loss",
    "MSELoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "NLLLoss2d",
    "PoissonNLLLoss",
    "GaussianNLLLoss",
    "KLDivLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "MarginRankingLoss",
    "HingeEmbeddingLoss",
    "MultiLabelMarginLoss",
    "HuberLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "CosineEmbeddingLoss",
    "MultiMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "CTCLoss",
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
    "state_dict",
    "load_state_dict",
    "save_state_dict",
    "named_parameters",
    "parameters",
    "num_parameters",
    "StateDictError",
    "IncompatibleKeys",
    "make_train_step",
    "make_eval_step",
    "make_multi_step",
    "split_model",
    "fit",
    "History",
    "Callback",
    "EarlyStopping",
    "NonFiniteLossError",
    "Checkpointer",
    "dynamic_loss_scale",
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
]
