"""Layer tests: a torch layer's weights are loaded into the jaxnn layer, then both run
on the same input through the shared parity harness (value and input VJP), and the
parameter gradients of the same cotangent are compared by torch name."""

from __future__ import annotations

from typing import Any, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np
import torch
from flax import nnx

import jaxnn
from tests.parity import assert_parity, cotangent, to_numpy, tolerance, to_torch


def pure(layer: nnx.Module):
    """The layer as a function of its inputs that leaves ``layer`` untouched (BatchNorm
    updates and dropout draws go to a copy), so the harness can trace it."""
    graphdef, state = nnx.split(layer)
    return lambda *inputs: nnx.merge(graphdef, state, copy=True)(*inputs)


def param_grads(layer: nnx.Module, inputs: Sequence[Any], ct: np.ndarray) -> dict[str, np.ndarray]:
    graphdef, params, rest = nnx.split(layer, nnx.Param, ...)

    def f(p):
        out = nnx.merge(graphdef, p, rest, copy=True)(*[jnp.asarray(x) for x in inputs])
        return jnp.sum(out * jnp.asarray(ct, out.dtype))

    grads = jax.jit(jax.grad(f))(params)
    return {".".join(map(str, path)): np.asarray(g) for path, g in nnx.to_flat_state(grads)}


def assert_layer_parity(
    jlayer: nnx.Module,
    tlayer: torch.nn.Module,
    inputs: Sequence[np.ndarray],
    *,
    train: bool = True,
    wrt: Sequence[int] = (0,),
    jit: bool = True,
    param_grads_too: bool = True,
) -> None:
    """Loads tlayer's state into jlayer and compares outputs, input VJPs and parameter
    gradients in ``train`` or eval mode. Jitted by default: one compilation per case
    is much cheaper than compiling every primitive eagerly."""
    jaxnn.load_state_dict(jlayer, tlayer.state_dict())
    jlayer.train(train)
    tlayer.train(train)
    state_before = {k: v.clone() for k, v in tlayer.state_dict().items()}
    assert_parity(pure(jlayer), tlayer, inputs, wrt=wrt, jit=jit)
    tlayer.load_state_dict(state_before)
    if not param_grads_too or not list(tlayer.parameters()):
        return
    out = tlayer(*[to_torch(x) for x in inputs])
    ct = cotangent(tuple(out.shape), inputs[0].dtype)
    tlayer.zero_grad()
    (out * to_torch(ct)).sum().backward()
    tlayer.load_state_dict(state_before)
    expected = {n: to_numpy(p.grad) for n, p in tlayer.named_parameters() if p.grad is not None}
    got = param_grads(jlayer, inputs, ct)
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    rtol, atol = tolerance(inputs[0].dtype)
    for name in expected:
        chex.assert_trees_all_close(
            got[name], expected[name], rtol=rtol, atol=atol, custom_message=f"gradient of {name}"
        )


def as_dtype(layer: torch.nn.Module, dtype: str) -> torch.nn.Module:
    return layer.double() if dtype == "float64" else layer


def randn(*shape: int, dtype: str = "float32", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def step_loss(out: Any) -> Any:
    """The loss a train step returned: the foundation's step returns it bare, the
    training branch's step a metrics dict holding it (this works with either)."""
    return out["loss"] if isinstance(out, dict) else out
