"""Interop tests: torch models converted with ``jaxnn.from_torch`` are checked against
torch itself, in value, in the gradients w.r.t. the input and every parameter, and
in a few optimizer steps."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

import jaxnn
from tests.parity import cotangent, to_numpy, to_torch, tolerance


def assert_converted(
    tmodel: torch.nn.Module,
    inputs: Sequence[np.ndarray],
    tol: Optional[tuple[float, float]] = None,
) -> nnx.Module:
    """Converts ``tmodel`` and asserts state dict (keys in order, values), output,
    the gradients w.r.t. every input and every parameter equal torch's, in the
    mode the torch model is in (its state dict is restored after the torch pass,
    so BatchNorm's running averages are as they were). One jitted function
    computes all of jaxnn's side."""
    jmodel = jaxnn.from_torch(tmodel)
    expected_state = tmodel.state_dict()
    got_state = jaxnn.state_dict(jmodel)
    assert list(got_state) == list(expected_state)
    for key, value in expected_state.items():
        np.testing.assert_array_equal(got_state[key], to_numpy(value), err_msg=key)

    state_before = {k: v.clone() for k, v in expected_state.items()}
    targs = [to_torch(x, requires_grad=True) for x in inputs]
    tmodel.zero_grad()
    out = tmodel(*targs)
    ct = cotangent(tuple(out.shape), inputs[0].dtype)
    (out * to_torch(ct)).sum().backward()
    tmodel.load_state_dict(state_before)
    expected_grads = {n: to_numpy(p.grad) for n, p in tmodel.named_parameters() if p.grad is not None}

    graphdef, params, rest = nnx.split(jmodel, nnx.Param, ...)

    def f(params, *xs):
        y = nnx.merge(graphdef, params, rest, copy=True)(*xs)
        return jnp.sum(y * jnp.asarray(ct, y.dtype)), y

    argnums = tuple(range(len(inputs) + 1))
    (_, j_out), (gp, *gxs) = jax.jit(jax.value_and_grad(f, argnums=argnums, has_aux=True))(
        params, *[jnp.asarray(x) for x in inputs]
    )
    rtol, atol = tol or tolerance(inputs[0].dtype)
    chex.assert_trees_all_close(np.asarray(j_out), to_numpy(out), rtol=rtol, atol=atol)
    for i, (gx, targ) in enumerate(zip(gxs, targs)):
        chex.assert_trees_all_close(
            np.asarray(gx), to_numpy(targ.grad), rtol=rtol, atol=atol, custom_message=f"gradient of input {i}"
        )
    got_grads = {".".join(map(str, path)): np.asarray(g) for path, g in nnx.to_flat_state(gp)}
    assert set(got_grads) == set(expected_grads)
    for name, g in expected_grads.items():
        chex.assert_trees_all_close(got_grads[name], g, rtol=rtol, atol=atol, custom_message=f"gradient of {name}")
    return jmodel


# The criteria assert_adamw_steps trains with: torch's function, jaxnn's loss.
CRITERIA = {
    "cross_entropy": (torch.nn.functional.cross_entropy, jaxnn.CrossEntropyLoss()),
    "mse": (torch.nn.functional.mse_loss, jaxnn.MSELoss()),
}


def assert_adamw_steps(
    tmodel: torch.nn.Module,
    x: Union[np.ndarray, Sequence[np.ndarray]],
    target: np.ndarray,
    steps: int = 3,
    tol: tuple[float, float] = (1e-4, 1e-5),
    criterion: str = "cross_entropy",
    grad_tol: Optional[tuple[float, float]] = None,
) -> None:
    """``steps`` AdamW steps of ``criterion`` on the converted model equal torch's
    loop, the torch model in training mode (BatchNorm's batch statistics and
    running averages included). ``x`` is one input or a sequence of them
    (``model(*x)``).

    Compared: the first step's output and its gradients w.r.t. every input and
    every parameter (at ``grad_tol``, default ``tol``), the loss of every step, and
    every parameter and buffer after the last (at ``tol``). jaxnn's side is one
    jitted ``value_and_grad`` that also returns the buffers the forward pass
    left, then the jitted optimizer update: one compile of the model serves the
    gradient check and the steps (``make_train_step``'s own parity with torch is
    tested in tests/training)."""
    inputs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    torch_loss, jaxnn_loss = CRITERIA[criterion]
    tmodel.train()
    jmodel = jaxnn.from_torch(tmodel)
    opt = torch.optim.AdamW(tmodel.parameters(), lr=1e-2, weight_decay=0.05)
    losses = []
    for i in range(steps):
        opt.zero_grad()
        targs = [to_torch(a, requires_grad=i == 0) for a in inputs]
        out = tmodel(*targs)
        loss = torch_loss(out, torch.as_tensor(target))
        loss.backward()
        if i == 0:
            first = (to_numpy(out), [to_numpy(t.grad) for t in targs])
            first_grads = {n: to_numpy(p.grad) for n, p in tmodel.named_parameters() if p.grad is not None}
        opt.step()
        losses.append(loss.item())

    graphdef, params, rest = jaxnn.split_model(jmodel)

    def f(params, rest, *xs):
        model = nnx.merge(graphdef, params, rest, copy=True)
        y = model(*xs)
        return jaxnn_loss(y, jnp.asarray(target)), (y, nnx.to_pure_dict(nnx.split(model, nnx.Param, ...)[2]))

    argnums = (0,) + tuple(range(2, len(inputs) + 2))
    grad_fn = jax.jit(jax.value_and_grad(f, argnums=argnums, has_aux=True))
    tx = jaxnn.optim.AdamW(lr=1e-2, weight_decay=0.05)
    opt_state = tx.init(params)

    @jax.jit
    def update(params, grads, opt_state):
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    got_losses = []
    for i in range(steps):
        (loss, (y, rest)), (gp, *gxs) = grad_fn(params, rest, *map(jnp.asarray, inputs))
        if i == 0:
            rtol, atol = grad_tol or tol
            chex.assert_trees_all_close(np.asarray(y), first[0], rtol=rtol, atol=atol, custom_message="output")
            for k, (gx, expected) in enumerate(zip(gxs, first[1])):
                chex.assert_trees_all_close(
                    np.asarray(gx), expected, rtol=rtol, atol=atol, custom_message=f"gradient of input {k}"
                )
            got_grads = {".".join(map(str, path)): np.asarray(g) for path, g in nnx.to_flat_state(nnx.State(gp))}
            assert set(got_grads) == set(first_grads)
            for name, g in first_grads.items():
                chex.assert_trees_all_close(
                    got_grads[name], g, rtol=rtol, atol=atol, custom_message=f"gradient of {name}"
                )
        params, opt_state = update(params, gp, opt_state)
        got_losses.append(float(loss))
    nnx.update(jmodel, params, rest)
    np.testing.assert_allclose(got_losses, losses, rtol=tol[0], atol=tol[1])
    got = jaxnn.state_dict(jmodel)
    for key, value in tmodel.state_dict().items():
        np.testing.assert_allclose(got[key], to_numpy(value), rtol=tol[0], atol=tol[1], err_msg=key)


def as_dtype(model: torch.nn.Module, dtype: str) -> torch.nn.Module:
    return model.double() if dtype == "float64" else model


def randn(*shape: int, dtype: str = "float32", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)

