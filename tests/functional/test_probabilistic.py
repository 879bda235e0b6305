"""gaussian_nll_loss, poisson_nll_loss and kl_div (and their classes) against torch."""

import functools
import math
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from absl.testing import parameterized

import jaxnn
import jaxnn.functional as F
from jaxnn.functional._reduction import LegacyReductionWarning
from tests.parity import assert_parity

REDUCTIONS = ["none", "mean", "sum"]


def _normal(shape, dtype, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _half(dtype, *arrays):
    return tuple(np.asarray(jnp.asarray(a, dtype)) for a in arrays)


HALF = pytest.mark.parametrize("half", ["bfloat16", "float16"])


def _torch_raises(fn, *args, **kwargs):
    with pytest.raises((ValueError, RuntimeError, TypeError)):
        fn(*args, **kwargs)


# ---------------------------------------------------------------------------
# gaussian_nll_loss

def _variances(shape, dtype, seed=1):
    """Positive variances, some below the default eps (1e-6) and one exactly 0, so the clamp acts."""
    v = np.random.default_rng(seed).uniform(0.05, 2.0, shape)
    flat = v.reshape(-1)
    flat[0] = 0.0
    if flat.size > 2:
        flat[2] = 1e-9
    return v.astype(dtype)


# var shape for input (4, 3): every form torch accepts
VAR_SHAPES = {"same": (4, 3), "one_fewer_dim": (4,), "trailing_1": (4, 1), "leading_1": (1, 3)}


@pytest.mark.parametrize("var_kind", list(VAR_SHAPES))
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_values_and_gradients(var_kind, full, reduction, float_dtype):
    x, y = _normal((4, 3), float_dtype, 0), _normal((4, 3), float_dtype, 1)
    var = _variances(VAR_SHAPES[var_kind], float_dtype)
    assert_parity(
        F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, y, var), {"full": full, "reduction": reduction}, wrt=(0, 1, 2)
    )


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_float_var(full, reduction, float_dtype):
    x, y = _normal((4, 3), float_dtype, 0), _normal((4, 3), float_dtype, 1)
    for var in [0.7, 1e-9, 0.0]:
        assert_parity(
            F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, y, var), {"full": full, "reduction": reduction}, wrt=(0, 1)
        )


def test_gaussian_channel_var_on_4d_input():
    """torch's (B, 1, H, W) variance for a (B, C, H, W) input, and a target that broadcasts."""
    x = _normal((2, 3, 4, 5), "float32", 0)
    y = _normal((3, 4, 5), "float32", 1)
    var = _variances((2, 1, 4, 5), "float32")
    assert_parity(F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, y, var), {"reduction": "none"}, wrt=(0, 1, 2))


def test_gaussian_zero_dim_var_array_is_a_shape_like_torch():
    """A 0-d var array fits a 1-d input (one fewer dim) and a 0-d input (same shape), as a 0-d tensor in torch."""
    var = np.array(0.5, np.float32)
    for x in [_normal((5,), "float32", 0), np.array(1.5, np.float32)]:
        y = np.zeros_like(x)
        assert_parity(F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, y, var), {"reduction": "none"}, wrt=(0, 2))


def test_gaussian_clamp_is_straight_through_for_the_gradient(x64):
    """Below eps the value uses eps, and d/dvar is the derivative at eps passed through unchanged."""
    eps = 1e-3
    x, y, var = np.array([0.5]), np.array([0.0]), np.array([1e-5])
    value, grad = jax.value_and_grad(lambda v: F.gaussian_nll_loss(x, y, v, eps=eps), argnums=0)(var)
    np.testing.assert_allclose(value, 0.5 * (math.log(eps) + 0.25 / eps), rtol=1e-14)
    np.testing.assert_allclose(grad, [0.5 * (1 / eps - 0.25 / eps**2)], rtol=1e-14)
    assert_parity(F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, y, var), {"eps": eps}, wrt=(0, 2))


def test_gaussian_full_adds_half_log_two_pi(x64):
    x, y = _normal((3, 4), "float64", 0), _normal((3, 4), "float64", 1)
    var = np.random.default_rng(2).uniform(0.5, 2.0, (3, 4))
    diff = F.gaussian_nll_loss(x, y, var, full=True, reduction="none") - F.gaussian_nll_loss(
        x, y, var, reduction="none"
    )
    np.testing.assert_allclose(diff, np.full((3, 4), 0.5 * math.log(2 * math.pi)), rtol=1e-13)


