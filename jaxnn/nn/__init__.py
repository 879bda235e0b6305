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
from .conv import Conv1d as Conv1d
from .conv import Conv2d as Conv2d
from .conv import ConvTranspose1d as ConvTranspose1d
from .conv import ConvTranspose2d as ConvTranspose2d
from .norm import LayerNorm as LayerNorm
from .norm import GroupNorm as GroupNorm
from .norm import BatchNorm1d as BatchNorm1d
from .norm import BatchNorm2d as BatchNorm2d
from .norm import BatchNorm3d as BatchNorm3d
from .embedding import Embedding as Embedding
from .dropout import Dropout as Dropout
from .pooling import MaxPool1d as MaxPool1d
from .pooling import MaxPool2d as MaxPool2d
from .pooling import AvgPool1d as AvgPool1d
from .pooling import AvgPool2d as AvgPool2d
from .pooling import AdaptiveAvgPool1d as AdaptiveAvgPool1d
from .pooling import AdaptiveAvgPool2d as AdaptiveAvgPool2d
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
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "LayerNorm",
    "GroupNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
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
