"""jaxnn.functional's normalisation functions against torch.nn.functional: values and
gradients w.r.t. input, weight and bias, running-statistics updates, torch's edges and errors."""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F
from jaxnn.functional import normalization as N
from tests.parity import assert_parity, to_torch


def _randn(*shape, dtype="float32", seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(dtype)


@pytest.mark.parametrize(
    "shape,normalized,affine,eps",
    [((3, 4, 5), [5], "both", 1e-5), ((2, 3, 4), [3, 4], "weight", 1e-3), ((4, 6), [6], None, 1e-5)],
)
def test_layer_norm(shape, normalized, affine, eps, float_dtype):
    x = _randn(*shape, dtype=float_dtype, scale=2.0, shift=1.0)
    w = _randn(*normalized, dtype=float_dtype, seed=1) if affine else None
    b = _randn(*normalized, dtype=float_dtype, seed=2) if affine == "both" else None
    wrt = [0] + ([1] if w is not None else []) + ([2] if b is not None else [])
    assert_parity(lambda x, w, b: F.layer_norm(x, normalized, w, b, eps),
                  lambda x, w, b: TF.layer_norm(x, normalized, w, b, eps), (x, w, b), wrt=wrt, jit=True)


@pytest.mark.parametrize(
    "shape,normalized,weight,eps",
    [((3, 4, 5), [5], True, None), ((2, 3, 4), [3, 4], False, None), ((4, 6), [6], True, 1e-3)],
)
def test_rms_norm(shape, normalized, weight, eps, float_dtype):
    # values ~1e-4: mean(x**2) ~ 1e-8 is below float32's eps (1.2e-7), so the default eps matters
    x = _randn(*shape, dtype=float_dtype, scale=1e-4)
    w = _randn(*normalized, dtype=float_dtype, seed=1) if weight else None
    assert_parity(lambda x, w: F.rms_norm(x, normalized, w, eps), lambda x, w: TF.rms_norm(x, normalized, w, eps),
                  (x, w), wrt=[0, 1] if weight else [0], jit=True)


def test_rms_norm_default_eps_is_the_dtype_machine_epsilon(x64):
    x = np.full((1, 2), 1e-8)
    for dtype, eps in (("float32", np.finfo(np.float32).eps), ("float64", np.finfo(np.float64).eps)):
        got = F.rms_norm(x.astype(dtype), [2])
        chex.assert_trees_all_close(np.asarray(got, np.float64), x / np.sqrt(1e-16 + float(eps)), rtol=1e-6)


def test_rms_norm_bfloat16_rounds_once_as_torchs_fused_kernel():
    x = jnp.asarray(_randn(4, 8, scale=3.0), jnp.bfloat16)
    w = jnp.asarray(_randn(8, seed=1), jnp.bfloat16)
    expected = TF.rms_norm(to_torch(x), [8], to_torch(w)).float().numpy()
    np.testing.assert_array_equal(np.asarray(F.rms_norm(x, [8], w), np.float32), expected)


@pytest.mark.parametrize("shape,groups,affine", [((3, 6, 5), 3, True), ((2, 4, 2, 3), 1, False), ((2, 4, 3), 4, True)])
def test_group_norm(shape, groups, affine, float_dtype):
    x = _randn(*shape, dtype=float_dtype, scale=2.0, shift=-1.0)
    w, b = (_randn(shape[1], dtype=float_dtype, seed=s) for s in (1, 2)) if affine else (None, None)
    assert_parity(lambda x, w, b: F.group_norm(x, groups, w, b), lambda x, w, b: TF.group_norm(x, groups, w, b),
                  (x, w, b), wrt=[0, 1, 2] if affine else [0], jit=True)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)], ids=str)
def test_batch_norm(shape, training, float_dtype):
    x = _randn(*shape, dtype=float_dtype, scale=2.0, shift=1.0)
    rm, rv = _randn(3, dtype=float_dtype, seed=3), np.abs(_randn(3, dtype=float_dtype, seed=4)) + 0.5
    w, b = _randn(3, dtype=float_dtype, seed=1), _randn(3, dtype=float_dtype, seed=2)
    # torch's CPU kernel accumulates float32 sums in double; XLA's in float32 leave ~1e-5
    # relative in the weight gradient, a sum of 24 terms of size ~4 that cancels to ~0.2
    tol = (1e-4, 1e-5) if float_dtype == "float32" else None
    # torch updates the running statistics in place: hand it copies
    assert_parity(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-3),
                  lambda x, w, b: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, training, 0.1, 1e-3),
                  (x, w, b), wrt=[0, 1, 2], tol=tol, jit=True)


