"""Names every ``>>>`` example in jaxnn/ may use without importing them (pytest --doctest-modules)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxnn
import jaxnn.functional as F


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(jax=jax, jnp=jnp, np=np, optax=optax, nnx=nnx, jaxnn=jaxnn, F=F)


# The flag every test starts from: JAX's default (x64 off), as users run jaxnn.
_X64_AT_START = jax.config.jax_enable_x64


def pytest_collection_finish(session):
    """Collection imports every module (doctests too): none may flip x64 for the whole run."""
    if jax.config.jax_enable_x64 != _X64_AT_START:
        raise pytest.UsageError(
            "a module imported at collection changed jax_enable_x64 globally; "
            "use the `x64` fixture or `with jax.enable_x64(True):` inside the test instead"
        )


@pytest.fixture(autouse=True)
def _restore_globals():
    """A test or snippet that flips jax_enable_x64 or numpy's print options must not leak them into the next test."""
    printoptions = np.get_printoptions()
    yield
    if jax.config.jax_enable_x64 != _X64_AT_START:
        jax.config.update("jax_enable_x64", _X64_AT_START)
    np.set_printoptions(**printoptions)  # an example run in-process must not change how doctests print
