"""max pooling's select-chain path (``pooling._max_pool_blocks``: stride == kernel, no padding,
no dilation, no window past the end, at most 8 elements a window) against torch and against
the paths it replaced: values, exact gradients under a random cotangent, and indices, at ties,
all-equal windows, -inf and nan, in float32 and float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from jaxnn.functional import pooling

# (spatial dims, input shape, positional args, keyword args): every one takes the select-chain path.
CASES = [
    (1, (2, 3, 10), (2,), {}),
    (1, (2, 3, 11), (4,), {}),  # the last 3 elements are in no window
    (1, (3, 12), (3, 3), {}),  # unbatched, stride given
    (2, (2, 3, 8, 6), (2,), {}),  # CNNs' MaxPool2d(2)
    (2, (2, 3, 8, 9), ((2, 3),), {"ceil_mode": True}),  # ceil_mode that adds no window
    (2, (2, 3, 7, 9), ((2, 3),), {}),  # the last row is in no window
    (3, (2, 2, 4, 6, 4), (2,), {}),
    (3, (2, 5, 4, 8), ((1, 2, 2), None, 0, 1, True), {}),  # unbatched, every argument given
]
IDS = [f"{c[0]}d-{i}" for i, c in enumerate(CASES)]
DATA = ["ties", "equal", "-inf", "nan"]


def _data(shape, kind, dtype):
    rng = np.random.default_rng(len(shape) * 10 + DATA.index(kind))
    x = rng.integers(-2, 3, shape).astype(dtype)  # integer values: many ties
    if kind == "equal":
        x[:] = 1.5
    elif kind == "-inf":
        x[rng.random(shape) < 0.6] = -np.inf  # whole windows of -inf among them
    elif kind == "nan":
        x[rng.random(shape) < 0.25] = np.nan
        x[rng.random(shape) < 0.25] = -np.inf
    return x


def _call(fn, nd, args, kwargs):
    return lambda x, **kw: getattr(fn, f"max_pool{nd}d")(x, *args, **kwargs, **kw)


def _torch(nd, args, kwargs, x, ct):
    t = torch.tensor(x, requires_grad=True)
    y, idx = _call(TF, nd, args, kwargs)(t, return_indices=True)
    y.backward(torch.tensor(ct))
    return y.detach().numpy(), idx.numpy(), t.grad.numpy()


def _jax(nd, args, kwargs, x, ct):
    fn = _call(F, nd, args, kwargs)
    y, vjp = jax.vjp(jax.jit(fn), jnp.asarray(x))
    (grad,) = vjp(jnp.asarray(ct))
    _, idx = jax.jit(lambda a: fn(a, return_indices=True))(x)
    return np.asarray(y), np.asarray(idx), np.asarray(grad)


@pytest.mark.parametrize("kind", DATA)
@pytest.mark.parametrize("nd,shape,args,kwargs", CASES, ids=IDS)
def test_equals_torch(nd, shape, args, kwargs, kind, float_dtype):
    x = _data(shape, kind, float_dtype)
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda a: jnp.sum(_call(F, nd, args, kwargs)(a))))(x))
    assert "reduce_window" not in jaxpr and "gather" not in jaxpr  # the select-chain path
    ct = np.random.default_rng(1).standard_normal(tuple(_call(TF, nd, args, kwargs)(torch.tensor(x)).shape))
    ct = ct.astype(float_dtype)
    t_y, t_idx, t_grad = _torch(nd, args, kwargs, x, ct)
    j_y, j_idx, j_grad = _jax(nd, args, kwargs, x, ct)
    assert j_y.dtype == float_dtype and j_grad.dtype == float_dtype
    np.testing.assert_array_equal(j_y, t_y)  # nan == nan here
    np.testing.assert_array_equal(j_idx, t_idx)
    np.testing.assert_array_equal(j_grad, t_grad)


@pytest.mark.parametrize("kind", ["ties", "equal", "-inf"])
@pytest.mark.parametrize("nd,shape,args,kwargs", CASES, ids=IDS)
def test_equals_the_window_max_path(nd, shape, args, kwargs, kind, monkeypatch):
    """The same values, gradients and indices as XLA's window max (values, gradient) and the
    gathered windows (indices), the paths these shapes took before (nan windows excepted: the
    window max's gradient there is not torch's)."""
    x = _data(shape, kind, "float32")
    ct = np.random.default_rng(2).standard_normal(tuple(_call(F, nd, args, kwargs)(x).shape)).astype("float32")
    new = _jax(nd, args, kwargs, x, ct)
    monkeypatch.setattr(pooling, "_BLOCKS_MAX_WINDOW", 0)
    old = _jax(nd, args, kwargs, x, ct)
    for a, b in zip(new, old):
        np.testing.assert_array_equal(a, b)


def test_forward_mode_matches_reverse_mode():
    x = _data((1, 2, 4, 6), "ties", "float32")
    f = lambda a: F.max_pool2d(a, 2)  # noqa: E731
    np.testing.assert_array_equal(np.asarray(jax.jacfwd(f)(x)), np.asarray(jax.jacrev(f)(x)))


def test_larger_windows_keep_the_window_max():
    """3x3 windows (9 elements) are past the rule's limit: XLA's window max, measured faster there."""
    x = np.zeros((1, 1, 6, 6), np.float32)
    assert "reduce_window" in str(jax.make_jaxpr(lambda a: F.max_pool2d(a, 3))(x))
    assert "reduce_window" in str(jax.make_jaxpr(lambda a: F.max_pool2d(a, 2, 1))(x))
    assert "reduce_window" not in str(jax.make_jaxpr(lambda a: F.max_pool3d(a, 2))(np.zeros((1, 1, 4, 4, 4))))