def test_gaussian_extremes():
    x = np.array([1e30, -1e30, 0.0, 1e-30, 3.0], np.float32)
    y = np.array([0.0, 0.0, 0.0, 0.0, 3.0], np.float32)
    for var in [np.array([1.0, 1e-30, 1e30, 0.0, 1e-7], np.float32), 1e-30]:
        wrt = (0, 1, 2) if isinstance(var, np.ndarray) else (0, 1)
        assert_parity(F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, y, var), {"reduction": "none"}, wrt=wrt)


@HALF
def test_gaussian_half_precision(half):
    x, y, var = _half(half, _normal((4, 6), "float32", 0), _normal((4, 6), "float32", 1), _variances((4, 6), "float32"))
    assert_parity(F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, y, var), {"reduction": "mean"}, wrt=(0, 2))


# ---------------------------------------------------------------------------
# poisson_nll_loss

def _counts(shape, dtype, seed=2):
    """Counts with 0, exactly 1 (Stirling's boundary), fractions below 1 and values above."""
    t = np.random.default_rng(seed).poisson(3.0, shape).astype(np.float64)
    flat = t.reshape(-1)
    flat[:4] = [0.0, 1.0, 0.5, 1.5]
    return t.astype(dtype)


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_values_and_gradients(log_input, full, reduction, float_dtype):
    x = _normal((4, 5), float_dtype, 0)
    if not log_input:
        x = np.abs(x)
        x.reshape(-1)[5] = 0.0  # log(0 + eps)
    t = _counts((4, 5), float_dtype)
    # full=True: the target gradient is nan where target <= 0, in torch too; the harness compares nan as equal
    assert_parity(
        F.poisson_nll_loss, TF.poisson_nll_loss, (x, t), {"log_input": log_input, "full": full, "reduction": reduction},
        wrt=(0, 1),
    )


def test_poisson_stirling_term_only_where_target_exceeds_one(x64):
    t = np.array([0.0, 0.5, 1.0, 1.0000001, 2.0, 7.0])
    x = np.full(6, 0.3)
    diff = F.poisson_nll_loss(x, t, full=True, reduction="none") - F.poisson_nll_loss(x, t, reduction="none")
    stirling = np.where(t > 1, t * np.log(np.maximum(t, 1)) - t + 0.5 * np.log(2 * np.pi * np.maximum(t, 1)), 0.0)
    np.testing.assert_allclose(diff, stirling, rtol=1e-12, atol=1e-15)
    grad_x = jax.grad(lambda a: F.poisson_nll_loss(a, t, full=True, reduction="sum"))(x)
    np.testing.assert_allclose(grad_x, np.exp(x) - t, rtol=1e-14)


@pytest.mark.parametrize("eps", [1e-8, 1e-3])
def test_poisson_eps_inside_the_log(eps, x64):
    x, t = np.array([0.0, 2.0]), np.array([3.0, 1.0])
    out = F.poisson_nll_loss(x, t, log_input=False, eps=eps, reduction="none")
    np.testing.assert_allclose(out, x - t * np.log(x + eps), rtol=1e-14)
    assert_parity(F.poisson_nll_loss, TF.poisson_nll_loss, (x, t), {"log_input": False, "eps": eps}, wrt=(0, 1))


def test_poisson_extremes():
    x = np.array([1e30, -1e30, 80.0, -80.0, 0.0], np.float32)
    t = np.array([0.0, 1e30, 2.0, 0.0, 1e-30], np.float32)
    for log_input in [True, False]:
        xi = x if log_input else np.abs(x)
        assert_parity(F.poisson_nll_loss, TF.poisson_nll_loss, (xi, t), {"log_input": log_input, "reduction": "none"})


@HALF
def test_poisson_half_precision(half):
    x, t = _half(half, _normal((4, 6), "float32", 0), _counts((4, 6), "float32"))
    for full in [False, True]:
        assert_parity(F.poisson_nll_loss, TF.poisson_nll_loss, (x, t), {"full": full}, wrt=(0,))


