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


# Examples written before the doctests ran: they show calls without their printed
# results. Until the outputs are added they are collected but skipped, by file.
_EXAMPLES_WITHOUT_OUTPUTS = {
    "jaxnn/functional/activation.py",
    "jaxnn/functional/distance.py",
    "jaxnn/functional/sparse.py",
    "jaxnn/nn/activation.py",
    "jaxnn/nn/distance.py",
    "jaxnn/nn/embedding.py",
}


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="doctest example without its output (to add)")
    for item in items:
        path = str(item.fspath)
        if isinstance(item, pytest.DoctestItem) and any(path.endswith(p) for p in _EXAMPLES_WITHOUT_OUTPUTS):
            item.add_marker(skip)
