"""Every loss in float16, bfloat16, float32 and float64: torch's output dtype, values and gradients.

Tolerances come from :data:`tests.parity.TOLERANCES` only (through
``assert_parity``). Half-precision reductions must accumulate in float32: a
sum of ~33k half-precision elements is compared with the exact (float64) sum
rounded once, which half-precision accumulation misses by orders of magnitude
more than the half tolerance.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from tests.fuzz.calls import CALLS
from tests.nn import assert_layer_parity
from tests.parity import assert_parity, to_numpy, to_torch, tolerance

DTYPES = ["float16", "bfloat16", "float32", "float64"]
HALF = ("float16", "bfloat16")


def _torch_out(call, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call.tfn(*[to_torch(a) for a in args], **kwargs)


def _upcast(args, float_args):
    return tuple(np.asarray(a, np.float32) if i in float_args else a for i, a in enumerate(args))


# torch's CPU kernel has no half precision here: jaxnn computes in float32 and
# returns the input's dtype, so the float32 torch result rounded once is the reference
NO_TORCH_HALF = {"ctc_loss", "multi_margin_loss", "multilabel_margin_loss"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_dtype_value_and_gradient(name, dtype):
    call = CALLS[name]
    with jax.enable_x64(dtype == "float64"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = tuple(np.asarray(jnp.asarray(a, dtype)) if i in call.float_args else a for i, a in enumerate(call.args("float64")))
        out = call.jfn(*args, **call.kwargs)
        if name in NO_TORCH_HALF and dtype in ("float16", "bfloat16"):
            assert out.dtype == jnp.dtype(dtype)
            expected = _torch_out(call, _upcast(args, call.float_args), call.kwargs).numpy()
            rtol, atol = tolerance(dtype)
            np.testing.assert_allclose(np.asarray(out, np.float64), np.asarray(jnp.asarray(expected, dtype), np.float64), rtol=rtol, atol=atol)
            return
        assert str(out.dtype) == str(_torch_out(call, args, call.kwargs).dtype).removeprefix("torch.")
        # float32/float64 gradients are the fuzzers' and each area's parity tests' job
        assert_parity(call.jfn, call.tfn, args, call.kwargs, wrt=call.wrt if dtype in HALF else ())


# (input dtype, target dtype) pairs; torch's result dtype is the reference
MIXED = [("bfloat16", "float16"), ("float32", "float64")]
# torch's binary_cross_entropy refuses input and target of different dtypes (jaxnn promotes)
TORCH_REFUSES_MIXED = {"binary_cross_entropy"}


@pytest.mark.parametrize("dtypes", MIXED, ids="-".join)
@pytest.mark.parametrize("name", sorted(n for n, c in CALLS.items() if c.float_args[:2] == (0, 1) and n not in TORCH_REFUSES_MIXED))
def test_mixed_dtypes_promote_as_torch(name, dtypes):
    call = CALLS[name]
    with jax.enable_x64(True):
        args = list(call.args("float64"))
        for i, dtype in zip((0, 1), dtypes):
            args[i] = np.asarray(jnp.asarray(args[i], dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = call.jfn(*args, **call.kwargs)
        expected = _torch_out(call, args, call.kwargs)
    assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    rtol, atol = tolerance(dtypes[0])
    np.testing.assert_allclose(np.asarray(out, np.float64), to_numpy(expected).astype(np.float64), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(set(CALLS) - NO_TORCH_HALF))
def test_half_reductions_accumulate_in_float32(name, dtype):
    """'sum' of ~33k elements ('mean' divides that sum once, so it accumulates the same way)."""
    call = CALLS[name]
    kwargs = {**call.kwargs, "reduction": "sum"}
    small = call.args("float64")
    args = tuple(np.concatenate([a] * 2731) if isinstance(a, np.ndarray) else a for a in small)
    half = tuple(np.asarray(jnp.asarray(a, dtype)) if i in call.float_args else a for i, a in enumerate(args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = call.jfn(*half, **kwargs)
        exact = call.tfn(*[torch.tensor(np.asarray(jnp.asarray(a, jnp.float64)) if i in call.float_args else a)
                           for i, a in enumerate(half)], **kwargs)
    with jax.enable_x64(True):
        rounded = np.asarray(jnp.asarray(exact.numpy(), dtype), np.float64)
    rtol, atol = tolerance(dtype)
    assert out.dtype == jnp.dtype(dtype)
    np.testing.assert_allclose(np.asarray(out, np.float64), rounded, rtol=rtol, atol=atol)


# layer -> (constructor arguments, input shape); torch's layer is converted to the dtype,
# jaxnn's is built in it, and both run on the same input of that dtype
LAYERS = {
    "Linear": ((4, 3), (5, 4)),
    "Conv1d": ((2, 3, 3), (2, 2, 7)),
    "Conv2d": ((2, 3, 3), (1, 2, 5, 5)),
    "LayerNorm": ((4,), (3, 4)),
    "BatchNorm1d": ((3,), (4, 3)),
    "BatchNorm2d": ((3,), (2, 3, 2, 2)),
    "MaxPool2d": ((2,), (1, 2, 4, 4)),
    "AvgPool2d": ((2,), (1, 2, 4, 4)),
    "GELU": ((), (3, 4)),
    "Softmax": ((1,), (3, 4)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_dtype_value_and_gradients(name, dtype):
    args, shape = LAYERS[name]
    torch.manual_seed(0)
    tlayer = getattr(torch.nn, name)(*args).to(getattr(torch, dtype))
    with jax.enable_x64(dtype == "float64"):
        try:
            jlayer = getattr(jaxnn, name)(*args, rngs=nnx.Rngs(0), dtype=dtype)
        except TypeError:  # parameter-free layers take no dtype
            jlayer = getattr(jaxnn, name)(*args)
        x = np.asarray(jnp.asarray(np.random.default_rng(0).standard_normal(shape), dtype))
        out = jlayer(x)
        assert out.dtype == jnp.dtype(dtype)
        assert str(tlayer(to_torch(x)).dtype) == f"torch.{dtype}"
        # bfloat16: values, input and parameter gradients; float16: values (its gradients
        # take the same code path); float32/float64 are the layer tests' and the fuzzers' job
        if dtype == "bfloat16":
            assert_layer_parity(jlayer, tlayer, (x,))
        elif dtype == "float16":
            jaxnn.load_state_dict(jlayer, tlayer.state_dict())
            out = jlayer(x)
            rtol, atol = tolerance(dtype)
            np.testing.assert_allclose(np.asarray(out, np.float64), to_numpy(tlayer(to_torch(x))).astype(np.float64), rtol=rtol, atol=atol)
