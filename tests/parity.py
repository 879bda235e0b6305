"""The one parity harness: run a jaxnn function and its torch counterpart on the
same numbers and compare values and gradients (vector-Jacobian products).

Every parity test goes through :func:`assert_parity`, so tolerances per dtype
live in :data:`TOLERANCES` and nowhere else.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np
import torch

torch.set_num_threads(2)

# (rtol, atol) per dtype. float64 is tight: both sides compute the same formula
# to within a few ulps. float32 allows a few ulps of accumulated rounding (sums
# over 1e2..1e4 elements reorder differently in XLA and ATen). Half precision
# is compared at its own resolution (bf16 has 8 bits of mantissa).
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-10, 1e-12),
    "float32": (2e-5, 2e-6),
    "bfloat16": (2e-2, 2e-2),
    "float16": (2e-3, 2e-3),
}

_TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def tolerance(dtype) -> tuple[float, float]:
    return TOLERANCES[jnp.dtype(dtype).name]


def to_torch(x: Any, requires_grad: bool = False) -> Any:
    """numpy/jax array -> torch tensor of the same dtype (bf16 via float32)."""
    if x is None or not hasattr(x, "dtype"):
        return x
    name = jnp.dtype(x.dtype).name
    if name == "bfloat16":
        t = torch.tensor(np.asarray(jnp.asarray(x, jnp.float32))).to(torch.bfloat16)
    else:
        t = torch.tensor(np.asarray(x))
    if requires_grad:
        t.requires_grad_(True)
    return t


def jax_dtype(torch_dtype: Any) -> np.dtype:
    """The dtype JAX gives the same numbers: torch's 64-bit dtypes are JAX's 32-bit ones
    while ``jax_enable_x64`` is off (JAX's canonical dtypes), bfloat16 is ml_dtypes'."""
    if torch_dtype == torch.bfloat16:
        return jnp.dtype(jnp.bfloat16)
    return jax.dtypes.canonicalize_dtype(torch.empty((), dtype=torch_dtype).numpy().dtype)


def assert_dtype(j_out: Any, torch_dtype: Any, what: str = "output") -> None:
    """``j_out``'s dtype is torch's ``torch_dtype``, canonicalised as :func:`jax_dtype` says."""
    expected = jax_dtype(torch_dtype)
    assert j_out.dtype == expected, f"{what} dtype {j_out.dtype}, torch's {torch_dtype} ({expected} in JAX)"


def to_numpy(t: Any) -> np.ndarray:
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.detach().cpu().numpy()


def cotangent(shape: Sequence[int], dtype) -> np.ndarray:
    """A fixed, non-uniform cotangent so that VJPs of unreduced losses see every element."""
    n = int(np.prod(shape)) if len(shape) else 1
    c = (np.arange(n, dtype=np.float64) % 7 + 1.0) / 4.0
    return np.asarray(jnp.asarray(c.reshape(shape), dtype))


def torch_value_and_grads(
    tfn: Callable, args: Sequence[Any], kwargs: dict, wrt: Sequence[int]
) -> tuple[np.ndarray, list[np.ndarray], Any]:
    """torch's output (as numpy), its gradients w.r.t. ``args[wrt]`` and the output's torch dtype."""
    targs = [to_torch(a, requires_grad=(i in wrt)) for i, a in enumerate(args)]
    tkwargs = {k: to_torch(v) for k, v in kwargs.items()}
    out = tfn(*targs, **tkwargs)
    grads = []
    if wrt:
        ct = to_torch(cotangent(tuple(out.shape), args[wrt[0]].dtype))
        g = torch.autograd.grad(out, [targs[i] for i in wrt], ct, allow_unused=True)
        grads = [
            np.zeros(np.shape(args[i]), dtype=np.float64) if gi is None else to_numpy(gi)
            for i, gi in zip(wrt, g)
        ]
    return to_numpy(out), grads, out.dtype


def jax_value_and_grads(
    jfn: Callable, args: Sequence[Any], kwargs: dict, wrt: Sequence[int], jit: bool = False
) -> tuple[jax.Array, list[jax.Array]]:
    jargs = [jnp.asarray(a) if hasattr(a, "dtype") else a for a in args]

    def f(*diff):
        full = list(jargs)
        for i, d in zip(wrt, diff):
            full[i] = d
        return jfn(*full, **kwargs)

    if jit:
        f = jax.jit(f)
    out, vjp = jax.vjp(f, *[jargs[i] for i in wrt])
    grads = list(vjp(jnp.asarray(cotangent(out.shape, out.dtype)))) if wrt else []
    return out, grads


def assert_parity(
    jfn: Callable,
    tfn: Callable,
    args: Sequence[Any],
    kwargs: Optional[dict] = None,
    *,
    wrt: Sequence[int] = (0,),
    torch_kwargs: Optional[dict] = None,
    jit: bool = False,
    tol: Optional[tuple[float, float]] = None,
) -> None:
    """Asserts jfn(*args, **kwargs) == tfn(*args, **kwargs) in value, shape, dtype and VJP.

    The dtypes compare as :func:`jax_dtype` canonicalises torch's: with x64 off,
    torch's float64 (int64) output matches JAX's float32 (int32).

    ``args`` are numpy arrays (or plain Python values); ``wrt`` are the indices
    of the arguments to differentiate. ``torch_kwargs`` overrides kwargs for
    torch where the two spell an option differently (a distance function).
    """
    kwargs = kwargs or {}
    t_out, t_grads, t_dtype = torch_value_and_grads(tfn, args, torch_kwargs if torch_kwargs is not None else kwargs, wrt)
    j_out, j_grads = jax_value_and_grads(jfn, args, kwargs, wrt, jit=jit)
    rtol, atol = tol or tolerance(j_out.dtype)
    chex.assert_shape(j_out, t_out.shape)
    assert_dtype(j_out, t_dtype)
    chex.assert_trees_all_close(
        np.asarray(j_out, dtype=np.float64), t_out.astype(np.float64), rtol=rtol, atol=atol
    )
    for i, jg, tg in zip(wrt, j_grads, t_grads):
        chex.assert_shape(jg, tg.shape)
        chex.assert_trees_all_close(
            np.asarray(jg, dtype=np.float64),
            tg.astype(np.float64),
            rtol=rtol,
            atol=atol,
            custom_message=f"gradient w.r.t. argument {i}",
        )
