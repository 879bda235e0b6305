"""l1_loss and mse_loss (and their classes) against torch: values, gradients, options, errors."""

import functools
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

PAIRS = [(F.l1_loss, TF.l1_loss), (F.mse_loss, TF.mse_loss)]
PAIR_IDS = ["l1", "mse"]
# every pointwise loss with default options; smooth_l1 also takes the legacy pair, huber does not
ALL_PAIRS = [*PAIRS, (F.huber_loss, TF.huber_loss), (F.smooth_l1_loss, TF.smooth_l1_loss)]
ALL_IDS = [*PAIR_IDS, "huber", "smooth_l1"]
LEGACY_PAIRS = [*PAIRS, (F.smooth_l1_loss, TF.smooth_l1_loss)]
LEGACY_IDS = [*PAIR_IDS, "smooth_l1"]
WEIGHTED_PAIRS = [*PAIRS, (F.huber_loss, TF.huber_loss)]
WEIGHTED_IDS = [*PAIR_IDS, "huber"]


def _data(shape_x, shape_y, dtype, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape_x).astype(dtype)
    y = rng.standard_normal(shape_y).astype(dtype)
    if ties and x.size and shape_x == shape_y:
        # exact ties at the kink of |x - y|: torch's gradient there is 0
        flat_x, flat_y = x.reshape(-1), y.reshape(-1)
        flat_x[::3] = flat_y[::3]
    return x, y


@pytest.mark.parametrize("fns", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4), ()])
def test_values_and_gradients(fns, reduction, shape, float_dtype):
    jfn, tfn = fns
    x, y = _data(shape, shape, float_dtype)
    assert_parity(jfn, tfn, (x, y), {"reduction": reduction}, wrt=(0, 1))


@pytest.mark.parametrize("fns", PAIRS, ids=PAIR_IDS)
def test_gradient_is_zero_where_input_equals_target(fns):
    jfn, tfn = fns
    x = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
    grad = jax.grad(jfn)(jnp.asarray(x), jnp.asarray(x))
    chex.assert_trees_all_equal(np.asarray(grad), np.zeros(4, np.float32))
    assert_parity(jfn, tfn, (x, x.copy()), wrt=(0, 1))