@pytest.mark.parametrize("momentum", [0.1, 0.7])
def test_batch_norm_train_returns_torchs_updated_running_stats(momentum, float_dtype):
    x = _randn(6, 3, 4, dtype=float_dtype, scale=3.0, shift=2.0)
    rm, rv = _randn(3, dtype=float_dtype, seed=3), np.abs(_randn(3, dtype=float_dtype, seed=4)) + 0.5
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    expected = TF.batch_norm(torch.tensor(x), trm, trv, None, None, True, momentum, 1e-5)
    out, new_rm, new_rv = N._batch_norm_train(x, rm, rv, None, None, momentum, 1e-5)
    rtol = 1e-12 if float_dtype == "float64" else 1e-5
    for got, want in ((out, expected), (new_rm, trm), (new_rv, trv)):
        assert got.dtype == jnp.dtype(float_dtype)
        chex.assert_trees_all_close(np.asarray(got), want.numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(np.asarray(F.batch_norm(x, rm, rv, training=True)), np.asarray(out))


def test_batch_norm_empty_batch_in_training_is_empty_and_keeps_the_stats():
    rm, rv = np.arange(3.0, dtype=np.float32), np.ones(3, np.float32) * 2
    out, new_rm, new_rv = N._batch_norm_train(np.zeros((0, 3, 4), np.float32), rm, rv, None, None, 0.1, 1e-5)
    assert out.shape == (0, 3, 4)
    np.testing.assert_array_equal(new_rm, rm)
    np.testing.assert_array_equal(new_rv, rv)
    assert tuple(TF.batch_norm(torch.zeros(0, 3, 4), torch.tensor(rm), torch.tensor(rv), training=True).shape) == (0, 3, 4)


@pytest.mark.parametrize("use_input_stats", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 2, 2, 3)], ids=str)
def test_instance_norm(shape, use_input_stats, float_dtype):
    x = _randn(*shape, dtype=float_dtype, scale=2.0, shift=1.0)
    c = shape[1]
    rm, rv = _randn(c, dtype=float_dtype, seed=3), np.abs(_randn(c, dtype=float_dtype, seed=4)) + 0.5
    w, b = _randn(c, dtype=float_dtype, seed=1), _randn(c, dtype=float_dtype, seed=2)
    assert_parity(lambda x, w, b: F.instance_norm(x, rm, rv, w, b, use_input_stats, 0.2),
                  lambda x, w, b: TF.instance_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, use_input_stats, 0.2),
                  (x, w, b), wrt=[0, 1, 2], jit=True)


