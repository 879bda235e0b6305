"""Value checks that need concrete arrays become checkify checks under jit when jaxnn.checks is on.

Eagerly each of these raises (tested with the losses); under jax.jit they are
skipped with checks off (the jitted call runs) and, with checks on, reported
through checkify with the eager message.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.experimental import checkify

import jaxnn
import jaxnn.checks
import jaxnn.functional as F

T, N, C, S = 6, 2, 4, 3
LOG_PROBS = jax.nn.log_softmax(jnp.asarray(np.random.default_rng(0).standard_normal((T, N, C)), jnp.float32))
TARGETS = jnp.array([[1, 2, 3], [2, 1, 0]])


def _embedding(indices):
    return jaxnn.nn.Embedding(5, 2, rngs=nnx.Rngs(0))(indices)


# (id, function of arrays, good arrays, bad arrays, message of the bad ones)
CASES = [
    ("gaussian_nll-var", lambda v: F.gaussian_nll_loss(jnp.zeros(3), jnp.ones(3), v),
     (jnp.ones(3),), (jnp.array([1.0, -1.0, 1.0]),), "var has negative entry"),
    ("ctc-input_lengths", lambda il: F.ctc_loss(LOG_PROBS, TARGETS, il, jnp.array([3, 2])),
     (jnp.array([6, 5]),), (jnp.array([6, 7]),), r"input_lengths must be in \[0, 6\]"),
    ("ctc-target_lengths", lambda tl: F.ctc_loss(LOG_PROBS, TARGETS, jnp.array([6, 6]), tl),
     (jnp.array([3, 2]),), (jnp.array([3, -1]),), "target_lengths must be >= 0"),
    ("ctc-labels", lambda t: F.ctc_loss(LOG_PROBS, t, jnp.array([6, 6]), jnp.array([3, 2])),
     (TARGETS,), (jnp.array([[1, 2, 3], [2, 9, 0]]),), r"targets must be class indices in \[0, 4\)"),
    ("embedding-indices", _embedding, (jnp.array([0, 4]),), (jnp.array([0, 5]),), r"index out of range"),
]


@pytest.mark.parametrize("fn,good,bad,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_checks_on_report_through_checkify(fn, good, bad, message):
    with jaxnn.checks.checking():
        checked = checkify.checkify(jax.jit(fn))
        err, _ = checked(*good)
        assert err.get() is None
        err, _ = checked(*bad)
        with pytest.raises(checkify.JaxRuntimeError, match=message):
            err.throw()


@pytest.mark.parametrize("fn,bad", [(c[1], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_checks_off_leave_jit_alone(fn, bad):
    assert not jaxnn.checks.enabled()
    # A new function: jit's trace cache is keyed by the function, and the switch is read at trace time.
    jax.block_until_ready(jax.jit(lambda *a: fn(*a))(*bad))  # no error, whatever the numbers
