"""l1_loss and mse_loss (and their classes) against torch: values, gradients, options, errors."""

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


@pytest.mark.parametrize("fns", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_weight(fns, reduction, float_dtype):
    jfn, tfn = fns
    x, y = _data((3, 4), (3, 4), float_dtype, seed=1)
    w = np.random.default_rng(2).uniform(0.1, 2.0, (3, 4)).astype(float_dtype)
    assert_parity(jfn, tfn, (x, y), {"reduction": reduction, "weight": w}, wrt=(0, 1))


@pytest.mark.parametrize("fns", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shapes", [((4, 1), (4, 5)), ((3, 5), (5,)), ((1,), (2, 3))])
def test_broadcasting_warns_like_torch(fns, reduction, shapes):
    jfn, tfn = fns
    x, y = _data(*shapes, "float32", ties=False)
    with pytest.warns(UserWarning, match="target size"):
        assert_parity(jfn, tfn, (x, y), {"reduction": reduction}, wrt=(0, 1))


@pytest.mark.parametrize("fns", PAIRS, ids=PAIR_IDS)
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


@pytest.mark.parametrize("fns", PAIRS, ids=PAIR_IDS)
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
    @pytest.mark.parametrize("jfn", [F.l1_loss, F.mse_loss])
    def test_invalid_reduction_names_value(self, jfn):
        with pytest.raises(ValueError, match="'avg'.*'none', 'mean', 'sum'"):
            jfn(jnp.ones(3), jnp.ones(3), reduction="avg")

    def test_invalid_reduction_in_class_raises_at_construction(self):
        with pytest.raises(ValueError, match="'batchmean'"):
            jaxnn.MSELoss(reduction="batchmean")

    @pytest.mark.parametrize("jfn", [F.l1_loss, F.mse_loss])
    def test_shapes_that_do_not_broadcast_raise_at_trace_time(self, jfn):
        with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
            jax.jit(jfn).lower(jnp.ones((3, 4)), jnp.ones(5))
        with pytest.raises(RuntimeError):
            TF.l1_loss(torch.ones(3, 4), torch.ones(5))

    @pytest.mark.parametrize("jfn", [F.l1_loss, F.mse_loss])
    def test_weight_of_wrong_shape(self, jfn):
        with pytest.raises(ValueError, match=r"weight shape \(4,\), input shape \(3, 4\)"):
            jfn(jnp.ones((3, 4)), jnp.ones((3, 4)), weight=jnp.ones(4))

    def test_integer_input_is_rejected_with_dtype(self):
        with pytest.raises(TypeError, match="input must have a floating dtype, got int32"):
            F.mse_loss(jnp.arange(3), jnp.ones(3))