def test_instance_norm_train_returns_torchs_updated_running_stats(x64):
    x = _randn(3, 2, 5, dtype="float64", scale=3.0, shift=2.0)
    rm, rv = _randn(2, dtype="float64", seed=3), np.abs(_randn(2, dtype="float64", seed=4)) + 0.5
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    TF.instance_norm(torch.tensor(x), trm, trv, momentum=0.3)
    _, new_rm, new_rv = N._instance_norm_train(x, rm, rv, None, None, 0.3, 1e-5)
    chex.assert_trees_all_close(np.asarray(new_rm), trm.numpy(), rtol=1e-12)
    chex.assert_trees_all_close(np.asarray(new_rv), trv.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape,size", [((2, 5, 4), 3), ((2, 6, 3, 2), 4), ((1, 4, 2, 2, 2), 1), ((2, 3, 3), 7)], ids=str)
def test_local_response_norm(shape, size, float_dtype):
    x = _randn(*shape, dtype=float_dtype, scale=3.0)
    assert_parity(lambda x: F.local_response_norm(x, size, alpha=0.3, beta=0.6, k=1.5),
                  lambda x: TF.local_response_norm(x, size, alpha=0.3, beta=0.6, k=1.5), (x,), jit=True)


def test_local_response_norm_default_options_and_empty_input():
    x = _randn(2, 5, 3, scale=30.0)
    assert_parity(lambda x: F.local_response_norm(x, 2), lambda x: TF.local_response_norm(x, 2), (x,), jit=True)
    assert F.local_response_norm(jnp.zeros((0, 3, 2)), 2).shape == (0, 3, 2)


@pytest.mark.parametrize("size", [2, 3, 5])
def test_cross_map_lrn2d_is_torchs_forward_and_handwritten_backward(size, float_dtype):
    x = _randn(2, 7, 2, 3, dtype=float_dtype, scale=2.0)
    layer = torch.nn.CrossMapLRN2d(size, alpha=0.5, beta=0.7, k=1.5)
    assert_parity(lambda x: N._cross_map_lrn2d(x, size, 0.5, 0.7, 1.5), layer, (x,), jit=True)


def test_cross_map_lrn2d_gradient_is_not_the_derivative_of_its_forward(x64):
    """A property of torch's kernel that jaxnn keeps: its window always holds channel 0 and its
    backward sums over a window shifted by one, so autodiff of the forward differs."""
    x = jnp.asarray(_randn(1, 7, 1, 1, dtype="float64"))
    fwd, _ = N._cross_map_window(7, 5)
    plain = jax.jit(jax.value_and_grad(lambda v: jnp.sum(v * jnp.power(N._mix(fwd, v * v) * (0.5 / 5) + 1.5, -0.7))))
    custom = jax.jit(jax.value_and_grad(lambda v: jnp.sum(N._cross_map_lrn2d(v, 5, 0.5, 0.7, 1.5))))
    (value, grad), (torch_value, torch_grad) = plain(x), custom(x)
    chex.assert_trees_all_close(value, torch_value, rtol=1e-14)
    assert float(jnp.max(jnp.abs(grad - torch_grad))) > 1e-3


def test_constant_slices_have_exactly_zero_variance(x64):
    """torch's kernels give mean == value and variance exactly 0 for a constant slice;
    so must these (issue #23: 1e-12 weight gradients where torch has 0)."""
    x = np.full((2, 3, 2, 3), 2.00001)
    x[0, 0, 0, 0] = 0.0

    @jax.jit
    def weight_grads(x):
        ct = jnp.arange(x.size, dtype=x.dtype).reshape(x.shape)
        w3, w6 = jnp.ones(3), jnp.ones((2, 3))
        return (jax.grad(lambda w: jnp.sum(F.batch_norm(x, None, None, w, None, True) * ct))(w3),
                jax.grad(lambda w: jnp.sum(F.instance_norm(x, weight=w) * ct))(w3),
                jax.grad(lambda w: jnp.sum(F.group_norm(x, 3, w) * ct))(w3),
                jax.grad(lambda w: jnp.sum(F.layer_norm(x[:, 1:], [2, 3], w) * ct[:, 1:]))(w6))

    bn, inst, group, layer = weight_grads(x)
    for grads in (bn, inst, group):
        assert float(grads[1]) == 0.0 and float(grads[2]) == 0.0 and float(grads[0]) != 0.0
    assert float(jnp.max(jnp.abs(layer))) == 0.0


NORMS = {
    "batch_norm": (lambda x, w: F.batch_norm(x, None, None, w, None, True),
                   lambda x, w: TF.batch_norm(x, None, None, w, None, True)),
    "instance_norm": (lambda x, w: F.instance_norm(x, weight=w), lambda x, w: TF.instance_norm(x, weight=w)),
    "group_norm": (lambda x, w: F.group_norm(x, 2, w), lambda x, w: TF.group_norm(x, 2, w)),
    "layer_norm": (lambda x, w: F.layer_norm(x, [5], jnp.ones(5) * w[0]),
                   lambda x, w: TF.layer_norm(x, [5], torch.ones(5, dtype=w.dtype) * w[0])),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_forward_mode_and_second_order_match_torch(name, x64):
    """The statistics are differentiated by a closed form (a custom_jvp in _standardize):
    forward mode, forward-over-reverse and reverse-over-reverse must still be torch's."""
    ours, theirs = NORMS[name]
    x, t, v, c = (_randn(3, 4, 5, dtype="float64", seed=s) for s in range(4))
    w = _randn(4, dtype="float64", seed=4)

    def loss(x):  # nonlinear in the output, so the Hessian has the statistics' second derivatives
        return jnp.sum(jnp.square(ours(x, jnp.asarray(w))) * c)

    tangent = jax.jvp(lambda x: ours(x, jnp.asarray(w)), (x,), (t,))[1]
    hvp_rev = jax.grad(lambda x: jnp.vdot(jax.grad(loss)(x), v))(x)
    hvp_fwd = jax.jvp(jax.grad(loss), (x,), (v,))[1]

    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w)
    want_tangent = torch.func.jvp(lambda x: theirs(x, wt), (torch.tensor(x),), (torch.tensor(t),))[1]
    (g,) = torch.autograd.grad((theirs(xt, wt) ** 2 * torch.tensor(c)).sum(), xt, create_graph=True)
    (want_hvp,) = torch.autograd.grad(g, xt, torch.tensor(v))
    chex.assert_trees_all_close(np.asarray(tangent), want_tangent.numpy(), rtol=1e-10, atol=1e-10)
    chex.assert_trees_all_close(np.asarray(hvp_rev), want_hvp.numpy(), rtol=1e-9, atol=1e-9)
    chex.assert_trees_all_close(np.asarray(hvp_fwd), want_hvp.numpy(), rtol=1e-9, atol=1e-9)


def test_input_gradient_of_a_constant_channel_is_torchs(x64):
    """var == 0 exactly (the pivoted mean): the closed-form backward's 1/sqrt(eps) scaling must give
    torch's input gradient there, not only its zero weight gradient."""
    x = _randn(4, 3, 5, dtype="float64")
    x[:, 1] = 2.5
    ct = _randn(4, 3, 5, dtype="float64", seed=1)
    got = jax.grad(lambda x: jnp.sum(F.batch_norm(x, None, None, training=True) * ct))(x)
    xt = torch.tensor(x, requires_grad=True)
    (TF.batch_norm(xt, None, None, training=True) * torch.tensor(ct)).sum().backward()
    chex.assert_trees_all_close(np.asarray(got), xt.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_traced_eps_is_differentiated_too():
    x = _randn(3, 5)
    got = jax.jit(jax.grad(lambda x, e: jnp.sum(F.layer_norm(x, [5], eps=e) ** 3)))(x, 1e-3)
    xt = torch.tensor(x, requires_grad=True)
    (TF.layer_norm(xt, [5], eps=1e-3) ** 3).sum().backward()
    chex.assert_trees_all_close(np.asarray(got), xt.grad.numpy(), rtol=2e-5, atol=2e-5)


def test_under_jit():
    x = _randn(4, 3, 5)
    f = jax.jit(lambda x: (F.layer_norm(x, [5]), F.group_norm(x, 3), F.batch_norm(x, None, None, training=True),
                           F.instance_norm(x), F.rms_norm(x, [3, 5]), F.local_response_norm(x, 2)))
    for got, want in zip(f(x), (TF.layer_norm(torch.tensor(x), [5]), TF.group_norm(torch.tensor(x), 3),
                                TF.batch_norm(torch.tensor(x), None, None, training=True),
                                TF.instance_norm(torch.tensor(x)), TF.rms_norm(torch.tensor(x), [3, 5]),
                                TF.local_response_norm(torch.tensor(x), 2))):
        chex.assert_trees_all_close(np.asarray(got), want.numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: F.batch_norm(np.ones((1, 3)), None, None, training=True), r"more than 1 value per channel.*\(1, 3\)"),
        (lambda: F.batch_norm(np.ones((4, 3)), None, None, training=True, eps=0.0), "eps must be positive"),
        (lambda: F.batch_norm(np.ones((4, 3)), np.zeros(3), np.ones(3), eps=-1.0), "eps must be non-negative"),
        (lambda: F.batch_norm(np.ones((4, 3)), None, None), "running_mean and running_var must be given"),
        (lambda: F.batch_norm(np.ones((4, 2)), np.zeros(3), np.ones(3)), r"running_mean should contain 2 elements.* not 3"),
        (lambda: F.batch_norm(np.ones((4, 3)), None, None, np.ones(2), training=True), r"weight should contain 3"),
        (lambda: F.batch_norm(np.ones(4), None, None, training=True), r"at least 2 dims.*\(4,\)"),
        (lambda: F.instance_norm(np.ones((2, 3, 1))), r"more than 1 spatial element.*\(2, 3, 1\)"),
        (lambda: F.instance_norm(np.ones((2, 3, 4)), use_input_stats=False), "use_input_stats=False"),
        (lambda: F.layer_norm(np.ones((3, 4)), [5]), r"normalized_shape=\[5\].*\(3, 4\)"),
        (lambda: F.layer_norm(np.ones((3, 4)), [4], np.ones(3)), r"weight of shape \(3,\) and normalized_shape = \[4\]"),
        (lambda: F.rms_norm(np.ones((3, 6, 4)), [3]), r"normalized_shape=\[3\].*\(3, 6, 4\)"),
        (lambda: F.group_norm(np.ones((3, 6, 4)), 4), r"divisible by num_groups.*\(3, 6, 4\) and num_groups=4"),
        (lambda: F.group_norm(np.ones((3, 6, 4)), 3, np.ones(3)), r"weight to be a vector of size equal"),
        (lambda: F.group_norm(np.ones(3), 1), "at least 2 dimensions"),
        (lambda: F.group_norm(np.ones((1, 2)), 2), "more than 1 value per channel"),
        (lambda: F.local_response_norm(np.ones((3, 6)), 3), r"3D or higher.*got 2"),
        (lambda: F.local_response_norm(np.ones((3, 6, 2)), 0), "size must be a positive integer"),
        (lambda: N._cross_map_lrn2d(np.ones((3, 6, 2)), 3), r"expected input to be 4D, got 3D"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="normalized_shape must be a list or tuple"):
        F.layer_norm(np.ones((3, 4)), 4)
    with pytest.raises(TypeError, match="floating-point"):
        F.rms_norm(np.ones((3, 4), np.int32), [4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.batch_norm(np.ones((0, 3)), None, None, training=True)
