"""A guard on the XLA:CPU forms of ``jaxnn/functional/_kernels.py`` (issue #22).

The losses' speed rests on XLA behaviour that jax does not promise (the
header of ``_kernels.py``: reductions absorb select-free elementwise work,
equal expressions are kept apart so that CSE does not write them out, huber's
sign-bit buffer is reused, one-hot picks instead of scatters). When a newer
jaxlib undoes one of them, the symptom is not a wrong number but a full-size
temporary array: XLA writes the loss (or a shared expression) to memory and
reads it back. This test pins, without timing anything, the temporary memory
XLA's own ``memory_analysis()`` reports for the compiled programs: a failure
here means "re-run the loss benchmarks and read the header of _kernels.py",
not that a value is wrong.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import pytest

import jaxnn.functional as F

N = 1 << 20  # elements: a full-size float32 array is 4 MiB


def _temp_arrays(fn, *args) -> float:
    """XLA's temporary memory of ``jit(fn)(*args)``, in full-size float32 arrays."""
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled.memory_analysis().temp_size_in_bytes / (4 * N)


ELEMENTWISE = {
    "mse_loss": F.mse_loss,
    "l1_loss": F.l1_loss,
    "huber_loss": F.huber_loss,
    "smooth_l1_loss": F.smooth_l1_loss,
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    "soft_margin_loss": F.soft_margin_loss,
}
# Measured with jax 0.10's XLA: the forward alone of these two writes its elementwise
# loss once before reducing (their value_and_grad does not).
FORWARD_WRITES_ONE = {"smooth_l1_loss", "soft_margin_loss"}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_losses_keep_no_full_size_temporary(name):
    loss = ELEMENTWISE[name]
    x = jnp.linspace(-3.0, 3.0, N, dtype=jnp.float32)
    y = (jnp.arange(N) % 2).astype(jnp.float32) if "margin" not in name else jnp.where(jnp.arange(N) % 2, 1.0, -1.0)
    grad_temp = _temp_arrays(jax.value_and_grad(loss), x, y)
    assert grad_temp < 0.01, f"{name}: value_and_grad keeps {grad_temp:.2f} full-size temporaries (was 0)"
    forward_temp = _temp_arrays(loss, x, y)
    allowed = 1.0 if name in FORWARD_WRITES_ONE else 0.01
    assert forward_temp <= allowed, f"{name}: forward keeps {forward_temp:.2f} full-size temporaries (was <= {allowed})"


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_gradient_has_no_scatter_and_no_logits_sized_temporary(label_smoothing):
    logits = jnp.zeros((1024, 1024), jnp.float32)  # N elements
    target = jnp.arange(1024, dtype=jnp.int32) % 1024
    f = jax.value_and_grad(lambda x, t: F.cross_entropy(x, t, label_smoothing=label_smoothing))
    assert _temp_arrays(f, logits, target) < 0.01
    hlo = jax.jit(f).lower(logits, target).compile().as_text()
    assert not re.search(r"\sscatter\(", hlo), "the target pick transposed to a scatter (_kernels.pick)"