@pytest.mark.parametrize("size_average,reduce", [(False, None), (None, False), (True, True)])
def test_poisson_legacy_arguments(size_average, reduce):
    x, t = _normal((3, 4), "float32"), _counts((3, 4), "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = TF.poisson_nll_loss(torch.tensor(x), torch.tensor(t), size_average=size_average, reduce=reduce)
    with pytest.warns(LegacyReductionWarning):
        out = F.poisson_nll_loss(x, t, size_average=size_average, reduce=reduce)
    chex.assert_trees_all_close(np.asarray(out), expected.numpy(), rtol=2e-6)


# ---------------------------------------------------------------------------
# kl_div

KL_REDUCTIONS = ["none", "mean", "sum", "batchmean"]


def _kl_data(shape, dtype, log_target, seed=3):
    """Log-probabilities over the last axis; the target has exact zeros (or -inf-free logs)."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape)
    x = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    p = rng.uniform(0.0, 1.0, shape)
    p.reshape(-1)[::4] = 0.0
    p = p / p.sum(-1, keepdims=True)
    t = np.log(p + 0.01) if log_target else p
    return x.astype(dtype), t.astype(dtype)


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
def test_kl_values_and_gradients(log_target, reduction, float_dtype):
    x, t = _kl_data((2, 3, 4), float_dtype, log_target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # target gradient included: nan where target == 0 (non-log), as torch's xlogy rule gives
        assert_parity(F.kl_div, TF.kl_div, (x, t), {"reduction": reduction, "log_target": log_target}, wrt=(0, 1))


def test_kl_zero_target_contributes_zero_without_nan():
    x = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], np.float32))
    t = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 0.5]], np.float32)
    out, grad = jax.value_and_grad(lambda a: F.kl_div(a, t, reduction="batchmean"))(x)
    expected = (math.log(1 / 0.5) + 0.5 * math.log(0.5 / 0.1) + 0.5 * math.log(0.5 / 0.8)) / 2
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    chex.assert_trees_all_equal(np.asarray(grad), -t / 2)
    assert np.isfinite(np.asarray(grad)).all()
    none = F.kl_div(x, t, reduction="none")
    assert (np.asarray(none)[t == 0] == 0).all()


def test_kl_batchmean_and_mean_denominators(x64):
    x, t = _kl_data((3, 4, 5), "float64", False)
    total = float(F.kl_div(x, t, reduction="sum"))
    np.testing.assert_allclose(F.kl_div(x, t, reduction="batchmean"), total / 3, rtol=1e-14)
    with pytest.warns(UserWarning):
        np.testing.assert_allclose(F.kl_div(x, t, reduction="mean"), total / 60, rtol=1e-14)


def test_kl_batchmean_of_a_scalar_is_not_divided(x64):
    x, t = np.array(-0.5), np.array(0.25)
    assert_parity(F.kl_div, TF.kl_div, (x, t), {"reduction": "batchmean"}, wrt=(0, 1))
    np.testing.assert_allclose(F.kl_div(x, t, reduction="batchmean"), 0.25 * (math.log(0.25) + 0.5), rtol=1e-14)


def test_kl_mean_warns_like_torch():
    x, t = _kl_data((2, 3), "float32", False)
    with pytest.warns(UserWarning) as theirs:
        TF.kl_div(torch.tensor(x), torch.tensor(t), reduction="mean")
    with pytest.warns(UserWarning) as ours:
        F.kl_div(x, t)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in ["none", "sum", "batchmean"]:
            F.kl_div(x, t, reduction=reduction)


def test_kl_negative_or_nan_target_gives_nan_like_torch():
    x = np.log(np.array([0.5, 0.25, 0.25], np.float32))
    t = np.array([-0.1, np.nan, 0.5], np.float32)
    assert_parity(F.kl_div, TF.kl_div, (x, t), {"reduction": "none"}, wrt=(0, 1))


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_extremes(log_target):
    x = np.array([-1e30, 0.0, -80.0, -1e-30], np.float32)
    t = np.array([1e-30, 0.0, 1.0, 1e-30], np.float32) if not log_target else np.array([-1e30, -80.0, 0.0, 1e-30], np.float32)
    assert_parity(F.kl_div, TF.kl_div, (x, t), {"reduction": "none", "log_target": log_target}, wrt=(0, 1))


@HALF
def test_kl_half_precision(half):
    for log_target in [False, True]:
        x, t = _half(half, *_kl_data((4, 6), "float32", log_target))
        assert_parity(F.kl_div, TF.kl_div, (x, t), {"reduction": "batchmean", "log_target": log_target}, wrt=(0,))


@pytest.mark.parametrize("size_average,reduce", [(False, None), (None, False), (True, True)])
@pytest.mark.parametrize("reduction", ["mean", "batchmean"])
def test_kl_legacy_arguments_keep_torchs_batchmean_quirk(size_average, reduce, reduction):
    """torch: the legacy pair picks the reduction; reduction='batchmean' still divides by the batch."""
    x, t = _kl_data((3, 4), "float32", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = TF.kl_div(torch.tensor(x), torch.tensor(t), size_average, reduce, reduction).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.warns(LegacyReductionWarning):
            out = F.kl_div(x, t, size_average, reduce, reduction)
    chex.assert_trees_all_close(np.asarray(out), expected, rtol=2e-6)


def test_kl_class_resolves_legacy_arguments_at_construction_like_torch():
    x, t = _kl_data((3, 4), "float32", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tcrit = torch.nn.KLDivLoss(size_average=False, reduction="batchmean")
        crit = jaxnn.KLDivLoss(size_average=False, reduction="batchmean")
    assert crit.reduction == tcrit.reduction == "sum"
    assert_parity(crit, tcrit, (x, t), wrt=(0,))


# ---------------------------------------------------------------------------
# all three: empty input, jit, vmap, classes, bad input

CALLS = {
    "gaussian": (
        lambda f, x, y, **k: f(x, y, x * 0 + 1, **k),
        F.gaussian_nll_loss,
        TF.gaussian_nll_loss,
    ),
    "poisson": (lambda f, x, y, **k: f(x, y, **k), F.poisson_nll_loss, TF.poisson_nll_loss),
    "kl": (lambda f, x, y, **k: f(x, y, **k), F.kl_div, TF.kl_div),
}


@pytest.mark.parametrize(
    "name,reduction", [(n, r) for n in CALLS for r in REDUCTIONS] + [("kl", "batchmean")]
)
def test_empty_input(name, reduction):
    call, jfn, tfn = CALLS[name]
    x, y = np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = call(tfn, torch.tensor(x), torch.tensor(y), reduction=reduction).numpy()
        out = call(jfn, x, y, reduction=reduction)
    chex.assert_shape(out, expected.shape)
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_vmap_over_a_batch():
    """vmap of the per-sample loss equals torch run sample by sample (values and input gradients)."""
    x, t = _kl_data((3, 5), "float32", False)
    var = _variances((3, 5), "float32")
    cases = [
        (lambda a, b, v: F.kl_div(a, b, reduction="sum"), lambda a, b, v: TF.kl_div(a, b, reduction="sum")),
        (lambda a, b, v: F.poisson_nll_loss(a, b * 4), lambda a, b, v: TF.poisson_nll_loss(a, b * 4)),
        (lambda a, b, v: F.gaussian_nll_loss(a, b, v), lambda a, b, v: TF.gaussian_nll_loss(a, b, v)),
    ]
    for jfn, tfn in cases:
        values, grads = jax.vmap(jax.value_and_grad(jfn, argnums=(0, 2)))(x, t, var)
        for i in range(3):
            tx, tv = torch.tensor(x[i], requires_grad=True), torch.tensor(var[i], requires_grad=True)
            tout = tfn(tx, torch.tensor(t[i]), tv)
            tgx, tgv = torch.autograd.grad(tout, [tx, tv], allow_unused=True)
            chex.assert_trees_all_close(values[i], tout.detach().numpy(), rtol=2e-6)
            chex.assert_trees_all_close(grads[0][i], tgx.numpy(), rtol=2e-5, atol=1e-6)
            if tgv is not None:
                chex.assert_trees_all_close(grads[1][i], tgv.numpy(), rtol=2e-5, atol=1e-6)


class ProbabilisticJitTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_functions(self):
        x, t = _kl_data((4, 5), "float32", False)
        var = _variances((4, 1), "float32")
        cases = [
            (lambda a, b, v: F.kl_div(a, b, reduction="batchmean"), lambda a, b, v: TF.kl_div(a, b, reduction="batchmean")),
            (lambda a, b, v: F.poisson_nll_loss(a, b, full=True), lambda a, b, v: TF.poisson_nll_loss(a, b, full=True)),
            (lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True), lambda a, b, v: TF.gaussian_nll_loss(a, b, v, full=True)),
        ]
        for jfn, tfn in cases:
            assert_parity(self.variant(jfn), tfn, (x, t * 3, var), wrt=(0, 2))

    @chex.variants(with_jit=True, without_jit=True)
    def test_classes_with_options(self):
        x, t = _kl_data((4, 5), "float32", True)
        var = _variances((4,), "float32")
        counts = _counts((4, 5), "float32")
        cases = [
            (jaxnn.KLDivLoss(reduction="batchmean", log_target=True), torch.nn.KLDivLoss(reduction="batchmean", log_target=True),
             (x, t), lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=True)),
            (jaxnn.PoissonNLLLoss(log_input=False, full=True, eps=1e-4, reduction="sum"),
             torch.nn.PoissonNLLLoss(log_input=False, full=True, eps=1e-4, reduction="sum"),
             (np.exp(x), counts), lambda a, b: F.poisson_nll_loss(a, b, False, True, eps=1e-4, reduction="sum")),
            (jaxnn.GaussianNLLLoss(full=True, eps=0.1, reduction="none"), torch.nn.GaussianNLLLoss(full=True, eps=0.1, reduction="none"),
             (x, t, var), lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True, eps=0.1, reduction="none")),
        ]
        for crit, tcrit, args, fn in cases:
            assert_parity(self.variant(lambda *a, crit=crit: crit(*a)), tcrit, args, wrt=tuple(range(len(args))))
            chex.assert_trees_all_equal(crit(*args), fn(*args))


class TestBadInput:
    @pytest.mark.parametrize("var_shape", [(1, 1), (3,), (2, 3, 1), (0, 3), (1,), ()])
    def test_gaussian_var_of_a_shape_torch_rejects(self, var_shape):
        with pytest.raises(ValueError, match="var is of incorrect size"):
            TF.gaussian_nll_loss(torch.ones(2, 3), torch.zeros(2, 3), torch.ones(var_shape))
        pattern = rf"var is of incorrect size: var shape {re_shape(var_shape)}, input shape \(2, 3\)"
        with pytest.raises(ValueError, match=pattern):
            jax.jit(F.gaussian_nll_loss).lower(jnp.ones((2, 3)), jnp.zeros((2, 3)), jnp.ones(var_shape))

    def test_gaussian_negative_var(self):
        with pytest.raises(ValueError, match="var has negative entry/entries"):
            F.gaussian_nll_loss(jnp.ones(3), jnp.zeros(3), -0.5)
        with pytest.raises(ValueError, match="var has negative entry/entries"):
            F.gaussian_nll_loss(jnp.ones(3), jnp.zeros(3), jnp.array([1.0, -1e-9, 1.0]))
        # traced under jit it cannot be inspected: clamped to eps, as documented
        assert np.isfinite(jax.jit(F.gaussian_nll_loss)(jnp.ones(3), jnp.zeros(3), -jnp.ones(3)))

    def test_gaussian_integer_var(self):
        with pytest.raises(TypeError, match="var must have a floating dtype"):
            F.gaussian_nll_loss(jnp.ones((2, 3)), jnp.zeros((2, 3)), jnp.ones((2, 3), jnp.int32))

    @pytest.mark.parametrize("name", list(CALLS))
    def test_invalid_reduction(self, name):
        call, jfn, tfn = CALLS[name]
        x = np.ones((2, 3), np.float32)
        _torch_raises(call, tfn, torch.tensor(x), torch.tensor(x), reduction="avg")
        with pytest.raises(ValueError, match="'avg'"):
            call(jfn, x, x, reduction="avg")
        if name != "kl":
            with pytest.raises(ValueError, match="'batchmean'"):
                call(jfn, x, x, reduction="batchmean")

    def test_kl_invalid_reduction_lists_batchmean(self):
        with pytest.raises(ValueError, match="'none', 'mean', 'sum', 'batchmean'"):
            F.kl_div(jnp.ones(2), jnp.ones(2), reduction="avg")
        with pytest.raises(ValueError, match="'avg'"):
            jaxnn.KLDivLoss(reduction="avg")

    @pytest.mark.parametrize("name", list(CALLS))
    def test_shapes_that_do_not_broadcast(self, name):
        _, jfn, tfn = CALLS[name]
        args = [jnp.ones((3, 4)), jnp.ones(5)] + ([jnp.ones((3, 4))] if name == "gaussian" else [])
        with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
            jax.jit(functools.partial(jfn, reduction="sum")).lower(*args)

    @pytest.mark.parametrize("name", list(CALLS))
    def test_integer_input(self, name):
        call, jfn, _ = CALLS[name]
        with pytest.raises(TypeError, match="input must have a floating dtype, got int32"):
            call(jfn, jnp.arange(3), jnp.ones(3, jnp.float32), reduction="sum")


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")
