"""RNN, LSTM, GRU and their cells against torch: values, VJPs w.r.t. input, initial
states and every parameter, packed input, keys, init, dropout, errors, and a small
LSTM tagger trained with Adam step for step."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.nn.utils import rnn as jrnn
from tests.nn import as_dtype, assert_layer_parity, randn
from tests.parity import to_torch, tolerance

MODES = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}


def build(kind, input_size, hidden, layers=1, bidirectional=False, batch_first=False, bias=True, proj=0, dtype=None,
          **extra):
    """The same layer in jaxnn and torch (jaxnn's weights are then loaded from torch's)."""
    kwargs = dict(num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional, **extra)
    if kind.startswith("rnn_"):
        kwargs["nonlinearity"] = kind[4:]
    if proj:
        kwargs["proj_size"] = proj
    name = MODES[kind]
    return (
        getattr(jaxnn, name)(input_size, hidden, rngs=nnx.Rngs(0), dtype=dtype, **kwargs),
        getattr(torch.nn, name)(input_size, hidden, **kwargs),
    )


class JFlat(jaxnn.Module):
    """Output and final state(s) as one flat vector, so the shared single-output
    harness compares them all; packed input is built from static lengths."""

    def __init__(self, layer, lengths=None, lstm=False):
        self.layer, self.lengths, self.lstm = layer, lengths, lstm

    def __call__(self, x, *state):
        hx = None if not state else (tuple(state) if self.lstm else state[0])
        if self.lengths is not None:
            x = jrnn.pack_padded_sequence(x, list(self.lengths), self.layer.batch_first, enforce_sorted=False)
        out, h = self.layer(x, hx)
        if self.lengths is not None:
            out = jrnn.pad_packed_sequence(out, self.layer.batch_first)[0]
        return jnp.concatenate([a.ravel() for a in jax.tree.leaves((out, h))])


class TFlat(torch.nn.Module):
    def __init__(self, layer, lengths=None, lstm=False):
        super().__init__()
        self.layer, self.lengths, self.lstm = layer, lengths, lstm

    def forward(self, x, *state):
        hx = None if not state else (tuple(state) if self.lstm else state[0])
        pack = torch.nn.utils.rnn
        if self.lengths is not None:
            x = pack.pack_padded_sequence(x, list(self.lengths), self.layer.batch_first, enforce_sorted=False)
        out, h = self.layer(x, hx)
        if self.lengths is not None:
            out = pack.pad_packed_sequence(out, self.layer.batch_first)[0]
        return torch.cat([a.reshape(-1) for a in ((out,) + (h if self.lstm else (h,)))])


# Each option appears in a few combined cases rather than a full product:
# (kind, layers, bidirectional, batch_first, bias, proj_size, packed, unbatched, hx given, dtype)
CASES = [
    ("rnn_tanh", 1, True, False, True, 0, True, False, False, "float32"),
    ("rnn_relu", 3, True, True, False, 0, False, False, True, "float64"),
    ("rnn_tanh", 1, False, False, True, 0, False, True, True, "float64"),
    ("lstm", 1, False, False, True, 0, False, False, True, "float64"),
    ("lstm", 3, True, True, True, 2, False, False, True, "float32"),
    ("lstm", 1, True, True, False, 2, True, False, True, "float64"),
    ("lstm", 1, True, False, True, 3, False, True, True, "float32"),
    ("gru", 3, True, True, False, 0, False, False, True, "float64"),
    ("gru", 3, False, False, True, 0, True, False, True, "float32"),
    ("gru", 1, True, False, True, 0, False, True, False, "float64"),
]


def case_id(c):
    kind, layers, bidi, bf, bias, proj, packed, unbatched, hx, dtype = c
    flags = [kind, f"L{layers}", "bi" if bidi else "", "bf" if bf else "", "" if bias else "nobias",
             f"proj{proj}" if proj else "", "packed" if packed else "", "unbatched" if unbatched else "",
             "hx" if hx else "", dtype]
    return "-".join(f for f in flags if f)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_layer_parity(case):
    kind, layers, bidi, bf, bias, proj, packed, unbatched, with_hx, dtype = case
    with jax.enable_x64(dtype == "float64"):
        seq, batch, feat, hidden = 5, 3, 4, 4
        j, t = build(kind, feat, hidden, layers, bidi, bf, bias, proj, dtype=dtype)
        t = as_dtype(t, dtype)
        lstm = kind == "lstm"
        lengths = (3, 5, 2) if packed else None
        shape = (seq, feat) if unbatched else ((batch, seq, feat) if bf else (seq, batch, feat))
        inputs = [randn(*shape, dtype=dtype)]
        count = layers * (2 if bidi else 1)
        lead = (count,) if unbatched else (count, batch)
        if with_hx:
            inputs.append(randn(*lead, proj or hidden, dtype=dtype, seed=1))
            if lstm:
                inputs.append(randn(*lead, hidden, dtype=dtype, seed=2))
        assert_layer_parity(
            JFlat(j, lengths, lstm), TFlat(t, lengths, lstm), inputs, wrt=tuple(range(len(inputs)))
        )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bfloat16_within_half_precision_tolerance(kind):
    """bfloat16 parameters and input: values and gradients at bf16's resolution of torch's bf16 run."""
    j, t = build(kind, 4, 3, dtype=jnp.bfloat16)
    t = t.to(torch.bfloat16)
    x = np.asarray(jnp.asarray(randn(5, 2, 4), jnp.bfloat16))
    assert_layer_parity(JFlat(j, lstm=kind == "lstm"), TFlat(t, lstm=kind == "lstm"), [x])


class JCell(jaxnn.Module):
    def __init__(self, cell):
        self.cell = cell

    def __call__(self, x, *state):
        out = self.cell(x, (tuple(state) if len(state) == 2 else state[0]) if state else None)
        return jnp.concatenate([a.ravel() for a in jax.tree.leaves(out)])


class TCell(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, *state):
        out = self.cell(x, (tuple(state) if len(state) == 2 else state[0]) if state else None)
        return torch.cat([a.reshape(-1) for a in (out if isinstance(out, tuple) else (out,))])


# (cell, extra constructor args, bias, unbatched, hx given, dtype)
CELL_CASES = [
    ("RNNCell", {"nonlinearity": "tanh"}, True, False, True, "float32"),
    ("RNNCell", {"nonlinearity": "relu"}, False, True, True, "float64"),
    ("LSTMCell", {}, True, False, True, "float64"),
    ("LSTMCell", {}, False, True, False, "float32"),
    ("GRUCell", {}, True, False, True, "float32"),
    ("GRUCell", {}, True, True, False, "float64"),
]


@pytest.mark.parametrize("case", CELL_CASES, ids=lambda c: f"{c[0]}-{c[1].get('nonlinearity', '')}-{c[2]}-{c[3]}-{c[4]}-{c[5]}")
def test_cell_parity(case):
    name, extra, bias, unbatched, with_hx, dtype = case
    with jax.enable_x64(dtype == "float64"):
        j = getattr(jaxnn, name)(4, 3, bias=bias, rngs=nnx.Rngs(0), dtype=dtype, **extra)
        t = as_dtype(getattr(torch.nn, name)(4, 3, bias=bias, **extra), dtype)
        lead = () if unbatched else (2,)
        inputs = [randn(*lead, 4, dtype=dtype)]
        if with_hx:
            inputs += [randn(*lead, 3, dtype=dtype, seed=s) for s in range(1, 3 if name == "LSTMCell" else 2)]
        assert_layer_parity(JCell(j), TCell(t), inputs, wrt=tuple(range(len(inputs))))


@pytest.mark.parametrize(
    "kind,extra",
    [("RNN", {}), ("GRU", {"bias": False}), ("LSTM", {"proj_size": 2})],
)
def test_state_dict_keys_and_shapes_equal_torch(kind, extra):
    j = getattr(jaxnn, kind)(3, 4, 3, bidirectional=True, rngs=nnx.Rngs(0), **extra)
    t = getattr(torch.nn, kind)(3, 4, 3, bidirectional=True, **extra)
    assert [(k, v.shape) for k, v in jaxnn.state_dict(j).items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    assert list(j._flat_weights_names) == t._flat_weights_names
    assert [[w.shape for w in ws] for ws in j.all_weights] == [[tuple(w.shape) for w in ws] for ws in t.all_weights]


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_keys_equal_torch(name):
    for bias in (True, False):
        j, t = getattr(jaxnn, name)(3, 4, bias, rngs=nnx.Rngs(0)), getattr(torch.nn, name)(3, 4, bias)
        assert [(k, v.shape) for k, v in jaxnn.state_dict(j).items()] == [
            (k, tuple(v.shape)) for k, v in t.state_dict().items()
        ]


@pytest.mark.parametrize("layer", [
    lambda: jaxnn.LSTM(6, 100, proj_size=30, rngs=nnx.Rngs(0)),
    lambda: jaxnn.GRUCell(6, 100, rngs=nnx.Rngs(1)),
], ids=["lstm", "grucell"])
def test_default_init_is_torch_uniform(layer):
    """Every weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden)) (projection too): bounds,
    mean and std (bound / sqrt(3)) over all parameters."""
    values = np.concatenate([v.ravel() for v in jaxnn.state_dict(layer()).values()])
    bound = 1 / np.sqrt(100)
    assert values.min() >= -bound and values.max() <= bound
    assert abs(values.mean()) < 0.02 * bound
    np.testing.assert_allclose(values.std(), bound / np.sqrt(3), rtol=0.02)


def forward(layer, x):
    return layer(x)


jit_forward = nnx.jit(forward)


def test_loaded_torch_checkpoint_gives_torch_outputs_in_eval():
    """A stacked bidirectional GRU with dropout: eval mode switches dropout off in both."""
    j, t = build("gru", 4, 5, 2, True, dropout=0.5)
    jaxnn.load_state_dict(j, t.state_dict())
    j.eval(), t.eval()
    x = randn(6, 2, 4)
    out, h = jit_forward(j, jnp.asarray(x))
    tout, th = t(to_torch(x))
    rtol, atol = tolerance("float32")
    chex.assert_trees_all_close((out, h), (tout.detach().numpy(), th.detach().numpy()), rtol=rtol, atol=atol)


def test_dropout_one_in_training_equals_torch():
    """p = 1 zeroes every inter-layer input in both, so training mode is deterministic."""
    j, t = build("lstm", 4, 3, 2, dropout=1.0)
    assert_layer_parity(JFlat(j, lstm=True), TFlat(t, lstm=True), [randn(5, 2, 4)], train=True)


def test_dropout_draws_fresh_masks_in_training_only():
    j, _ = build("rnn_tanh", 4, 8, 2, dropout=0.5)
    x = jnp.asarray(randn(5, 2, 4))
    first, second = jit_forward(j, x)[0], jit_forward(j, x)[0]
    assert not np.allclose(first, second)
    j.eval()
    np.testing.assert_array_equal(jit_forward(j, x)[0], jit_forward(j, x)[0])
    assert not np.allclose(jit_forward(j, x)[0], first)


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        jaxnn.GRU(2, 3, dropout=0.2, rngs=nnx.Rngs(0))


def test_unrolled_scan_under_jit_with_traced_lengths_equals_torch():
    """unroll=4 and lengths traced by jit (the jit-friendly packed path) give torch's
    packed outputs and final states."""
    j = jaxnn.LSTM(4, 3, 2, bidirectional=True, unroll=4, rngs=nnx.Rngs(0))
    t = torch.nn.LSTM(4, 3, 2, bidirectional=True)
    jaxnn.load_state_dict(j, t.state_dict())
    x, lengths = randn(6, 3, 4), np.array([2, 6, 4])

    @nnx.jit
    def run(layer, x, lengths):
        out, (h, c) = layer(jrnn.pack_padded_sequence(x, lengths, enforce_sorted=False))
        return jrnn.pad_packed_sequence(out, padding_value=-1.0)[0], h, c

    got = run(j, jnp.asarray(x), jnp.asarray(lengths))
    pack = torch.nn.utils.rnn
    tout, (th, tc) = t(pack.pack_padded_sequence(to_torch(x), lengths, enforce_sorted=False))
    want = (pack.pad_packed_sequence(tout, padding_value=-1.0)[0], th, tc)
    rtol, atol = tolerance("float32")
    chex.assert_trees_all_close(got, tuple(w.detach().numpy() for w in want), rtol=rtol, atol=atol)


def test_packed_output_keeps_torch_fields():
    j, t = build("gru", 2, 3)
    jaxnn.load_state_dict(j, t.state_dict())
    seqs = [randn(n, 2, seed=n) for n in (2, 4, 3)]
    out, _ = jit_forward(j, jrnn.pack_sequence(seqs, enforce_sorted=False))
    tout, _ = t(torch.nn.utils.rnn.pack_sequence([to_torch(s) for s in seqs], enforce_sorted=False))
    np.testing.assert_array_equal(out.batch_sizes, tout.batch_sizes.numpy())
    np.testing.assert_array_equal(out.sorted_indices, tout.sorted_indices.numpy())
    np.testing.assert_allclose(out.data, tout.data.detach().numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: jaxnn.RNN(3, 4, nonlinearity="sigmoid", rngs=nnx.Rngs(0)), "nonlinearity 'sigmoid'"),
        (lambda: jaxnn.RNNCell(3, 4, nonlinearity="gelu", rngs=nnx.Rngs(0)), "nonlinearity 'gelu'"),
        (lambda: jaxnn.LSTM(3, 4, dropout=1.5, rngs=nnx.Rngs(0)), r"dropout .*\[0, 1\].*1.5"),
        (lambda: jaxnn.GRU(3, 4, dropout=-0.1, rngs=nnx.Rngs(0)), r"dropout .*\[0, 1\]"),
        (lambda: jaxnn.GRU(3, 4, dropout=True, rngs=nnx.Rngs(0)), r"dropout"),
        (lambda: jaxnn.LSTM(3, 4, proj_size=4, rngs=nnx.Rngs(0)), "proj_size has to be smaller"),
        (lambda: jaxnn.LSTM(3, 4, proj_size=-1, rngs=nnx.Rngs(0)), "proj_size should be"),
        (lambda: jaxnn.RNNBase("GRU", 3, 4, proj_size=2, rngs=nnx.Rngs(0)), "only supported for LSTM"),
        (lambda: jaxnn.RNNBase("CONV", 3, 4, rngs=nnx.Rngs(0)), "Unrecognized RNN mode"),
        (lambda: jaxnn.LSTM(3, 0, rngs=nnx.Rngs(0)), "hidden_size must be greater than zero"),
        (lambda: jaxnn.LSTM(3, 4, 0, rngs=nnx.Rngs(0)), "num_layers must be greater than zero"),
    ],
)
def test_bad_construction_raises_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types_and_missing_rngs_raise_type_error():
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        jaxnn.GRU(3, 4.0, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="bias should be of type bool"):
        jaxnn.GRU(3, 4, bias=1, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="rngs"):
        jaxnn.LSTM(3, 4)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m(jnp.ones((5, 2, 4))), r"input_size. Expected 3, got 4"),
        (lambda m: m(jnp.ones((5, 2, 3, 1))), "Expected input to be 2D or 3D, got 4D"),
        (lambda m: m(jnp.ones((5, 2, 3)), (jnp.zeros((2, 3, 4)), jnp.zeros((2, 2, 4)))), r"hidden size \(2, 2, 4\), got \[2, 3, 4\]"),
        (lambda m: m(jnp.ones((5, 2, 3)), (jnp.zeros((2, 2, 4)), jnp.zeros((2, 2, 5)))), r"hidden\[1\] size \(2, 2, 4\), got \[2, 2, 5\]"),
        (lambda m: m(jnp.ones((5, 3)), (jnp.zeros((2, 2, 4)), jnp.zeros((2, 2, 4)))), "unbatched 2-D input, hx and cx should also be 2-D"),
        (lambda m: m(jnp.ones((5, 2, 3)), (jnp.zeros((2, 4)), jnp.zeros((2, 4)))), "batched 3-D input, hx and cx should also be 3-D"),
        (lambda m: m(jnp.ones((5, 2, 3), jnp.float16)), "input dtype .*float16.* does not match weight dtype .*float32"),
    ],
)
def test_bad_call_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(jaxnn.LSTM(3, 4, 2, rngs=nnx.Rngs(0)))


def test_bad_hx_for_gru_and_cells():
    gru = jaxnn.GRU(3, 4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 2, 5\]"):
        gru(jnp.ones((5, 2, 3)), jnp.zeros((1, 2, 5)))
    with pytest.raises(ValueError, match="unbatched 2-D input, hx should also be 2-D"):
        gru(jnp.ones((5, 3)), jnp.zeros((1, 2, 4)))
    cell = jaxnn.LSTMCell(3, 4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="inconsistent input_size: got 2 expected 3"):
        cell(jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        cell(jnp.ones((2, 3)), (jnp.zeros((3, 4)), jnp.zeros((3, 4))))
    with pytest.raises(ValueError, match="hidden1 has inconsistent hidden_size: got 5, expected 4"):
        cell(jnp.ones((2, 3)), (jnp.zeros((2, 4)), jnp.zeros((2, 5))))
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        jaxnn.GRUCell(3, 4, rngs=nnx.Rngs(0))(jnp.ones((1, 2, 3)))


class TorchTagger(torch.nn.Module):
    def __init__(self, vocab, emb, hidden, tags):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, emb, padding_idx=0)
        self.lstm = torch.nn.LSTM(emb, hidden, 2, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden, tags)

    def forward(self, tokens):
        return self.out(self.lstm(self.embed(tokens))[0])


class Tagger(jaxnn.Module):
    def __init__(self, vocab, emb, hidden, tags, rngs, dtype):
        self.embed = jaxnn.Embedding(vocab, emb, padding_idx=0, rngs=rngs, dtype=dtype)
        self.lstm = jaxnn.LSTM(emb, hidden, 2, batch_first=True, bidirectional=True, rngs=rngs, dtype=dtype)
        self.out = jaxnn.Linear(2 * hidden, tags, rngs=rngs, dtype=dtype)

    def __call__(self, tokens):
        return self.out(self.lstm(self.embed(tokens))[0])


def test_bidirectional_lstm_tagger_trains_like_torch(x64):
    """Embedding -> 2-layer bidirectional LSTM -> Linear, cross entropy ignoring the
    padding tag, 5 Adam steps from torch's initial state_dict: losses and final
    parameters equal torch's (float64)."""
    vocab, tags, pad = 11, 4, -100
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, vocab, (3, 6))
    labels = rng.integers(0, tags, (3, 6))
    for b, n in enumerate((6, 4, 2)):
        tokens[b, n:], labels[b, n:] = 0, pad

    torch_model = TorchTagger(vocab, 5, 4, tags).double()
    model = Tagger(vocab, 5, 4, tags, nnx.Rngs(0), "float64")
    # a copy: jaxnn may alias the numpy view of torch's tensors, which Adam updates in place
    jaxnn.load_state_dict(model, {k: v.clone() for k, v in torch_model.state_dict().items()})

    topt = torch.optim.Adam(torch_model.parameters(), lr=0.05)
    tloss_fn = torch.nn.CrossEntropyLoss(ignore_index=pad)
    torch_losses = []
    for _ in range(5):
        topt.zero_grad()
        loss = tloss_fn(torch_model(torch.tensor(tokens)).reshape(-1, tags), torch.tensor(labels).reshape(-1))
        loss.backward()
        topt.step()
        torch_losses.append(loss.item())

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = jaxnn.optim.Adam(lr=0.05)
    opt_state = tx.init(params)
    loss_fn = jaxnn.CrossEntropyLoss(ignore_index=pad)

    @jax.jit
    def step(params, opt_state):
        def loss_of(p):
            logits = nnx.merge(graphdef, p, rest, copy=True)(jnp.asarray(tokens))
            return loss_fn(logits.reshape(-1, tags), jnp.asarray(labels).reshape(-1))

        loss, grads = jax.value_and_grad(loss_of)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    losses = []
    for _ in range(5):
        params, opt_state, loss = step(params, opt_state)
        losses.append(float(loss))
    np.testing.assert_allclose(losses, torch_losses, rtol=1e-9)
    assert losses[-1] < losses[0]
    nnx.update(model, params)
    got = jaxnn.state_dict(model)
    for name, value in torch_model.state_dict().items():
        np.testing.assert_allclose(got[name], value.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)
