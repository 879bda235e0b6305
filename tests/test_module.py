"""jaxnn.Parameter / jaxnn.Module on Flax NNX: the torch documentation example, written in JAX style."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxnn


class MyModel(jaxnn.Module):
    def __init__(self, *, rngs):
        self.weight = jaxnn.Parameter(jax.random.normal(rngs.params(), (3, 3)))
        self.bias = jaxnn.Parameter(jax.random.normal(rngs.params(), (3,)))
        self.frozen = jaxnn.Parameter(jnp.ones(3), requires_grad=False)
        self.steps = jaxnn.Buffer(jnp.zeros((), jnp.int32))

    def __call__(self, x):
        return x @ self.weight + self.bias


class Outer(jaxnn.Module):
    def __init__(self, *, rngs):
        self.inner = MyModel(rngs=rngs)
        self.head = jaxnn.Parameter(jnp.zeros(3))


def test_parameter_is_an_nnx_param():
    p = jaxnn.Parameter(jnp.ones(2))
    assert isinstance(p, nnx.Param)
    chex.assert_trees_all_equal(p[...], jnp.ones(2))


def test_requires_grad_false_is_not_a_param():
    p = jaxnn.Parameter(jnp.ones(2), requires_grad=False)
    assert isinstance(p, jaxnn.FrozenParameter)
    assert not isinstance(p, nnx.Param)


def test_parameter_accepts_torch_tensor():
    torch = pytest.importorskip("torch")
    p = jaxnn.Parameter(torch.arange(3.0))
    chex.assert_trees_all_equal(p[...], jnp.arange(3.0))


def test_split_gives_exactly_the_learnable_leaves():
    model = MyModel(rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    assert {k for k, _ in nnx.to_flat_state(params)} == {("bias",), ("weight",)}
    assert {k for k, _ in nnx.to_flat_state(rest)} == {("frozen",), ("steps",)}
    chex.assert_shape(jax.tree.leaves(params), [(3,), (3, 3)])


def test_grad_over_parameter_pytree_and_merge():
    model = MyModel(rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    x = jnp.arange(6.0).reshape(2, 3)

    def loss(p):
        return jnp.sum(nnx.merge(graphdef, p, rest)(x) ** 2)

    grads = jax.grad(loss)(params)
    w, b = model.weight[...], model.bias[...]
    y = x @ w + b
    # d/dW sum((xW + b)^2) = 2 x^T (xW + b); d/db = 2 sum_rows(xW + b)
    chex.assert_trees_all_close(grads["weight"][...], 2 * x.T @ y, rtol=1e-6)
    chex.assert_trees_all_close(grads["bias"][...], 2 * y.sum(0), rtol=1e-6)
    merged = nnx.merge(graphdef, params, rest)
    chex.assert_trees_all_equal(merged(x), model(x))


def test_train_eval_flags_recursively_and_returns_self():
    model = Outer(rngs=nnx.Rngs(0))
    assert model.training and model.inner.training
    assert model.eval() is model
    assert not model.training and not model.inner.training
    model.train()
    assert model.training and model.inner.training
    model.train(False)
    assert not model.inner.training
