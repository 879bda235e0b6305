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
