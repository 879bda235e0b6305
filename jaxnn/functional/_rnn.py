"""The recurrent kernels behind ``jaxnn.RNN/LSTM/GRU`` and their cells (torch exposes
no public functional form for them, so these stay private).

Each layer and direction is one ``lax.scan`` over time whose body is the cell; the
input projection ``x W_ih^T + b_ih`` of every time step is one matmul before the
scan, as ATen's CPU path does. Packed sequences run on padded data with a
``(T, B)`` validity mask: a step past a sequence's length leaves its state as it
was and writes a zero output, so the forward direction ends at each sequence's
own length and the reverse direction starts there, which is what torch's packed
kernels compute.

The cell formulas are ATen's, in its order of operations (``RNN.cpp``):

* RNN: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act tanh or relu.
* LSTM: gates ``i, f, g, o`` (in that order along the 4H axis);
  ``c' = f c + i g``, ``h' = o tanh(c')``, then ``h' W_hr^T`` with a projection.
* GRU: gates ``r, z, n``; ``n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn))``
  (``b_hn`` inside the reset product), ``h' = (h - n) z + n``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union, cast

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _ops

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

# (w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction; absent ones are None.
Weights = tuple[jax.Array, jax.Array, Optional[jax.Array], Optional[jax.Array], Optional[jax.Array]]


def _linear(x: jax.Array, w: jax.Array, b: Optional[jax.Array]) -> jax.Array:
    y = x @ w.T
    return y + b if b is not None else y


def cell(
    mode: str,
    gi: jax.Array,
    h: jax.Array,
    c: Optional[jax.Array],
    w_hh_t: jax.Array,
    b_hh: Optional[jax.Array],
    w_hr_t: Optional[jax.Array] = None,
) -> tuple[jax.Array, Optional[jax.Array]]:
    """One step from the input projection ``gi = x W_ih^T + b_ih`` ``(B, G*H)`` and the
    state ``h`` ``(B, H_out)`` (and ``c`` ``(B, H)`` for LSTM) -> ``(h', c')``.

    ``w_hh_t`` and ``w_hr_t`` are ``W_hh^T`` and ``W_hr^T``, transposed once by the
    caller rather than in every step of the scan."""
    gh = h @ w_hh_t if b_hh is None else h @ w_hh_t + b_hh
    if mode == "RNN_TANH":
        return jnp.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return _ops.relu(gi + gh), None
    if mode == "LSTM":
        assert c is not None, "an LSTM step needs its cell state"
        i, f, g, o = jnp.split(gh + gi, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        return (h_new @ w_hr_t if w_hr_t is not None else h_new), c_new
    ir, iz, in_ = jnp.split(gi, 3, axis=-1)
    hr, hz, hn = jnp.split(gh, 3, axis=-1)
    r = jax.nn.sigmoid(hr + ir)
    z = jax.nn.sigmoid(hz + iz)
    n = jnp.tanh(in_ + hn * r)
    return (h - n) * z + n, None


def cell_step(
    mode: str,
    input: jax.Array,
    h: jax.Array,
    c: Optional[jax.Array],
    w_ih: jax.Array,
    w_hh: jax.Array,
    b_ih: Optional[jax.Array],
    b_hh: Optional[jax.Array],
) -> tuple[jax.Array, Optional[jax.Array]]:
    """torch's ``rnn_tanh_cell`` / ``rnn_relu_cell`` / ``lstm_cell`` / ``gru_cell`` on
    a batch: ``input`` ``(B, H_in)``, ``h`` (and ``c``) ``(B, H)``."""
    return cell(mode, _linear(input, w_ih, b_ih), h, c, w_hh.T, b_hh)


def _direction(
    mode: str,
    x: jax.Array,
    h0: jax.Array,
    c0: Optional[jax.Array],
    weights: Weights,
    mask: Optional[jax.Array],
    reverse: bool,
    unroll: Union[int, bool],
) -> tuple[jax.Array, jax.Array, Optional[jax.Array]]:
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    gi = _linear(x, w_ih, b_ih)
    w_hh_t = w_hh.T
    w_hr_t = None if w_hr is None else w_hr.T

    def step(carry, inputs):
        h, c = carry
        g, m = inputs
        h_new, c_new = cell(mode, g, h, c, w_hh_t, b_hh, w_hr_t)
        if m is None:
            return (h_new, c_new), h_new
        m = m[:, None]
        h_new = jnp.where(m, h_new, h)
        if c is not None:  # LSTM: then cell() returned a cell state too
            c_new = jnp.where(m, cast(jax.Array, c_new), c)
        return (h_new, c_new), jnp.where(m, h_new, jnp.zeros_like(h_new))

    (h_n, c_n), out = jax.lax.scan(step, (h0, c0), (gi, mask), reverse=reverse, unroll=unroll)
    return out, h_n, c_n


def rnn(
    mode: str,
    input: jax.Array,
    h0: jax.Array,
    c0: Optional[jax.Array],
    weights: Sequence[Weights],
    num_layers: int,
    bidirectional: bool,
    *,
    lengths: Optional[ArrayLike] = None,
    dropout: float = 0.0,
    key: Optional[jax.Array] = None,
    unroll: Union[int, bool] = 1,
) -> tuple[jax.Array, jax.Array, Optional[jax.Array]]:
    """A stacked (bi)directional recurrent network, torch's ``_VF.rnn_tanh/lstm/gru``.

    Args:
      mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
      input: ``(T, B, H_in)``, time-major.
      h0: ``(num_layers * D, B, H_out)``; ``c0``: ``(num_layers * D, B, H)`` for LSTM.
      weights: one :data:`Weights` tuple per layer and direction, torch's order
        (layer 0 forward, layer 0 reverse, layer 1 forward, ...).
      lengths: ``(B,)`` valid lengths for packed input; steps at ``t >= length``
        keep the state and output zeros.
      dropout: inter-layer dropout probability applied to every layer's output
        but the last's (only when ``key`` is given, i.e. in training mode).
      unroll: passed to ``lax.scan``.

    Returns:
      ``(output (T, B, D * H_out), h_n, c_n)``, ``c_n`` None unless LSTM.
    """
    directions = 2 if bidirectional else 1
    mask = None
    if lengths is not None:
        mask = jnp.arange(input.shape[0])[:, None] < jnp.asarray(lengths)[None, :]
    x = input
    h_n: list[jax.Array] = []
    c_n: list[Any] = []  # arrays for LSTM, else Nones (not stacked)
    for layer in range(num_layers):
        if layer > 0 and key is not None and dropout > 0.0:
            key, sub = jax.random.split(key)
            if dropout == 1.0:
                x = x * jnp.zeros((), x.dtype)
            else:
                keep = jax.random.bernoulli(sub, 1.0 - dropout, x.shape)
                x = x * jnp.where(keep, 1.0 / (1.0 - dropout), 0.0).astype(x.dtype)
        outs = []
        for d in range(directions):
            k = layer * directions + d
            out, h, c = _direction(
                mode, x, h0[k], None if c0 is None else c0[k], weights[k], mask, d == 1, unroll
            )
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        x = outs[0] if directions == 1 else jnp.concatenate(outs, axis=-1)
    return x, jnp.stack(h_n), (jnp.stack(c_n) if c0 is not None else None)
