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
from .conv import Conv3d as Conv3d
from .conv import ConvTranspose3d as ConvTranspose3d
from .fold import Fold as Fold
from .fold import Unfold as Unfold
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
