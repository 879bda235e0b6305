"""MultiheadAttention: torch's parameters, keys, initialisation and forward."""

from __future__ import annotations

from typing import Any, Optional, Union

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from .. import init
from ..functional.attention import _canonical_mask, _mask_dtype_warning
from ..module import Module
from ..parameter import Parameter
from ._common import float_dtype, require_rngs
from .linear import Linear

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """torch's marker subclass of Linear for ``MultiheadAttention.out_proj`` (it keeps
    torch's quantization from swapping that layer); here it only carries torch's name,
    so the attention layer's repr reads as torch's. Same parameters and keys as Linear.

    >>> NonDynamicallyQuantizableLinear(2, 3, rngs=nnx.Rngs(0))
    NonDynamicallyQuantizableLinear(in_features=2, out_features=3, bias=True)
    """


def dropout_stream(rngs: Optional[Union[nnx.Rngs, nnx.RngStream]]) -> Optional[nnx.RngStream]:
    """A stream of its own for a layer's dropout: the ``dropout`` stream of ``rngs``
    (else ``default``) forked, as :class:`jaxnn.Dropout` keeps one."""
    if isinstance(rngs, nnx.Rngs):
        rngs = rngs.dropout
    return rngs.fork() if rngs is not None else None


def _canonical(
    key_padding_mask: Optional[ArrayLike], attn_mask: Optional[ArrayLike], dtype: Any, kpm_name: str, am_name: str
) -> tuple[Optional[jax.Array], Optional[jax.Array]]:
    """torch's ``_canonical_mask`` on both masks as its modules call it: boolean masks
    (True = blocked) become 0 / -inf floats, warning when the two kinds differ."""
    _mask_dtype_warning(key_padding_mask, attn_mask, kpm_name, am_name)
    return _canonical_mask(key_padding_mask, kpm_name, dtype), _canonical_mask(attn_mask, am_name, dtype)


class MultiheadAttention(Module):
    """Multi-head attention, torch's ``nn.MultiheadAttention``:
    ``concat(head_1..head_h) W_o^T + b_o`` with
    ``head_i = softmax(q_i k_i^T / sqrt(E/h) + mask) v_i``.

    Args:
      embed_dim: E, the query size and output size; num_heads: h, divides E.
      dropout: dropout on the attention weights in training mode.
      bias: learn ``in_proj_bias`` and ``out_proj.bias``.
      add_bias_kv: learn ``bias_k``/``bias_v`` ``(1, 1, E)`` appended to the keys and values.
      add_zero_attn: append a zero key and value (after the projections).
      kdim, vdim: key and value sizes (default E). When both equal E the
        projections are packed in ``in_proj_weight`` ``(3E, E)``; otherwise
        ``q_proj_weight`` ``(E, E)``, ``k_proj_weight`` ``(E, kdim)``,
        ``v_proj_weight`` ``(E, vdim)``, as torch's keys.
      batch_first: inputs ``(N, L, E)`` instead of ``(L, N, E)``.
      rngs: ``nnx.Rngs`` for the initial draw and (its ``dropout`` stream) the
        attention dropout.

    Initialisation as torch: xavier-uniform projections, zero ``in_proj_bias``
    and ``out_proj.bias``, ``out_proj.weight`` as ``Linear``'s default,
    xavier-normal ``bias_k``/``bias_v``.

    Called as ``mha(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` ->
    ``(attn_output, attn_weights or None)``; see
    :func:`jaxnn.functional.multi_head_attention_forward` for masks and shapes.
    Boolean masks are True where attention is *blocked*. torch's inference fast
    path (eval mode, self-attention, batch_first) computes the same formula; jaxnn
    always takes the general path.

    >>> mha = MultiheadAttention(8, 2, batch_first=True, rngs=nnx.Rngs(0))
    >>> x = jnp.ones((3, 5, 8))
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: Optional[int] = None,
        vdim: Optional[int] = None,
        batch_first: bool = False,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        rngs = require_rngs(rngs, "MultiheadAttention")
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                f"num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        dtype = float_dtype(dtype)
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight: Optional[Parameter]
        self.q_proj_weight: Optional[Parameter]
        self.k_proj_weight: Optional[Parameter]
        self.v_proj_weight: Optional[Parameter]
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(
                init.xavier_uniform_(rngs.params(), (3 * embed_dim, embed_dim), dtype=dtype)
            )
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            self.q_proj_weight = Parameter(init.xavier_uniform_(rngs.params(), (embed_dim, embed_dim), dtype=dtype))
            self.k_proj_weight = Parameter(init.xavier_uniform_(rngs.params(), (embed_dim, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(init.xavier_uniform_(rngs.params(), (embed_dim, self.vdim), dtype=dtype))
        self.in_proj_bias = Parameter(jnp.zeros((3 * embed_dim,), dtype)) if bias else None
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, rngs=rngs, dtype=dtype)
        if bias:
            assert self.out_proj.bias is not None  # built with bias=True
            self.out_proj.bias[...] = jnp.zeros((embed_dim,), dtype)
        self.bias_k: Optional[Parameter]
        self.bias_v: Optional[Parameter]
        if add_bias_kv:
            self.bias_k = Parameter(init.xavier_normal_(rngs.params(), (1, 1, embed_dim), dtype=dtype))
            self.bias_v = Parameter(init.xavier_normal_(rngs.params(), (1, 1, embed_dim), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self.rngs = dropout_stream(rngs)

    def __call__(
        self,
        query: ArrayLike,
        key: ArrayLike,
        value: ArrayLike,
        key_padding_mask: Optional[ArrayLike] = None,
        need_weights: bool = True,
        attn_mask: Optional[ArrayLike] = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[jax.Array, Optional[jax.Array]]:
        q, k, v = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
        if self.batch_first and q.ndim == 3:
            q, k, v = (jnp.swapaxes(x, 0, 1) for x in (q, k, v))
        dropout_key = None
        if self.training and 0.0 < self.dropout < 1.0:
            if self.rngs is None:
                raise ValueError("MultiheadAttention in training mode with dropout > 0 needs rngs=nnx.Rngs(seed)")
            dropout_key = self.rngs()

        def val(p):
            return None if p is None else p[...]

        out, weights = F.multi_head_attention_forward(
            q,
            k,
            v,
            self.embed_dim,
            self.num_heads,
            val(self.in_proj_weight),
            val(self.in_proj_bias),
            val(self.bias_k),
            val(self.bias_v),
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight[...],
            val(self.out_proj.bias),
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=val(self.q_proj_weight),
            k_proj_weight=val(self.k_proj_weight),
            v_proj_weight=val(self.v_proj_weight),
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            dropout_key=dropout_key,
        )
        if self.batch_first and q.ndim == 3:
            out = jnp.swapaxes(out, 0, 1)
        return out, weights
