"""torch's Transformer family: encoder/decoder layers, their stacks, and the
encoder-decoder ``Transformer``, with torch's submodule names (so state_dict keys
are ``layers.0.self_attn.in_proj_weight``, ``layers.0.linear1.weight``,
``layers.0.norm1.weight`` ...)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from ._common import require_rngs
from .attention import MultiheadAttention, _canonical
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .norm import LayerNorm

__all__ = [
    "Transformer",
    "TransformerEncoder",
    "TransformerDecoder",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
]

Activation = Union[str, Callable[[jax.Array], jax.Array]]


def _activation(activation: Activation) -> Callable[[jax.Array], jax.Array]:
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"activation should be relu/gelu, not {activation!r}")
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


def _generate_square_subsequent_mask(sz: int, dtype: Any = None) -> jax.Array:
    return jnp.triu(jnp.full((sz, sz), -jnp.inf, dtype or jnp.float32), k=1)


def _clones(module: Module, n: int) -> ModuleList:
    """torch's ``_get_clones``: ``n`` deep copies, so the layers start with equal
    weights as in torch. Each copy's rng streams are re-keyed with its index, so
    the layers draw independent dropout masks."""
    copies = []
    for i in range(n):
        clone = nnx.clone(module)
        for _, stream in nnx.iter_graph(clone):
            if isinstance(stream, nnx.RngStream):
                stream.key[...] = jax.random.fold_in(stream.key[...], i)
        copies.append(clone)
    return ModuleList(copies)


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual and LayerNorm,
    torch's ``nn.TransformerEncoderLayer``:

        post-norm (default): x = norm1(x + sa(x)); x = norm2(x + ff(x))
        norm_first=True:     x = x + sa(norm1(x)); x = x + ff(norm2(x))
        ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))

    Args as torch: ``d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation='relu'`` ('relu', 'gelu' or a callable such as ``jaxnn.GELU()``),
    ``layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True``;
    ``rngs`` for the initial draw and the dropout streams.

    Called as ``layer(src, src_mask=None, src_key_padding_mask=None,
    is_causal=False)``; masks as :class:`jaxnn.MultiheadAttention` (boolean True
    = blocked). torch's inference fast path computes the same formula.

    >>> layer = TransformerEncoderLayer(8, 2, 16, batch_first=True, rngs=nnx.Rngs(0)).eval()  # no dropout
    >>> layer(jnp.ones((3, 5, 8))).shape
    (3, 5, 8)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        rngs = require_rngs(rngs, "TransformerEncoderLayer")
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, rngs=rngs, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rngs=rngs, dtype=dtype)
        self.dropout = Dropout(dropout, rngs=rngs)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rngs=rngs, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rngs=rngs)
        self.dropout2 = Dropout(dropout, rngs=rngs)
        self.activation = _activation(activation)

    def __call__(
        self,
        src: ArrayLike,
        src_mask: Optional[ArrayLike] = None,
        src_key_padding_mask: Optional[ArrayLike] = None,
        is_causal: bool = False,
    ) -> jax.Array:
        x = jnp.asarray(src)
        src_key_padding_mask, src_mask = _canonical(
            src_key_padding_mask, src_mask, x.dtype, "src_key_padding_mask", "src_mask"
        )
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> jax.Array:
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x) -> jax.Array:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention, attention over ``memory``, and a feed-forward block, torch's
    ``nn.TransformerDecoderLayer``:

        post-norm: x = norm1(x + sa(x)); x = norm2(x + mha(x, mem)); x = norm3(x + ff(x))
        norm_first: x = x + sa(norm1(x)); x = x + mha(norm2(x), mem); x = x + ff(norm3(x))

    Arguments as :class:`TransformerEncoderLayer`. Called as ``layer(tgt, memory,
    tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``.

    >>> layer = TransformerDecoderLayer(8, 2, 16, rngs=nnx.Rngs(0)).eval()  # no dropout
    >>> layer(jnp.ones((4, 3, 8)), jnp.ones((6, 3, 8))).shape
    (4, 3, 8)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        rngs = require_rngs(rngs, "TransformerDecoderLayer")
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, rngs=rngs, dtype=dtype
        )
        self.multihead_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, rngs=rngs, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rngs=rngs, dtype=dtype)
        self.dropout = Dropout(dropout, rngs=rngs)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rngs=rngs, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rngs=rngs)
        self.dropout2 = Dropout(dropout, rngs=rngs)
        self.dropout3 = Dropout(dropout, rngs=rngs)
        self.activation = _activation(activation)

    def __call__(
        self,
        tgt: ArrayLike,
        memory: ArrayLike,
        tgt_mask: Optional[ArrayLike] = None,
        memory_mask: Optional[ArrayLike] = None,
        tgt_key_padding_mask: Optional[ArrayLike] = None,
        memory_key_padding_mask: Optional[ArrayLike] = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        x, mem = jnp.asarray(tgt), jnp.asarray(memory)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> jax.Array:
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal, need_weights=False
        )[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal) -> jax.Array:
        x = self.multihead_attn(
            x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x) -> jax.Array:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm``;
    torch's ``nn.TransformerEncoder``.

    The copies are deep copies, as torch's ``_get_clones``: every layer starts
    with the same weights as ``encoder_layer`` (``Transformer`` then redraws the
    matrices); each copy draws its own dropout masks.

    ``enable_nested_tensor`` and ``mask_check`` are accepted for torch
    compatibility and change nothing: jaxnn always computes the padded positions.
    torch's nested-tensor path (eval mode, a ``src_key_padding_mask``, batch_first
    post-norm layers) instead returns 0 at padded positions (before ``norm``); the
    unpadded positions agree.

    Called as ``encoder(src, mask=None, src_key_padding_mask=None,
    is_causal=None)``; ``is_causal=True`` is torch's hint that ``mask`` is the
    causal mask.
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Optional[Module] = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        if num_layers < 0:
            raise ValueError(f"TransformerEncoder: num_layers must be >= 0, got {num_layers}")
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def __call__(
        self,
        src: ArrayLike,
        mask: Optional[ArrayLike] = None,
        src_key_padding_mask: Optional[ArrayLike] = None,
        is_causal: Optional[bool] = None,
    ) -> jax.Array:
        output = jnp.asarray(src)
        src_key_padding_mask, mask = _canonical(
            src_key_padding_mask, mask, output.dtype, "src_key_padding_mask", "mask"
        )
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=bool(is_causal), src_key_padding_mask=src_key_padding_mask)
        return self.norm(output) if self.norm is not None else output


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn, then ``norm``;
    torch's ``nn.TransformerDecoder``. Called as ``decoder(tgt, memory, tgt_mask=None,
    memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=None, memory_is_causal=False)``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Optional[Module] = None) -> None:
        if num_layers < 0:
            raise ValueError(f"TransformerDecoder: num_layers must be >= 0, got {num_layers}")
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def __call__(
        self,
        tgt: ArrayLike,
        memory: ArrayLike,
        tgt_mask: Optional[ArrayLike] = None,
        memory_mask: Optional[ArrayLike] = None,
        tgt_key_padding_mask: Optional[ArrayLike] = None,
        memory_key_padding_mask: Optional[ArrayLike] = None,
        tgt_is_causal: Optional[bool] = None,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        output = jnp.asarray(tgt)
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        return self.norm(output) if self.norm is not None else output


class Transformer(Module):
    """The encoder-decoder Transformer, torch's ``nn.Transformer``: ``encoder``
    (a :class:`TransformerEncoder` with a final LayerNorm) and ``decoder`` (a
    :class:`TransformerDecoder` with a final LayerNorm), with torch's arguments
    and defaults (``d_model=512, nhead=8, num_encoder_layers=6,
    num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, activation='relu',
    custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
    batch_first=False, norm_first=False, bias=True``).

    Initialisation as torch: after building, every parameter with more than one
    dimension is redrawn xavier-uniform (biases and LayerNorms keep theirs).

    Called as ``model(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``.

    >>> model = Transformer(8, 2, 1, 1, 16, rngs=nnx.Rngs(0)).eval()  # no dropout
    >>> model(jnp.ones((5, 2, 8)), jnp.ones((4, 2, 8))).shape
    (4, 2, 8)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = "relu",
        custom_encoder: Optional[Module] = None,
        custom_decoder: Optional[Module] = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        rngs = require_rngs(rngs, "Transformer")
        layer_args = (
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            encoder_layer = TransformerEncoderLayer(*layer_args, rngs=rngs, dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(*layer_args, rngs=rngs, dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, norm)
        for _, p in nnx.iter_graph(self):
            if isinstance(p, Parameter) and p[...].ndim > 1:
                p[...] = init.xavier_uniform_(rngs.params(), p[...].shape, dtype=p[...].dtype)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def __call__(
        self,
        src: ArrayLike,
        tgt: ArrayLike,
        src_mask: Optional[ArrayLike] = None,
        tgt_mask: Optional[ArrayLike] = None,
        memory_mask: Optional[ArrayLike] = None,
        src_key_padding_mask: Optional[ArrayLike] = None,
        tgt_key_padding_mask: Optional[ArrayLike] = None,
        memory_key_padding_mask: Optional[ArrayLike] = None,
        src_is_causal: Optional[bool] = None,
        tgt_is_causal: Optional[bool] = None,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        s, t = jnp.asarray(src), jnp.asarray(tgt)
        if s.ndim == 3:
            axis = 0 if self.batch_first else 1
            if t.ndim != 3 or s.shape[axis] != t.shape[axis]:
                raise ValueError(f"Transformer: the batch number of src {s.shape} and tgt {t.shape} must be equal")
        if s.shape[-1] != self.d_model or t.shape[-1] != self.d_model:
            raise ValueError(
                f"Transformer: the feature number of src {s.shape} and tgt {t.shape} must be equal to "
                f"d_model={self.d_model}"
            )
        memory = self.encoder(s, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(
            t,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> jax.Array:
        """``(sz, sz)`` float mask: 0 on and below the diagonal, -inf above (torch's causal mask)."""
        return _generate_square_subsequent_mask(sz, dtype)
