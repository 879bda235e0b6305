"""Recurrent layers RNN, LSTM, GRU and their single-step cells, torch's layout.

Parameters carry torch's names and shapes (``weight_ih_l{k}[_reverse]``,
``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}`` for an
LSTM projection; ``weight_ih`` ... for cells), gates stacked in torch's order
(LSTM ``i, f, g, o``; GRU ``r, z, n``), every one drawn from
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as torch's ``reset_parameters``.
The numbers are in :mod:`jaxnn.functional._rnn`; docs/recurrent.md has the
formulas and how packing maps to JAX.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional, Union, cast

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from ..functional import _rnn
from ..module import Module
from ..parameter import Parameter
from ._common import float_dtype, require_rngs, uniform_fan_in
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_NONLINEARITY = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}


def _typed(value: Any, kind: type, name: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} should be of type {kind.__name__}, got: {type(value).__name__}")


def _nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in _NONLINEARITY:
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return _NONLINEARITY[nonlinearity]


class RNNBase(Module):
    """The stacked recurrent network behind :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    Args:
      mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
      input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as torch.
      proj_size: as torch (LSTM only).
      rngs: ``nnx.Rngs`` for the initial draw; its ``dropout`` stream (else
        ``default``) is forked and kept for inter-layer dropout when
        ``dropout > 0`` and ``num_layers > 1``.
      dtype: parameter dtype (float32 by default).
      unroll: time steps per ``lax.scan`` iteration (jaxnn's; 1 keeps one
        compiled step, larger trades compile time for speed).

    Call ``layer(input, hx=None)``: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)``
    with ``batch_first``), ``(L, H_in)`` unbatched, or a :class:`PackedSequence`;
    ``hx`` ``(D * num_layers, N, H_out)`` (LSTM: a pair ``(h_0, c_0)``, ``c_0``
    with ``hidden_size``), zeros if omitted. Returns ``(output, h_n)`` (LSTM
    ``(output, (h_n, c_n))``); ``output`` ``(L, N, D * H_out)``, a PackedSequence
    for packed input. Inter-layer dropout runs in training mode only; the masks
    are JAX's random bits, not torch's.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
        unroll: Union[int, bool] = 1,
    ) -> None:
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                f"element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        _typed(bias, bool, "bias")
        _typed(batch_first, bool, "batch_first")
        _typed(input_size, int, "input_size")
        if input_size <= 0:
            raise ValueError(f"input_size must be greater than zero, got {input_size}")
        _typed(hidden_size, int, "hidden_size")
        if hidden_size <= 0:
            raise ValueError(f"hidden_size must be greater than zero, got {hidden_size}")
        _typed(num_layers, int, "num_layers")
        if num_layers <= 0:
            raise ValueError(f"num_layers must be greater than zero, got {num_layers}")
        if proj_size < 0:
            raise ValueError(f"proj_size should be a positive integer or zero to disable projections, got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}")
        if mode not in _rnn.GATES:
            raise ValueError("Unrecognized RNN mode: " + str(mode))
        if proj_size > 0 and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        rngs = require_rngs(rngs, type(self).__name__)
        dtype = float_dtype(dtype)
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size, self.unroll = bidirectional, proj_size, unroll
        directions = 2 if bidirectional else 1
        gate_size = _rnn.GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                shapes: dict[str, tuple[int, ...]] = {
                    "weight_ih": (gate_size, layer_input),
                    "weight_hh": (gate_size, real_hidden),
                }
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size > 0:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                suffix = "_reverse" if direction == 1 else ""
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(uniform_fan_in(rngs, shape, hidden_size, dtype)))
                    names.append(name)
        self._flat_weights_names = tuple(names)
        self.rngs = rngs.dropout.fork() if dropout > 0 and num_layers > 1 else None

    @property
    def all_weights(self) -> list[list[jax.Array]]:
        """torch's ``all_weights``: per layer and direction, its parameters in torch's order."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        flat = [getattr(self, n)[...] for n in self._flat_weights_names]
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    def _weights(self) -> list[_rnn.Weights]:
        directions = 2 if self.bidirectional else 1
        out: list[_rnn.Weights] = []
        for layer in range(self.num_layers):
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                names = [k + suffix for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
                # The two weights always exist; the biases and projection may not.
                w = tuple(getattr(self, n)[...] if hasattr(self, n) else None for n in names)
                out.append(cast(_rnn.Weights, w))
        return out

    def _state(self, hx: Any, batch: int, dtype: Any, batched: bool) -> tuple[jax.Array, Optional[jax.Array]]:
        """(h_0, c_0) time-major ``(D * num_layers, N, *)``, checked as torch's check_forward_args."""
        lstm = self.mode == "LSTM"
        count = self.num_layers * (2 if self.bidirectional else 1)
        h_size = (count, batch, self.proj_size or self.hidden_size)
        c_size = (count, batch, self.hidden_size)
        if hx is None:
            return jnp.zeros(h_size, dtype), (jnp.zeros(c_size, dtype) if lstm else None)
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a pair (h_0, c_0)")
            states = [jnp.asarray(hx[0]), jnp.asarray(hx[1])]
        else:
            states = [jnp.asarray(hx)]
        ndim = 3 if batched else 2
        if any(s.ndim != ndim for s in states):
            what = "hx and cx" if lstm else "hx"
            kind = "batched 3-D" if batched else "unbatched 2-D"
            got = ", ".join(f"{s.ndim}-D" for s in states)
            raise ValueError(f"For {kind} input, {what} should also be {ndim}-D but got ({got}) tensors")
        if not batched:
            states = [s[:, None] for s in states]
        expected = [h_size, c_size]
        for i, s in enumerate(states):
            if s.shape != expected[i]:
                which = "hidden" if i == 0 else "hidden[1]"
                raise ValueError(f"Expected {which} size {expected[i]}, got {list(s.shape)}")
        return states[0], (states[1] if lstm else None)

    def __call__(self, input: Union[ArrayLike, PackedSequence], hx: Any = None) -> tuple[Any, Any]:
        name = type(self).__name__
        packed = input if isinstance(input, PackedSequence) else None
        lengths: Optional[ArrayLike]
        if packed is not None:
            x, lengths, batched = jnp.asarray(packed.padded), packed.lengths, True
            if x.ndim != 3:
                raise ValueError(f"{name}: packed input must hold (T, B, {self.input_size}) data, got {x.shape}")
        else:
            x, lengths = jnp.asarray(input), None
            if x.ndim not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D tensor instead")
            batched = x.ndim == 3
            x = (jnp.swapaxes(x, 0, 1) if self.batch_first else x) if batched else x[:, None]
        weight_dtype = self._weights()[0][0].dtype
        if x.dtype != weight_dtype:
            raise ValueError(
                f"RNN input dtype ({x.dtype}) does not match weight dtype ({weight_dtype}). "
                f"Convert input: input.astype({weight_dtype}), or build the model with dtype={x.dtype}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[-1]}"
            )
        h0, c0 = self._state(hx, x.shape[1], x.dtype, batched)
        train = self.training and self.dropout > 0 and self.num_layers > 1
        out: Any  # an array, or a PackedSequence of one when packed
        out, h_n, c_n = _rnn.rnn(
            self.mode,
            x,
            h0,
            c0,
            self._weights(),
            self.num_layers,
            self.bidirectional,
            lengths=lengths,
            dropout=self.dropout,
            # train implies dropout > 0 and num_layers > 1, when __init__ forked self.rngs
            key=self.rngs() if train else None,  # type: ignore[misc]
            unroll=self.unroll,
        )
        if packed is not None:
            out = PackedSequence(out, packed.lengths, packed.enforce_sorted)
        elif not batched:
            out, h_n, c_n = out[:, 0], h_n[:, 0], (None if c_n is None else c_n[:, 0])
        elif self.batch_first:
            out = jnp.swapaxes(out, 0, 1)
        return out, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act
    ``tanh`` or ``relu`` (``nonlinearity``), stacked ``num_layers`` deep.

    torch's positional order: ``(input_size, hidden_size, num_layers=1,
    nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``. See :class:`RNNBase` for shapes.

    >>> rnn = RNN(10, 20, 2, rngs=nnx.Rngs(0))
    >>> output, h_n = rnn(jnp.ones((5, 3, 10)))
    >>> output.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
        unroll: Union[int, bool] = 1,
    ) -> None:
        mode = _nonlinearity(nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(
            mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            rngs=rngs, dtype=dtype, unroll=unroll,
        )


class LSTM(RNNBase):
    """Long short-term memory, torch's gate order ``i, f, g, o``:

    ``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of ``x W_ih^T + b_ih + h W_hh^T + b_hh``;
    ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``, then ``h_t W_hr^T`` when
    ``proj_size > 0`` (``h`` has ``proj_size`` features, ``c`` ``hidden_size``).

    Returns ``(output, (h_n, c_n))``. See :class:`RNNBase` for shapes.

    >>> lstm = LSTM(10, 20, 2, proj_size=5, rngs=nnx.Rngs(0))
    >>> output, (h_n, c_n) = lstm(jnp.ones((5, 3, 10)))
    >>> output.shape, h_n.shape, c_n.shape
    ((5, 3, 5), (2, 3, 5), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
        unroll: Union[int, bool] = 1,
    ) -> None:
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size,
            rngs=rngs, dtype=dtype, unroll=unroll,
        )


class GRU(RNNBase):
    """Gated recurrent unit, torch's gate order ``r, z, n``:

    ``r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)``, ``z`` likewise,
    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))`` (``b_hn`` inside the
    reset product), ``h_t = (1 - z) n + z h_{t-1}``.

    See :class:`RNNBase` for shapes.

    >>> gru = GRU(10, 20, bidirectional=True, rngs=nnx.Rngs(0))
    >>> output, h_n = gru(jnp.ones((5, 3, 10)))
    >>> output.shape, h_n.shape
    ((5, 3, 40), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
        unroll: Union[int, bool] = 1,
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            rngs=rngs, dtype=dtype, unroll=unroll,
        )


