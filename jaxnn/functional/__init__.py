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
from .nll import cross_entropy as cross_entropy
from .nll import nll_loss as nll_loss
from .logistic import binary_cross_entropy as binary_cross_entropy
from .logistic import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from .logistic import soft_margin_loss as soft_margin_loss
from .logistic import multilabel_soft_margin_loss as multilabel_soft_margin_loss
from .margin import multi_margin_loss as multi_margin_loss
from .margin import multilabel_margin_loss as multilabel_margin_loss
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
from .normalization import batch_norm as batch_norm
from .normalization import instance_norm as instance_norm
from .normalization import layer_norm as layer_norm
from .normalization import rms_norm as rms_norm
from .normalization import group_norm as group_norm
from .normalization import local_response_norm as local_response_norm
from .linear import linear as linear
from .linear import bilinear as bilinear
from .attention import scaled_dot_product_attention as scaled_dot_product_attention
from .attention import multi_head_attention_forward as multi_head_attention_forward
from .linear_cross_entropy import linear_cross_entropy as linear_cross_entropy
from .activation import threshold as threshold
from .activation import celu as celu
from .activation import selu as selu
from .activation import glu as glu
from .activation import hardshrink as hardshrink
from .activation import softshrink as softshrink
from .activation import hardsigmoid as hardsigmoid
from .activation import hardswish as hardswish
from .activation import logsigmoid as logsigmoid
from .activation import mish as mish
from .activation import rrelu as rrelu
from .activation import softmin as softmin
from .activation import softsign as softsign
from .activation import tanhshrink as tanhshrink
from .activation import gumbel_softmax as gumbel_softmax
from .activation import normalize as normalize
from .activation import one_hot as one_hot
from .dropout import dropout as dropout
from .dropout import alpha_dropout as alpha_dropout
from .dropout import feature_alpha_dropout as feature_alpha_dropout
from .dropout import dropout1d as dropout1d
from .dropout import dropout2d as dropout2d
from .dropout import dropout3d as dropout3d
from .distance import cosine_similarity as cosine_similarity
from .distance import pdist as pdist
from .sparse import embedding as embedding
from .sparse import embedding_bag as embedding_bag
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
from .conv import conv1d as conv1d
from .conv import conv2d as conv2d
from .conv import conv3d as conv3d
from .conv import conv_transpose1d as conv_transpose1d
from .conv import conv_transpose2d as conv_transpose2d
from .conv import conv_transpose3d as conv_transpose3d
from .conv import conv_tbc as conv_tbc
from .folding import unfold as unfold
from .folding import fold as fold
from .pooling import max_pool1d as max_pool1d
from .pooling import max_pool2d as max_pool2d
from .pooling import max_pool3d as max_pool3d
from .pooling import max_pool1d_with_indices as max_pool1d_with_indices
from .pooling import max_pool2d_with_indices as max_pool2d_with_indices
from .pooling import max_pool3d_with_indices as max_pool3d_with_indices
from .pooling import avg_pool1d as avg_pool1d
from .pooling import avg_pool2d as avg_pool2d
from .pooling import avg_pool3d as avg_pool3d
from .pooling import adaptive_avg_pool1d as adaptive_avg_pool1d
from .pooling import adaptive_avg_pool2d as adaptive_avg_pool2d
from .pooling import adaptive_avg_pool3d as adaptive_avg_pool3d
from .pooling import adaptive_max_pool1d as adaptive_max_pool1d
from .pooling import adaptive_max_pool2d as adaptive_max_pool2d
from .pooling import adaptive_max_pool3d as adaptive_max_pool3d
from .pooling import adaptive_max_pool1d_with_indices as adaptive_max_pool1d_with_indices
from .pooling import adaptive_max_pool2d_with_indices as adaptive_max_pool2d_with_indices
from .pooling import adaptive_max_pool3d_with_indices as adaptive_max_pool3d_with_indices
from .pooling import lp_pool1d as lp_pool1d
from .pooling import lp_pool2d as lp_pool2d
from .pooling import lp_pool3d as lp_pool3d
from .pooling import fractional_max_pool2d as fractional_max_pool2d
from .pooling import fractional_max_pool3d as fractional_max_pool3d
from .pooling import fractional_max_pool2d_with_indices as fractional_max_pool2d_with_indices
from .pooling import fractional_max_pool3d_with_indices as fractional_max_pool3d_with_indices
from .pooling import max_unpool1d as max_unpool1d
from .pooling import max_unpool2d as max_unpool2d
from .pooling import max_unpool3d as max_unpool3d
from .grouped_mm import grouped_mm as grouped_mm

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
    "batch_norm",
    "instance_norm",
    "layer_norm",
    "rms_norm",
    "group_norm",
    "local_response_norm",
    "linear",
    "bilinear",
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
    "linear_cross_entropy",
    "threshold",
    "celu",
    "selu",
    "glu",
    "hardshrink",
    "softshrink",
    "hardsigmoid",
    "hardswish",
    "logsigmoid",
    "mish",
    "rrelu",
    "softmin",
    "softsign",
    "tanhshrink",
    "gumbel_softmax",
    "normalize",
    "one_hot",
    "dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "cosine_similarity",
    "pdist",
    "embedding",
    "embedding_bag",
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
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "conv_tbc",
    "unfold",
    "fold",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "grouped_mm",
]
