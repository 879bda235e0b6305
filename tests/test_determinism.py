"""Same inputs (and keys) give bit-identical results; jit and eager agree.

Repeated calls, eager or jitted, must be bitwise equal: torch's CPU losses are
deterministic and so is XLA on CPU for a fixed program. Jitted against eager
is compared at the dtype's tolerance from ``tests.parity.TOLERANCES``, not
bitwise: under ``jax.jit`` XLA fuses the whole loss into one kernel and may
contract ``a * b + c`` into a fused multiply-add or reorder a reduction, which
rounds differently from the op-by-op eager path (each op its own kernel). Both
stay within the tolerance of torch's value, which the parity tests check.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxnn
import jaxnn.optim as optim
from tests.fuzz.calls import CALLS
from tests.parity import jax_value_and_grads, tolerance


def _bits(tree):
    return [np.asarray(x).tobytes() for x in jax.tree.leaves(tree)]


def _run(call, args, jit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, grads = jax_value_and_grads(call.jfn, args, call.kwargs, call.wrt, jit=jit)
    return [out, *grads]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_repeated_calls_are_bit_identical_and_jit_matches_eager(name):
    call = CALLS[name]
    args = call.args("float32", seed=3)
    eager = [_run(call, args, jit=False) for _ in range(2)]
    jitted = [_run(call, args, jit=True) for _ in range(2)]
    assert _bits(eager[0]) == _bits(eager[1])
    assert _bits(jitted[0]) == _bits(jitted[1])
    rtol, atol = tolerance("float32")
    for e, j in zip(eager[0], jitted[0]):
        np.testing.assert_allclose(np.asarray(j), np.asarray(e), rtol=rtol, atol=atol)


OPTIMIZERS = {
    "SGD": lambda: optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "Adam": lambda: optim.Adam(lr=1e-2, amsgrad=True),
    "AdamW": lambda: optim.AdamW(lr=1e-2),
    "RMSprop": lambda: optim.RMSprop(lr=1e-2, centered=True, momentum=0.5),
    "Adagrad": lambda: optim.Adagrad(lr=1e-1, lr_decay=1e-2),
    "NAdam": lambda: optim.NAdam(lr=1e-2),
    "RAdam": lambda: optim.RAdam(lr=1e-2),
    "Adamax": lambda: optim.Adamax(lr=1e-2),
    "Adadelta": lambda: optim.Adadelta(weight_decay=1e-2),
    "ASGD": lambda: optim.ASGD(lr=1e-2, t0=2),
    "Rprop": lambda: optim.Rprop(lr=1e-2),
    "Adafactor": lambda: optim.Adafactor(lr=1e-2, weight_decay=1e-2),
    "Muon": lambda: optim.Muon(lr=1e-2),
    "SparseAdam": lambda: optim.SparseAdam(lr=1e-2),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_trajectories_are_bit_identical(name):
    """Two fresh optimizers on the same gradient sequence (one jitted scan each) end on the same bits."""
    params = {"w": jnp.asarray(np.random.default_rng(0).standard_normal((3, 2)), jnp.float32)}
    grads = jnp.asarray(np.random.default_rng(1).standard_normal((6, 3, 2)), jnp.float32)

    def trajectory():
        opt = OPTIMIZERS[name]()

        def body(carry, g):
            p, s = carry
            u, s = opt.update({"w": g}, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.jit(lambda p, g: jax.lax.scan(body, (p, opt.init(p)), g))(params, grads)
        return p, s

    assert _bits(trajectory()) == _bits(trajectory())


def test_dropout_same_key_same_mask_jit_or_eager():
    """Masks come from the key alone: two layers seeded alike draw the same masks, call after
    call, eager or through a jitted pure function of the split state (bitwise: the mask is
    integer bits compared with a threshold, and the scale is one multiply)."""
    x = jnp.asarray(np.random.default_rng(0).standard_normal((4, 64)), jnp.float32)
    a, b = jaxnn.Dropout(0.3, rngs=nnx.Rngs(7)), jaxnn.Dropout(0.3, rngs=nnx.Rngs(7))
    eager_a = [a(x) for _ in range(3)]
    assert _bits(eager_a) == _bits([b(x) for _ in range(3)])
    assert _bits(eager_a[0]) != _bits(eager_a[1]), "each call must draw a fresh mask"

    graphdef, state = nnx.split(jaxnn.Dropout(0.3, rngs=nnx.Rngs(7)))

    @jax.jit
    def step(state, x):
        layer = nnx.merge(graphdef, state)
        y = layer(x)
        return y, nnx.state(layer)

    jitted = []
    for _ in range(3):
        y, state = step(state, x)
        jitted.append(y)
    assert _bits(jitted) == _bits(eager_a)
    c = jaxnn.Dropout(0.3, rngs=nnx.Rngs(8))
    assert _bits(c(x)) != _bits(eager_a[0]), "another seed must give another mask"
