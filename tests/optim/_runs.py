"""Runs torch.optim and jaxnn.optim on the same gradient sequences, recording params after every step."""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

STEPS = 50
TWO_LEAVES = {"bias": (3,), "weight": (2, 3)}


def problem(seed: int = 0, steps: int = STEPS, shapes=None) -> tuple[dict, dict]:
    """Initial float64 params and a gradient sequence (leading axis = step).

    One leaf by default (compiles fastest); ``TWO_LEAVES`` for tree and group handling.
    """
    rng = np.random.default_rng(seed)
    shapes = {"weight": (2, 4)} if shapes is None else shapes
    params = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = {k: rng.normal(size=(steps,) + s) for k, s in shapes.items()}
    return params, grads


@contextlib.contextmanager
def torch_default_dtype(dtype):
    """torch keeps scalar optimizer state (step, mu_product) in its default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def torch_run(make_opt, params, grads, dtype, groups=None, scheduler=None, start_state=None, steps=None):
    """``make_opt(param_list_or_groups) -> torch optimizer``; returns {name: (steps, *shape)} and the optimizer.

    ``groups``: list of lists of param names, one per torch param group.
    """
    tdtype = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    with torch_default_dtype(torch.float64 if dtype == "float64" else torch.float32):
        ps = {k: torch.nn.Parameter(torch.tensor(v, dtype=tdtype)) for k, v in params.items()}
        if groups is None:
            opt = make_opt([ps[k] for k in sorted(ps)])
        else:
            opt = make_opt([[ps[k] for k in names] for names in groups])
        if start_state is not None:
            opt.load_state_dict(start_state)
        sched = scheduler(opt) if scheduler else None
        n = steps if steps is not None else len(next(iter(grads.values())))
        out = {k: [] for k in ps}
        for s in range(n):
            for k, p in ps.items():
                p.grad = torch.tensor(grads[k][s], dtype=tdtype)
            opt.step()
            if sched is not None:
                sched.step()
            for k, p in ps.items():
                out[k].append(p.detach().double().numpy().copy())
    return {k: np.stack(v) for k, v in out.items()}, opt


def scan_steps(opt: optax.GradientTransformation):
    """A jitted ``(params, state, grads) -> (per-step params, final state)`` over the leading grads axis."""

    def body(carry, g):
        p, s = carry
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        return (p, s), p

    @jax.jit
    def run(params, state, grads):
        (_, state), trace = jax.lax.scan(body, (params, state), grads)
        return trace, state

    return run


def jax_run(opt, params, grads, dtype, state=None):
    """Runs ``opt`` in ``dtype`` (float64 needs x64 enabled by the caller)."""
    p = jax.tree.map(lambda x: jnp.asarray(x, dtype), params)
    g = jax.tree.map(lambda x: jnp.asarray(x, dtype), grads)
    state = opt.init(p) if state is None else state
    trace, state = scan_steps(opt)(p, state, g)
    return jax.tree.map(np.asarray, trace), state


def assert_rounding_level(j32, t32, t64, factor=4.0):
    """float32 (or bf16) jaxnn vs torch in the same dtype: within a few times torch's own error vs float64."""
    for k in t32:
        own = np.max(np.abs(t32[k] - t64[k]))
        diff = np.max(np.abs(np.asarray(j32[k], np.float64) - t32[k]))
        assert diff <= factor * own + 1e-7, f"{k}: |jax32 - torch32| = {diff:.3g}, torch32's own error {own:.3g}"


def assert_close64(j64, t64, rtol=1e-12, atol=1e-12):
    for k in t64:
        np.testing.assert_allclose(j64[k], t64[k], rtol=rtol, atol=atol, err_msg=k)


def jax_run_both(opt, params, grads):
    """float32 and float64 copies updated in ONE compiled scan (x64 on), so each option set compiles once.

    Also checks that the float32 copy never touches float64 in the update, so
    its numbers are the ones a default (x64 off) float32 run computes.
    """
    cast = lambda tree, dtype: jax.tree.map(lambda x: jnp.asarray(x, dtype), tree)  # noqa: E731
    with jax.enable_x64(True):
        p32, g32 = cast(params, jnp.float32), cast(grads, jnp.float32)
        step_g32 = jax.tree.map(lambda g: g[0], g32)
        jaxpr = jax.make_jaxpr(opt.update)(step_g32, opt.init(p32), p32)
        assert "f64" not in str(jaxpr), "float32 update promoted to float64"
        p = {"float32": p32, "float64": cast(params, jnp.float64)}
        g = {"float32": g32, "float64": cast(grads, jnp.float64)}
        trace, _ = scan_steps(opt)(p, opt.init(p), g)
        trace = jax.tree.map(np.asarray, trace)
    return trace["float32"], trace["float64"]
