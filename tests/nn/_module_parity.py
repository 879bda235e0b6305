"""Parity of modules whose call takes masks and flags and may return a tuple
(attention, transformers): values, input gradients and every parameter's gradient
against torch under one scalar loss sum_i <out_i, c_i>, jitted once per case."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import torch
from flax import nnx

import jaxnn
from tests.parity import assert_dtype, cotangent, to_numpy, to_torch, tolerance


def _outputs(out: Any) -> list:
    return [o for o in (out if isinstance(out, tuple) else (out,)) if o is not None]


def assert_module_parity(
    jmod: nnx.Module,
    tmod: torch.nn.Module,
    inputs: Sequence[np.ndarray],
    kwargs: Optional[dict] = None,
    *,
    wrt: Sequence[int] = (0,),
    train: bool = True,
    grads: bool = True,
    tol: Optional[tuple[float, float]] = None,
) -> None:
    """Loads tmod's state into jmod and compares outputs and, with ``grads``, the
    gradients w.r.t. ``inputs[wrt]`` and every parameter. Array kwargs (masks) are
    passed to both; other kwargs (flags) as they are."""
    kwargs = kwargs or {}
    jaxnn.load_state_dict(jmod, tmod.state_dict())
    jmod.train(train)
    tmod.train(train)
    rtol, atol = tol or tolerance(inputs[0].dtype)

    targs = [to_torch(x, requires_grad=grads and i in wrt) for i, x in enumerate(inputs)]
    touts = _outputs(tmod(*targs, **{k: to_torch(v) for k, v in kwargs.items()}))
    cts = [cotangent(tuple(o.shape), inputs[0].dtype) for o in touts]
    graphdef, params, rest = nnx.split(jmod, nnx.Param, ...)

    def loss(p, diff):
        module = nnx.merge(graphdef, p, rest, copy=True)
        args = [jnp.asarray(x) for x in inputs]
        for i, d in zip(wrt, diff):
            args[i] = d
        outs = _outputs(module(*args, **kwargs))
        return sum(jnp.sum(o * c) for o, c in zip(outs, cts)), outs

    diff = [jnp.asarray(inputs[i]) for i in wrt]
    if grads:
        (_, jouts), (pgrads, igrads) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(params, diff)
    else:
        _, jouts = jax.jit(loss)(params, diff)
    assert len(jouts) == len(touts), (len(jouts), len(touts))
    for j, t in zip(jouts, touts):
        assert j.shape == tuple(t.shape), (j.shape, tuple(t.shape))
        assert_dtype(j, t.dtype)
        np.testing.assert_allclose(np.asarray(j, np.float64), to_numpy(t).astype(np.float64), rtol=rtol, atol=atol)
    if not grads:
        return
    sum((o * to_torch(c)).sum() for o, c in zip(touts, cts)).backward()
    for i, g in zip(wrt, igrads):
        np.testing.assert_allclose(
            np.asarray(g, np.float64), to_numpy(targs[i].grad).astype(np.float64), rtol=rtol, atol=atol,
            err_msg=f"gradient w.r.t. input {i}",
        )
    got = {".".join(map(str, path)): np.asarray(g) for path, g in nnx.to_flat_state(pgrads)}
    want = {n: to_numpy(p.grad) for n, p in tmod.named_parameters() if p.grad is not None}
    assert set(got) == set(want), (sorted(got), sorted(want))
    for name in want:
        np.testing.assert_allclose(
            got[name].astype(np.float64), want[name].astype(np.float64), rtol=rtol, atol=atol,
            err_msg=f"gradient of {name}",
        )