class RNNCellBase(Module):
    """One time step: ``weight_ih`` ``(num_chunks * hidden_size, input_size)``,
    ``weight_hh`` ``(num_chunks * hidden_size, hidden_size)``, ``bias_ih`` and
    ``bias_hh`` ``(num_chunks * hidden_size,)``, all U(-1/sqrt(hidden_size),
    1/sqrt(hidden_size)). Input ``(N, input_size)`` or ``(input_size,)``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        rngs = require_rngs(rngs, type(self).__name__)
        _typed(input_size, int, "input_size")
        _typed(hidden_size, int, "hidden_size")
        if input_size < 0 or hidden_size < 0:
            raise ValueError(f"input_size and hidden_size must be >= 0, got {input_size} and {hidden_size}")
        dtype = float_dtype(dtype)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(uniform_fan_in(rngs, (gates, input_size), hidden_size, dtype))
        self.weight_hh = Parameter(uniform_fan_in(rngs, (gates, hidden_size), hidden_size, dtype))
        self.bias_ih = Parameter(uniform_fan_in(rngs, (gates,), hidden_size, dtype)) if bias else None
        self.bias_hh = Parameter(uniform_fan_in(rngs, (gates,), hidden_size, dtype)) if bias else None

    def _step(self, mode: str, input: ArrayLike, hx: Any, count: int) -> tuple[Any, bool]:
        """Checks as torch's cells and runs one step; returns the new state(s) batched
        and whether the input was batched."""
        name = type(self).__name__
        x = jnp.asarray(input)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        batched = x.ndim == 2
        x = x if batched else x[None]
        if x.shape[1] != self.input_size:
            raise ValueError(
                f"{name}: input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}"
            )
        if hx is None:
            states = [jnp.zeros((x.shape[0], self.hidden_size), x.dtype)] * count
        else:
            states = [jnp.asarray(h) for h in (hx if count == 2 else (hx,))]
            for i, s in enumerate(states):
                if s.ndim != jnp.ndim(input):
                    raise ValueError(
                        f"{name}: hidden{i} must be {jnp.ndim(input)}D like the input "
                        f"{jnp.shape(input)}, got shape {s.shape}"
                    )
            states = [s if batched else s[None] for s in states]
            for i, s in enumerate(states):
                if s.shape[0] != x.shape[0]:
                    raise ValueError(
                        f"{name}: Input batch size {x.shape[0]} doesn't match hidden{i} batch size {s.shape[0]}"
                    )
                if s.shape[1] != self.hidden_size:
                    raise ValueError(
                        f"{name}: hidden{i} has inconsistent hidden_size: got {s.shape[1]}, "
                        f"expected {self.hidden_size}"
                    )
        bias_ih = self.bias_ih[...] if self.bias_ih is not None else None
        bias_hh = self.bias_hh[...] if self.bias_hh is not None else None
        h, c = _rnn.cell_step(
            mode, x, states[0], states[1] if count == 2 else None,
            self.weight_ih[...], self.weight_hh[...], bias_ih, bias_hh,
        )
        return (h, c), batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")  # RNNCell's only
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act ``tanh`` or ``relu``.

    Call ``cell(input, hx=None)`` -> ``h'`` ``(N, hidden_size)`` (``(hidden_size,)``
    unbatched); ``hx`` zeros if omitted. torch accepts any ``nonlinearity`` at
    construction and fails at the first call; jaxnn refuses it at construction.

    >>> RNNCell(3, 4, rngs=nnx.Rngs(0))(jnp.ones((2, 3))).shape
    (2, 4)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        self._mode = _nonlinearity(nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, rngs=rngs, dtype=dtype)

    def __call__(self, input: ArrayLike, hx: Optional[ArrayLike] = None) -> jax.Array:
        (h, _), batched = self._step(self._mode, input, hx, 1)
        return h if batched else h[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates ``i, f, g, o``); ``cell(input, (h, c)=None)`` -> ``(h', c')``.

    >>> h, c = LSTMCell(3, 4, rngs=nnx.Rngs(0))(jnp.ones((2, 3)))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, rngs=rngs, dtype=dtype)

    def __call__(
        self, input: ArrayLike, hx: Optional[tuple[ArrayLike, ArrayLike]] = None
    ) -> tuple[jax.Array, jax.Array]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a pair (h, c)")
        (h, c), batched = self._step("LSTM", input, hx, 2)
        return (h, c) if batched else (h[0], c[0])


class GRUCell(RNNCellBase):
    """One GRU step (gates ``r, z, n``, ``b_hn`` inside the reset product);
    ``cell(input, hx=None)`` -> ``h'``.

    >>> GRUCell(3, 4, rngs=nnx.Rngs(0))(jnp.ones(3)).shape
    (4,)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, rngs=rngs, dtype=dtype)

    def __call__(self, input: ArrayLike, hx: Optional[ArrayLike] = None) -> jax.Array:
        (h, _), batched = self._step("GRU", input, hx, 1)
        return h if batched else h[0]
