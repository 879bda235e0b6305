"""torch.nn.functional's losses and activations as pure JAX functions.

Same names, positional order, keyword names and defaults as PyTorch 2.13.
"""

from .regression import l1_loss as l1_loss
from .regression import mse_loss as mse_loss
from .regression import huber_loss as huber_loss
from .regression import smooth_l1_loss as smooth_l1_loss
from .probabilistic import gaussian_nll_loss as gaussian_nll_loss
from .probabilistic import poisson_nll_loss as poisson_nll_loss
from .probabilistic import kl_div as kl_div
from .classification import cross_entropy as cross_entropy
from .classification import nll_loss as nll_loss
from .classification import binary_cross_entropy as binary_cross_entropy
from .classification import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from .classification import soft_margin_loss as soft_margin_loss
from .classification import multilabel_soft_margin_loss as multilabel_soft_margin_loss
from .classification import multi_margin_loss as multi_margin_loss
from .classification import multilabel_margin_loss as multilabel_margin_loss
from .embedding import pairwise_distance as pairwise_distance
from .embedding import margin_ranking_loss as margin_ranking_loss
from .embedding import hinge_embedding_loss as hinge_embedding_loss
from .embedding import cosine_embedding_loss as cosine_embedding_loss
from .embedding import triplet_margin_loss as triplet_margin_loss
from .embedding import triplet_margin_with_distance_loss as triplet_margin_with_distance_loss
from .sequence import ctc_loss as ctc_loss
from .activation import relu as relu
from .activation import relu6 as relu6
from .activation import leaky_relu as leaky_relu
from .activation import hardtanh as hardtanh
from .activation import prelu as prelu
from .activation import elu as elu
from .activation import gelu as gelu
from .activation import silu as silu
from .activation import softplus as softplus
from .activation import sigmoid as sigmoid
from .activation import tanh as tanh
from .activation import softmax as softmax
from .activation import log_softmax as log_softmax
from .padding import pad as pad
from .interpolate import interpolate as interpolate
from .interpolate import upsample as upsample
from .interpolate import upsample_nearest as upsample_nearest
from .interpolate import upsample_bilinear as upsample_bilinear
from .grid_sample import grid_sample as grid_sample
from .grid_sample import affine_grid as affine_grid
from .shuffle import pixel_shuffle as pixel_shuffle
from .shuffle import pixel_unshuffle as pixel_unshuffle
from .shuffle import channel_shuffle as channel_shuffle
from .shuffle import native_channel_shuffle as native_channel_shuffle

__all__ = [
    "l1_loss",
    "mse_loss",
    "huber_loss",
    "smooth_l1_loss",
    "gaussian_nll_loss",
    "poisson_nll_loss",
    "kl_div",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "pairwise_distance",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "ctc_loss",
    "relu",
    "relu6",
    "leaky_relu",
    "hardtanh",
    "prelu",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "pad",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "grid_sample",
    "affine_grid",
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "native_channel_shuffle",
]
