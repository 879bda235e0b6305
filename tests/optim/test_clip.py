"""clip_grad_norm_ / clip_grad_value_ against torch.nn.utils, functions and optax transformations."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jaxnn.optim as jo


def _grads(scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return {"a": scale * rng.normal(size=(3, 4)).astype(np.float32), "b": scale * rng.normal(size=(5,)).astype(np.float32)}


def _torch_clip(grads, fn, *args, **kwargs):
    ps = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads.values()]
    for p, g in zip(ps, grads.values()):
        p.grad = torch.tensor(g)
    out = fn(ps, *args, **kwargs)
    return {k: p.grad.numpy() for k, p in zip(grads, ps)}, out


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, -math.inf, 0.0, 0.5, 3.0])
@pytest.mark.parametrize("max_norm", [0.3, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = _grads()
    expected, total = _torch_clip(grads, torch.nn.utils.clip_grad_norm_, max_norm, norm_type)
    clipped, ours = jax.jit(jo.clip_grad_norm_, static_argnums=(1, 2))(grads, max_norm, norm_type)
    np.testing.assert_allclose(ours, total.numpy(), rtol=2e-6)
    for k in grads:
        np.testing.assert_allclose(clipped[k], expected[k], rtol=2e-6, atol=1e-7)


def test_clip_grad_norm_adds_torchs_epsilon():
    """Hand-worked: a norm exactly at max_norm is still scaled by max_norm / (norm + 1e-6)."""
    g = {"w": jnp.asarray([3.0, 4.0], jnp.float32)}
    clipped, total = jo.clip_grad_norm_(g, 5.0)
    np.testing.assert_allclose(total, 5.0)
    np.testing.assert_allclose(clipped["w"], np.array([3.0, 4.0]) * 5.0 / (5.0 + 1e-6), rtol=1e-7)


def test_clip_grad_norm_empty_and_nonfinite():
    clipped, total = jo.clip_grad_norm_({}, 1.0)
    assert clipped == {} and float(total) == 0.0
    bad = {"w": jnp.asarray([1.0, jnp.nan])}
    with pytest.raises(RuntimeError, match="non-finite"):
        jo.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="under jit"):
        jax.jit(lambda g: jo.clip_grad_norm_(g, 1.0, error_if_nonfinite=True))(bad)
    clipped, total = jo.clip_grad_norm_(bad, 1.0)
    assert np.isnan(total) and np.all(np.isnan(clipped["w"]))


@pytest.mark.parametrize("clip_value", [0.5, 2.0])
def test_clip_grad_value_matches_torch(clip_value):
    grads = _grads(scale=2.0)
    expected, _ = _torch_clip(grads, torch.nn.utils.clip_grad_value_, clip_value)
    clipped = jo.clip_grad_value_(grads, clip_value)
    for k in grads:
        np.testing.assert_array_equal(clipped[k], expected[k])


def test_transformations_chain_like_torch_loop():
    """optax.chain(clip_grad_norm(m), SGD) == clip_grad_norm_ then opt.step() in torch, 5 steps."""
    steps = [_grads(scale=3.0, seed=s) for s in range(5)]
    params = _grads(seed=9)
    ps = [torch.nn.Parameter(torch.tensor(v)) for v in params.values()]
    topt = torch.optim.SGD(ps, lr=0.1, momentum=0.9)
    norms = []
    for g in steps:
        for p, v in zip(ps, g.values()):
            p.grad = torch.tensor(v)
        norms.append(float(torch.nn.utils.clip_grad_norm_(ps, 1.0, norm_type=math.inf)))
        torch.nn.utils.clip_grad_value_(ps, 0.5)
        topt.step()
    opt = optax.chain(jo.clip_grad_norm(1.0, norm_type=math.inf), jo.clip_grad_value(0.5), jo.SGD(lr=0.1, momentum=0.9))
    p = jax.tree.map(jnp.asarray, params)
    state = opt.init(p)
    update = jax.jit(opt.update)
    for g, norm in zip(steps, norms):
        u, state = update(g, state, p)
        p = optax.apply_updates(p, u)
        np.testing.assert_allclose(state[0].total_norm, norm, rtol=1e-6)
    for (k, v), tp in zip(p.items(), ps):
        np.testing.assert_allclose(v, tp.detach().numpy(), rtol=1e-5, atol=1e-6)
