"""Interop tests: torch models converted with ``jaxnn.from_torch`` are checked against
torch itself, in value, in the gradients w.r.t. the input and every parameter, and
in a few optimizer steps."""

from __future__ import annotations

from typing import Optional, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np
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
    input gradient and every parameter gradient equal torch's, in the mode the
    torch model is in. One jitted function computes all of jaxnn's side."""
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

    def f(params, x, *others):
        y = nnx.merge(graphdef, params, rest, copy=True)(x, *others)
        return jnp.sum(y * jnp.asarray(ct, y.dtype)), y

    (_, j_out), (gp, gx) = jax.jit(jax.value_and_grad(f, argnums=(0, 1), has_aux=True))(
        params, *[jnp.asarray(x) for x in inputs]
    )
    rtol, atol = tol or tolerance(inputs[0].dtype)
    chex.assert_trees_all_close(np.asarray(j_out), to_numpy(out), rtol=rtol, atol=atol)
    chex.assert_trees_all_close(
        np.asarray(gx), to_numpy(targs[0].grad), rtol=rtol, atol=atol, custom_message="input gradient"
    )
    got_grads = {".".join(map(str, path)): np.asarray(g) for path, g in nnx.to_flat_state(gp)}
    assert set(got_grads) == set(expected_grads)
    for name, g in expected_grads.items():
        chex.assert_trees_all_close(got_grads[name], g, rtol=rtol, atol=atol, custom_message=f"gradient of {name}")
    return jmodel


def assert_adamw_steps(
    tmodel: torch.nn.Module,
    x: np.ndarray,
    target: np.ndarray,
    steps: int = 3,
    tol: tuple[float, float] = (1e-4, 1e-5),
) -> None:
    """``steps`` AdamW steps of cross-entropy through jaxnn's jitted train step equal
    torch's loop (the torch model is in training mode: BatchNorm's batch statistics
    and running averages included)."""
    tmodel.train()
    jmodel = jaxnn.from_torch(tmodel)
    opt = torch.optim.AdamW(tmodel.parameters(), lr=1e-2, weight_decay=0.05)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(to_torch(x)), torch.as_tensor(target))
        loss.backward()
        opt.step()
        losses.append(loss.item())

    tx = jaxnn.optim.AdamW(lr=1e-2, weight_decay=0.05)
    graphdef, params, rest = jaxnn.split_model(jmodel)
    opt_state = tx.init(params)
    step = jaxnn.make_train_step(graphdef, jaxnn.CrossEntropyLoss(), tx)
    got_losses = []
    for _ in range(steps):
        params, rest, opt_state, metrics = step(params, rest, opt_state, (jnp.asarray(x), jnp.asarray(target)))
        got_losses.append(float(metrics["loss"] if isinstance(metrics, dict) else metrics))
    nnx.update(jmodel, params, rest)
    np.testing.assert_allclose(got_losses, losses, rtol=tol[0], atol=tol[1])
    got = jaxnn.state_dict(jmodel)
    for key, value in tmodel.state_dict().items():
        np.testing.assert_allclose(got[key], to_numpy(value), rtol=tol[0], atol=tol[1], err_msg=key)


def as_dtype(model: torch.nn.Module, dtype: str) -> torch.nn.Module:
    return model.double() if dtype == "float64" else model


def randn(*shape: int, dtype: str = "float32", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)

