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
from .nn import Conv1d as Conv1d
from .nn import Conv2d as Conv2d
from .nn import ConvTranspose1d as ConvTranspose1d
from .nn import ConvTranspose2d as ConvTranspose2d
from .nn import LayerNorm as LayerNorm
from .nn import GroupNorm as GroupNorm
from .nn import BatchNorm1d as BatchNorm1d
from .nn import BatchNorm2d as BatchNorm2d
from .nn import BatchNorm3d as BatchNorm3d
from .nn import Embedding as Embedding
from .nn import Dropout as Dropout
from .nn import MaxPool1d as MaxPool1d
from .nn import MaxPool2d as MaxPool2d
from .nn import AvgPool1d as AvgPool1d
from .nn import AvgPool2d as AvgPool2d
from .nn import AdaptiveAvgPool1d as AdaptiveAvgPool1d
from .nn import AdaptiveAvgPool2d as AdaptiveAvgPool2d
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
    "RNNBase",
    "RNN",
    "LSTM",
    "GRU",
    "RNNCellBase",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
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
]