@pytest.mark.parametrize("fns", WEIGHTED_PAIRS, ids=WEIGHTED_IDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_weight(fns, reduction, float_dtype):
    jfn, tfn = fns
    x, y = _data((3, 4), (3, 4), float_dtype, seed=1)
    w = np.random.default_rng(2).uniform(0.1, 2.0, (3, 4)).astype(float_dtype)
    assert_parity(jfn, tfn, (x, y), {"reduction": reduction, "weight": w}, wrt=(0, 1))


@pytest.mark.parametrize("fns", ALL_PAIRS, ids=ALL_IDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shapes", [((4, 1), (4, 5)), ((3, 5), (5,)), ((1,), (2, 3))])
def test_broadcasting_warns_like_torch(fns, reduction, shapes):
    jfn, tfn = fns
    x, y = _data(*shapes, "float32", ties=False)
    with pytest.warns(UserWarning, match="target size"):
        assert_parity(jfn, tfn, (x, y), {"reduction": reduction}, wrt=(0, 1))


@pytest.mark.parametrize("fns", ALL_PAIRS, ids=ALL_IDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_empty_input(fns, reduction):
    jfn, tfn = fns
    x, y = _data((0, 3), (0, 3), "float32")
    out = jfn(x, y, reduction=reduction)
    expected = tfn(torch.tensor(x), torch.tensor(y), reduction=reduction).numpy()
    chex.assert_shape(out, expected.shape)
    # torch: mean of nothing is nan, sum of nothing is 0
    np.testing.assert_array_equal(np.asarray(out), expected)


LEGACY = [(None, False), (True, False), (False, False), (False, None), (False, True), (True, None), (None, True), (True, True)]


@pytest.mark.parametrize("fns", LEGACY_PAIRS, ids=LEGACY_IDS)
@pytest.mark.parametrize("size_average,reduce", LEGACY)
def test_legacy_arguments_map_as_torch(fns, size_average, reduce):
    jfn, tfn = fns
    x, y = _data((3, 4), (3, 4), "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = tfn(torch.tensor(x), torch.tensor(y), size_average=size_average, reduce=reduce).numpy()
    with pytest.warns(LegacyReductionWarning, match="deprecated"):
        out = jfn(x, y, size_average=size_average, reduce=reduce, reduction="mean")
    chex.assert_trees_all_close(np.asarray(out), expected, rtol=2e-6)


class JitTest(parameterized.TestCase):
    """The same assertions with and without jax.jit, options static."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters("none", "mean", "sum")
    def test_l1_and_mse(self, reduction):
        x, y = _data((5, 6), (5, 6), "float32")
        for jfn, tfn in PAIRS:
            fn = self.variant(lambda a, b, jfn=jfn: jfn(a, b, reduction=reduction))
            assert_parity(fn, tfn, (x, y), {}, torch_kwargs={"reduction": reduction}, wrt=(0, 1))

    @chex.variants(with_jit=True, without_jit=True)
    def test_classes(self):
        x, y = _data((5, 6), (5, 6), "float32")
        for cls, tcls in [(jaxnn.L1Loss, torch.nn.L1Loss), (jaxnn.MSELoss, torch.nn.MSELoss)]:
            crit = cls(reduction="sum")
            fn = self.variant(lambda a, b, crit=crit: crit(a, b))
            assert_parity(fn, tcls(reduction="sum"), (x, y), wrt=(0, 1))


class TestClasses:
    @pytest.mark.parametrize("name", ["L1Loss", "MSELoss"])
    @pytest.mark.parametrize("kwargs", [{}, {"reduction": "none"}, {"reduction": "sum"}])
    def test_class_matches_torch_class(self, name, kwargs):
        x, y = _data((4, 3), (4, 3), "float32")
        assert_parity(getattr(jaxnn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), (x, y), wrt=(0, 1))

    def test_legacy_constructor_arguments(self):
        x, y = _data((4, 3), (4, 3), "float32")
        with pytest.warns(LegacyReductionWarning):
            crit = jaxnn.L1Loss(size_average=False)
        assert crit.reduction == "sum"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tcrit = torch.nn.L1Loss(size_average=False)
        assert_parity(crit, tcrit, (x, y), wrt=(0,))

    def test_class_is_a_pytree_usable_as_jit_argument(self):
        x, y = _data((4, 3), (4, 3), "float32")
        crit = jaxnn.MSELoss(reduction="sum")
        out = jax.jit(lambda c, a, b: c(a, b))(crit, x, y)
        chex.assert_trees_all_close(out, F.mse_loss(x, y, reduction="sum"))

    def test_class_is_immutable(self):
        with pytest.raises(AttributeError, match="immutable"):
            jaxnn.MSELoss().reduction = "sum"


class TestBadInput:
    @pytest.mark.parametrize("jfn", [f for f, _ in ALL_PAIRS])
    def test_invalid_reduction_names_value(self, jfn):
        with pytest.raises(ValueError, match="'avg'.*'none', 'mean', 'sum'"):
            jfn(jnp.ones(3), jnp.ones(3), reduction="avg")

    def test_invalid_reduction_in_class_raises_at_construction(self):
        with pytest.raises(ValueError, match="'batchmean'"):
            jaxnn.MSELoss(reduction="batchmean")

    @pytest.mark.parametrize("jfn", [f for f, _ in ALL_PAIRS])
    def test_shapes_that_do_not_broadcast_raise_at_trace_time(self, jfn):
        with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
            jax.jit(jfn).lower(jnp.ones((3, 4)), jnp.ones(5))
        with pytest.raises(RuntimeError):
            TF.l1_loss(torch.ones(3, 4), torch.ones(5))

    @pytest.mark.parametrize("jfn", [f for f, _ in WEIGHTED_PAIRS])
    def test_weight_of_wrong_shape(self, jfn):
        with pytest.raises(ValueError, match=r"weight shape \(4,\), input shape \(3, 4\)"):
            jfn(jnp.ones((3, 4)), jnp.ones((3, 4)), weight=jnp.ones(4))

    def test_integer_input_is_rejected_with_dtype(self):
        with pytest.raises(TypeError, match="input must have a floating dtype, got int32"):
            F.mse_loss(jnp.arange(3), jnp.ones(3))


# ---------------------------------------------------------------------------
# huber_loss and smooth_l1_loss

# (jaxnn fn, torch fn, name of the switch-point option); beta = 0 is smooth_l1's l1 path
SWITCHED = [
    (F.huber_loss, TF.huber_loss, "delta"),
    (F.smooth_l1_loss, TF.smooth_l1_loss, "beta"),
]
SWITCHED_IDS = ["huber", "smooth_l1"]


def _switch_data(shape, threshold, dtype, seed=0):
    """y on a 1/8 grid, so y +- threshold (a multiple of 1/8 here) is exact: some
    elements sit exactly at d = +-threshold and at d = 0, the rest spread across both sides."""
    rng = np.random.default_rng(seed)
    y = np.round(rng.standard_normal(shape) * 8) / 8
    x = y + np.round(rng.standard_normal(shape) * 2 * max(threshold, 0.5) * 8) / 8
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    flat_x[0::5] = flat_y[0::5] + threshold
    flat_x[1::5] = flat_y[1::5] - threshold
    flat_x[2::5] = flat_y[2::5]
    return x.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("fns", SWITCHED, ids=SWITCHED_IDS)
@pytest.mark.parametrize("threshold", [1.0, 0.5, 2.5])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_huber_smooth_l1_values_and_gradients(fns, threshold, reduction, float_dtype):
    jfn, tfn, option = fns
    x, y = _switch_data((3, 5), threshold, float_dtype)
    kwargs = {"reduction": reduction, option: threshold}
    assert_parity(jfn, tfn, (x, y), kwargs, wrt=(0, 1))


@pytest.mark.parametrize("fns", SWITCHED, ids=SWITCHED_IDS)
@pytest.mark.parametrize("threshold", [1.0, 0.375])
def test_gradient_at_switch_points_and_ties(fns, threshold):
    """torch takes the linear slope at |d| == threshold and 0 at d == 0 (seen by running torch)."""
    jfn, tfn, option = fns
    d = np.array([-threshold, threshold, 0.0, threshold / 2, -2 * threshold])
    y = np.array([0.25, -1.5, 3.0, 0.0, 1.0])
    x = y + d
    scale = threshold if option == "delta" else 1.0
    inside = d / threshold * scale
    expected = np.array([-scale, scale, 0.0, inside[3], -scale])
    grad = jax.grad(lambda a: jfn(a, jnp.asarray(y), reduction="sum", **{option: threshold}))(jnp.asarray(x))
    chex.assert_trees_all_equal(np.asarray(grad), expected.astype(np.float32))
    assert_parity(jfn, tfn, (x.astype(np.float32), y.astype(np.float32)), {"reduction": "sum", option: threshold}, wrt=(0, 1))


def _torch_kernels(x, y, threshold, smooth):
    """torch's huber/smooth_l1 forward and backward kernels (aten), evaluated op by op in numpy."""
    d = x - y
    z, t, half = np.abs(d), x.dtype.type(threshold), x.dtype.type(0.5)
    if smooth:
        value = np.where(z < t, half * z * z / t, z - half * t)
        slope = np.where(d < -t, -1, np.where(d > t, 1, d / t))
    else:
        value = np.where(z < t, half * z * z, t * (z - half * t))
        slope = np.where(d < -t, -t, np.where(d > t, t, d))
    return value, slope.astype(x.dtype)


@pytest.mark.parametrize("fns", SWITCHED, ids=SWITCHED_IDS)
@pytest.mark.parametrize("threshold", [1.0, 0.375, 2.5, 1e-30, 1e20])
def test_huber_smooth_l1_are_torch_kernels_bit_for_bit(fns, threshold, float_dtype):
    """Values and gradients equal torch's kernel formulas exactly, near and at the switch point.

    The gradient reads its branch from the sign of the forward's stored value, so
    this pins the two kernels to each other and to torch. One known exception:
    smooth_l1 with a beta that is not a power of two, where XLA turns the
    division by the constant beta into a multiplication (value and gradient an
    ulp off torch).
    """
    jfn, _, option = fns
    rng = np.random.default_rng(7)
    t = np.dtype(float_dtype).type(threshold)
    eps = np.finfo(float_dtype).eps
    y = rng.standard_normal(4000).astype(float_dtype) * t
    d = (rng.standard_normal(4000) * rng.choice([0.01, 0.3, 1, 3, 1e3], 4000)).astype(float_dtype) * t
    d[:600] = np.repeat(np.array([1, -1, 0.5, 0.25, 1 - eps, 1 + eps], float_dtype) * t, 100)
    d[600:606] = [np.inf, -np.inf, np.nan, 0.0, -0.0, np.finfo(float_dtype).max]
    with np.errstate(all="ignore"):
        x = y + d
        value, slope = _torch_kernels(x, y, threshold, option == "beta")
    loss = lambda a, b: jfn(a, b, reduction="none", **{option: threshold})  # noqa: E731
    exact = option == "delta" or np.frexp(t)[0] == 0.5
    same = np.testing.assert_array_equal if exact else functools.partial(np.testing.assert_allclose, rtol=2 * eps, atol=0)
    same(np.asarray(loss(x, y)), value)
    gx, gy = jax.jit(jax.grad(lambda a, b: jnp.sum(loss(a, b)), (0, 1)))(x, y)
    same(np.asarray(gx), slope)
    same(np.asarray(gy), -slope)
    finite = slice(0, 600)
    _, forward = jax.jvp(lambda a: jnp.sum(loss(a, y[finite])), (x[finite],), (np.ones(600, float_dtype),))
    np.testing.assert_allclose(forward, np.sum(slope[finite], dtype=np.float64), rtol=1e-5)


@pytest.mark.parametrize("fns", SWITCHED, ids=SWITCHED_IDS)
def test_infinite_threshold(fns):
    """delta/beta = inf: every finite d is inside; d = +-inf gives inf - inf = nan, as in torch.

    The gradient at d = +-inf is the linear side's slope (+-inf, or +-1 for
    smooth_l1, where torch's kernel divides inf / inf = nan).
    """
    jfn, _, option = fns
    x = np.array([3.0, -2.0, 0.0, 1e30, np.inf, -np.inf, np.nan], np.float32)
    y = np.zeros_like(x)
    with np.errstate(all="ignore"):
        value, slope = _torch_kernels(x, y, np.inf, option == "beta")
    np.testing.assert_array_equal(np.asarray(jfn(x, y, reduction="none", **{option: np.inf})), value)
    grad = np.asarray(jax.grad(lambda a: jfn(a, y, reduction="sum", **{option: np.inf}))(x))
    np.testing.assert_array_equal(grad[:4], slope[:4])
    np.testing.assert_array_equal(grad[4:], [1, -1, np.nan] if option == "beta" else [np.inf, -np.inf, np.nan])


def test_smooth_l1_is_huber_over_beta(x64):
    x, y = _switch_data((4, 6), 0.75, "float64", seed=3)
    for reduction in ["none", "sum"]:
        smooth = lambda a: F.smooth_l1_loss(a, y, reduction=reduction, beta=0.75)
        huber = lambda a: F.huber_loss(a, y, reduction=reduction, delta=0.75) / 0.75
        chex.assert_trees_all_close(smooth(x), huber(x), rtol=1e-14)
        weights = np.arange(x.size).reshape(x.shape) % 5 + 1.0
        weighted = lambda f: jax.grad(lambda a: jnp.sum(f(a) * (weights if reduction == "none" else 1.0)))
        chex.assert_trees_all_close(weighted(smooth)(x), weighted(huber)(x), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_smooth_l1_beta_zero_is_l1_exactly(reduction):
    x, y = _data((4, 5), (4, 5), "float32")
    smooth = jax.value_and_grad(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.0).sum(), (0, 1))
    l1 = jax.value_and_grad(lambda a, b: F.l1_loss(a, b, reduction=reduction).sum(), (0, 1))
    chex.assert_trees_all_equal(smooth(x, y), l1(x, y))
    assert_parity(F.smooth_l1_loss, TF.smooth_l1_loss, (x, y), {"reduction": reduction, "beta": 0.0}, wrt=(0, 1))


@pytest.mark.parametrize("fns", SWITCHED, ids=SWITCHED_IDS)
def test_extreme_differences(fns):
    """+-inf, 1e30 and 1e-30 apart: torch's values and its finite slope at infinity."""
    jfn, tfn, option = fns
    x = np.array([np.inf, -np.inf, 1e30, -1e30, 1e-30, 3e38, np.nan], np.float32)
    y = np.array([0.0, 0.0, 0.0, 1.0, 0.0, -3e38, 0.0], np.float32)
    assert_parity(jfn, tfn, (x, y), {"reduction": "none", option: 0.5}, wrt=(0, 1))
    grad = jax.grad(lambda a: jfn(a, y, reduction="sum", **{option: 0.5}))(x)
    assert np.isfinite(np.asarray(grad)[:6]).all()


def test_huber_weighted_mean_is_a_plain_mean():
    """torch 2.13: huber's weighted 'mean' is (w * loss).mean(), unlike l1/mse's sum / w.sum()."""
    x = np.array([0.5, 3.0], np.float32)
    y = np.zeros(2, np.float32)
    w = np.array([2.0, 4.0], np.float32)
    # losses 0.125 and 2.5 (delta 1)
    np.testing.assert_allclose(F.huber_loss(x, y, weight=w), (2 * 0.125 + 4 * 2.5) / 2, rtol=1e-6)


@pytest.mark.parametrize("fns", SWITCHED, ids=SWITCHED_IDS)
@pytest.mark.parametrize("half", ["bfloat16", "float16"])
def test_huber_smooth_l1_half_precision(fns, half):
    jfn, tfn, option = fns
    x, y = _switch_data((4, 8), 0.5, "float32", seed=4)
    xb, yb = (np.asarray(jnp.asarray(a, half)) for a in (x, y))
    for reduction in ["none", "mean"]:
        assert_parity(jfn, tfn, (xb, yb), {"reduction": reduction, option: 0.5}, wrt=(0,))


def test_huber_smooth_l1_under_vmap():
    x, y = _switch_data((3, 5), 0.5, "float32", seed=5)
    for jfn, tfn, option in SWITCHED:
        per_row = jax.vmap(jax.value_and_grad(lambda a, b: jfn(a, b, **{option: 0.5})))(x, y)
        for i in range(3):
            tx = torch.tensor(x[i], requires_grad=True)
            tout = tfn(tx, torch.tensor(y[i]), **{option: 0.5})
            (tgrad,) = torch.autograd.grad(tout, tx)
            chex.assert_trees_all_close(per_row[0][i], tout.detach().numpy(), rtol=2e-6)
            chex.assert_trees_all_close(per_row[1][i], tgrad.numpy(), rtol=2e-6, atol=1e-7)


class HuberJitTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters("none", "mean")
    def test_huber_and_smooth_l1(self, reduction):
        x, y = _switch_data((5, 6), 0.5, "float32", seed=6)
        for jfn, tfn, option in SWITCHED:
            fn = self.variant(lambda a, b, jfn=jfn, option=option: jfn(a, b, reduction=reduction, **{option: 0.5}))
            assert_parity(fn, tfn, (x, y), {}, torch_kwargs={"reduction": reduction, option: 0.5}, wrt=(0, 1))

    @chex.variants(with_jit=True, without_jit=True)
    def test_classes_with_options(self):
        x, y = _switch_data((5, 6), 0.25, "float32", seed=7)
        cases = [
            (jaxnn.HuberLoss(reduction="sum", delta=0.25), torch.nn.HuberLoss(reduction="sum", delta=0.25),
             lambda a, b: F.huber_loss(a, b, reduction="sum", delta=0.25)),
            (jaxnn.SmoothL1Loss(reduction="none", beta=0.25), torch.nn.SmoothL1Loss(reduction="none", beta=0.25),
             lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.25)),
        ]
        for crit, tcrit, fn in cases:
            assert_parity(self.variant(lambda a, b, crit=crit: crit(a, b)), tcrit, (x, y), wrt=(0, 1))
            chex.assert_trees_all_equal(crit(x, y), fn(x, y))


class TestHuberBadInput:
    @pytest.mark.parametrize("delta", [0.0, -1.0])
    def test_huber_non_positive_delta(self, delta):
        with pytest.raises(RuntimeError, match="non-positive values for delta"):
            TF.huber_loss(torch.ones(2), torch.zeros(2), delta=delta)
        with pytest.raises(ValueError, match=rf"huber_loss does not support non-positive values for delta, got delta={delta}"):
            F.huber_loss(jnp.ones(2), jnp.zeros(2), delta=delta)

    def test_smooth_l1_negative_beta(self):
        with pytest.raises(RuntimeError, match="negative values for beta"):
            TF.smooth_l1_loss(torch.ones(2), torch.zeros(2), beta=-0.5)
        with pytest.raises(ValueError, match="smooth_l1_loss does not support negative values for beta, got beta=-0.5"):
            F.smooth_l1_loss(jnp.ones(2), jnp.zeros(2), beta=-0.5)

    def test_threshold_must_be_a_number(self):
        with pytest.raises(TypeError, match="delta must be a float or int, got str"):
            F.huber_loss(jnp.ones(2), jnp.zeros(2), delta="1")
        with pytest.raises(TypeError, match="beta must be a float or int"):
            F.smooth_l1_loss(jnp.ones(2), jnp.zeros(2), beta=jnp.ones(2))
        with pytest.raises(TypeError, match="delta must be a float or int"):
            jaxnn.HuberLoss(delta="1")


def test_l1_gradient_at_nan_difference_is_zero_as_torch():
    x = np.array([np.nan, 0.0, 1.0], np.float32)
    y = np.zeros(3, np.float32)
    assert_parity(F.l1_loss, TF.l1_loss, (x, y), {"reduction": "sum"}, wrt=(0, 1))
