"""margin_ranking, hinge_embedding, cosine_embedding, triplet_margin(_with_distance) and
pairwise_distance against torch: values, gradients (at the hinges too), options, errors."""

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
# each reduction once, each with a different margin: options combine independently
OPTIONS = [("none", 0.0), ("mean", 0.5), ("sum", -0.3)]


def _normal(shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _signs(shape, seed=1, values=(-1.0, 1.0), dtype="float32"):
    return np.random.default_rng(seed).choice(values, size=shape).astype(dtype)


# ---------------------------------------------------------------- margin_ranking


class TestMarginRanking:
    @pytest.mark.parametrize("reduction,margin", OPTIONS)
    def test_values_and_gradients(self, reduction, margin, float_dtype):
        x1, x2 = _normal((3, 4), float_dtype, 0), _normal((3, 4), float_dtype, 1)
        y = _signs((3, 4), dtype=float_dtype)
        assert_parity(
            F.margin_ranking_loss, TF.margin_ranking_loss, (x1, x2, y),
            {"margin": margin, "reduction": reduction}, wrt=(0, 1, 2),
        )

    @pytest.mark.parametrize("margin", [0.0, 0.5, -0.25])
    def test_gradient_passes_at_the_hinge(self, margin):
        # -y * (x1 - x2) + margin == 0 exactly: torch's clamp_min passes the gradient
        y = np.array([1.0, -1.0, 1.0, -1.0], np.float32)
        x2 = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
        x1 = (x2 + y * margin).astype(np.float32)
        assert np.all(-y * (x1 - x2) + margin == 0)
        grad = jax.grad(lambda a: F.margin_ranking_loss(a, x2, y, margin=margin, reduction="sum"))(x1)
        np.testing.assert_array_equal(np.asarray(grad), -y)
        assert_parity(F.margin_ranking_loss, TF.margin_ranking_loss, (x1, x2, y),
                      {"margin": margin, "reduction": "none"}, wrt=(0, 1, 2))

    def test_integer_target_broadcasting_and_scalars(self):
        x1, x2 = _normal((4, 3), seed=2), _normal((1, 3), seed=3)
        y = _signs((4, 3), dtype="int64")
        assert_parity(F.margin_ranking_loss, TF.margin_ranking_loss, (x1, x2, y),
                      {"margin": 0.2, "reduction": "none"}, wrt=(0, 1))
        scalars = (np.float32(0.3), np.float32(1.1), np.float32(-1.0))
        assert_parity(F.margin_ranking_loss, TF.margin_ranking_loss, tuple(map(np.asarray, scalars)),
                      {"margin": 0.5}, wrt=(0, 1, 2))

    def test_ranks_must_match(self):
        with pytest.raises(ValueError, match=r"input1 \(3,\), input2 \(3, 1\), target \(3,\)"):
            F.margin_ranking_loss(jnp.ones(3), jnp.ones((3, 1)), jnp.ones(3))
        with pytest.raises(RuntimeError, match="same dimension"):
            TF.margin_ranking_loss(torch.ones(3), torch.ones(3, 1), torch.ones(3))

    def test_shapes_that_do_not_broadcast(self):
        with pytest.raises(ValueError, match=r"input1 shape \(3,\).*input2 shape \(4,\)"):
            F.margin_ranking_loss(jnp.ones(3), jnp.ones(4), jnp.ones(3))


# ---------------------------------------------------------------- hinge_embedding


class TestHingeEmbedding:
    @pytest.mark.parametrize("reduction,margin", [("none", 1.0), ("mean", 0.5), ("sum", 2.0)])
    def test_values_and_gradients(self, reduction, margin, float_dtype):
        x = np.abs(_normal((3, 4), float_dtype)) * 1.5
        y = _signs((3, 4), dtype=float_dtype)
        assert_parity(F.hinge_embedding_loss, TF.hinge_embedding_loss, (x, y),
                      {"margin": margin, "reduction": reduction})

    def test_gradient_at_the_margin_and_targets_that_are_neither(self):
        # x == margin with target -1: torch's clamp_min passes the gradient (-1);
        # target 0 gets both terms (margin clamp and x), target 1 only x
        x = np.array([1.0, 1.0, 0.5, 2.0, 0.3, 1.0], np.float32)
        y = np.array([-1.0, 1.0, -1.0, -1.0, 0.0, 0.0], np.float32)
        grad = jax.grad(lambda a: F.hinge_embedding_loss(a, y, reduction="sum"))(x)
        np.testing.assert_array_equal(np.asarray(grad), [-1.0, 1.0, -1.0, 0.0, 0.0, 0.0])
        assert_parity(F.hinge_embedding_loss, TF.hinge_embedding_loss, (x, y), {"reduction": "none"})

    def test_target_broadcasts_and_may_be_integer(self):
        x = _normal((3, 2))
        y = np.array([1, -1])
        assert_parity(F.hinge_embedding_loss, TF.hinge_embedding_loss, (x, y), {"reduction": "none"})

    def test_shapes_that_do_not_broadcast(self):
        with pytest.raises(ValueError, match=r"input shape \(3, 2\).*target shape \(3,\)"):
            F.hinge_embedding_loss(jnp.ones((3, 2)), jnp.ones(3))


# ---------------------------------------------------------------- cosine_embedding


class TestCosineEmbedding:
    @pytest.mark.parametrize("reduction,margin", OPTIONS)
    def test_values_and_gradients(self, reduction, margin, float_dtype):
        x1, x2 = _normal((6, 5), float_dtype, 0), _normal((6, 5), float_dtype, 1)
        y = _signs((6,), dtype=float_dtype)
        assert_parity(F.cosine_embedding_loss, TF.cosine_embedding_loss, (x1, x2, y),
                      {"margin": margin, "reduction": reduction}, wrt=(0, 1))

    @pytest.mark.parametrize("target", [1.0, -1.0])
    def test_unbatched(self, target):
        x1, x2 = _normal((5,), seed=2), _normal((5,), seed=3)
        y = np.asarray(target, np.float32)
        assert_parity(F.cosine_embedding_loss, TF.cosine_embedding_loss, (x1, x2, y),
                      {"margin": -0.9, "reduction": "none"}, wrt=(0, 1))

    def test_zero_vectors_use_torchs_epsilon(self, float_dtype):
        # |x|^2 + 1e-12 under the square root: cosine 0, a finite ~1e6 gradient
        x1 = _normal((4, 3), float_dtype, 4)
        x1[0] = 0.0
        x1[3] = 0.0
        x2 = _normal((4, 3), float_dtype, 5)
        x2[1] = 0.0
        x2[3] = 0.0
        y = np.array([1.0, -1.0, 1.0, 1.0], float_dtype)
        out = F.cosine_embedding_loss(x1, x2, y, margin=-0.5, reduction="none")
        np.testing.assert_allclose(np.asarray(out)[[0, 1, 3]], [1.0, 0.5, 1.0])
        assert_parity(F.cosine_embedding_loss, TF.cosine_embedding_loss, (x1, x2, y),
                      {"margin": -0.5, "reduction": "none"}, wrt=(0, 1))

    def test_gradient_at_the_margin(self):
        # orthogonal vectors: cos == 0 == margin for target -1; clamp_min passes the gradient
        x1 = np.array([[1.0, 0.0], [0.0, 2.0]], np.float32)
        x2 = np.array([[0.0, 1.0], [3.0, 0.0]], np.float32)
        y = np.array([-1.0, -1.0], np.float32)
        grad = jax.grad(lambda a: F.cosine_embedding_loss(a, x2, y, reduction="sum"))(x1)
        assert np.all(np.abs(np.asarray(grad).sum(axis=1)) > 0.1)
        assert_parity(F.cosine_embedding_loss, TF.cosine_embedding_loss, (x1, x2, y),
                      {"reduction": "none"}, wrt=(0, 1))

    def test_other_targets_contribute_zero_and_inputs_broadcast(self):
        x1, x2 = _normal((4, 3), seed=6), _normal((1, 3), seed=7)
        y = np.array([1, -1, 0, 2])
        out = F.cosine_embedding_loss(x1, x2, y, reduction="none")
        np.testing.assert_array_equal(np.asarray(out)[2:], [0.0, 0.0])
        assert_parity(F.cosine_embedding_loss, TF.cosine_embedding_loss, (x1, x2, y),
                      {"reduction": "none"}, wrt=(0, 1))

    def test_empty_batch_mean_is_nan(self):
        out = F.cosine_embedding_loss(jnp.ones((0, 4)), jnp.ones((0, 4)), jnp.ones(0))
        assert np.isnan(out)

    @pytest.mark.parametrize("shapes,message", [
        (((3, 2), (3, 2), (3, 2)), r"0D or 1D target.*\(3, 2\)"),
        (((3, 2, 2), (3, 2, 2), (3,)), r"1D target tensor expects 2D.*\(3, 2, 2\)"),
        (((3, 4), (4,), (3,)), r"input1 shape \(3, 4\) and input2 shape \(4,\)"),
        (((4,), (4,), (1,)), r"1D target tensor expects 2D"),
        (((3, 2), (3, 3), (3,)), r"input1 shape \(3, 2\), input2 shape \(3, 3\)"),
        (((3, 2), (3, 2), (2,)), r"\(3,\).*target shape \(2,\)"),
    ])
    def test_bad_shapes(self, shapes, message):
        a, b, y = (jnp.ones(s) for s in shapes)
        with pytest.raises(ValueError, match=message):
            jax.jit(F.cosine_embedding_loss).lower(a, b, y)
        with pytest.raises(RuntimeError):
            TF.cosine_embedding_loss(*(torch.ones(s) for s in shapes))


# ---------------------------------------------------------------- pairwise_distance / triplet

ORDERS = [2.0, 1.0, 3.0, 1.5, 0.5, 0.0, -1.0, math.inf, -math.inf]


class TestPairwiseDistance:
    @pytest.mark.parametrize("p", ORDERS)
    def test_values_and_gradients(self, p):
        # float32 here; the same orders run in float64 through the triplet loss below
        x1, x2 = _normal((4, 5), seed=0), _normal((4, 5), seed=1)
        assert_parity(F.pairwise_distance, TF.pairwise_distance, (x1, x2), {"p": p}, wrt=(0, 1))

    @pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
    def test_ranks(self, shape):
        x1, x2 = _normal(shape, seed=0), _normal(shape, seed=1)
        assert_parity(F.pairwise_distance, TF.pairwise_distance, (x1, x2), {"p": 3.0}, wrt=(0, 1))

    def test_keepdim_scalar_and_broadcast(self):
        x1, x2 = _normal((4, 5), seed=2), _normal((1, 5), seed=3)
        assert_parity(F.pairwise_distance, TF.pairwise_distance, (x1, x2), {"keepdim": True, "eps": 0.1},
                      wrt=(0, 1))
        a, b = np.float32(0.3), np.float32(-1.2)
        assert_parity(F.pairwise_distance, TF.pairwise_distance, (np.asarray(a), np.asarray(b)), wrt=(0, 1))

    @pytest.mark.parametrize("p", [2.0, 3.0, 1.5, math.inf, 0.5])
    def test_gradient_is_zero_at_zero_distance(self, p):
        # eps=0 and equal vectors: torch's norm_backward returns the subgradient 0, not nan
        x = _normal((3, 4), seed=4)
        grad = jax.grad(lambda a: F.pairwise_distance(a, x, p=p, eps=0.0).sum())(x)
        if p != math.inf:
            np.testing.assert_array_equal(np.asarray(grad), np.zeros((3, 4), np.float32))
        assert_parity(F.pairwise_distance, TF.pairwise_distance, (x, x.copy()), {"p": p, "eps": 0.0}, wrt=(0, 1))


class TestTripletMargin:
    @pytest.mark.parametrize("p", ORDERS)
    def test_orders_and_swap(self, p, x64):
        a, pos, neg = (_normal((5, 4), "float64", s) for s in range(3))
        for swap in (False, True):
            assert_parity(F.triplet_margin_loss, TF.triplet_margin_loss, (a, pos, neg),
                          {"p": p, "swap": swap, "margin": 2.0, "reduction": "none"}, wrt=(0, 1, 2))

    @pytest.mark.parametrize("reduction,margin,eps", [("none", 1.0, 1e-6), ("mean", 0.5, 0.0), ("sum", 3.0, 1e-2)])
    @pytest.mark.parametrize("shape", [(6, 3), (3,), (2, 3, 4)])
    def test_reductions_margins_eps_and_shapes(self, reduction, margin, eps, shape):
        a, pos, neg = (_normal(shape, "float32", s + 3) for s in range(3))
        assert_parity(F.triplet_margin_loss, TF.triplet_margin_loss, (a, pos, neg),
                      {"margin": margin, "eps": eps, "reduction": reduction}, wrt=(0, 1, 2))

    def test_odd_p_takes_the_absolute_value(self):
        # optax's triplet loss drops the abs: for p=1 that is sum(x1 - x2), not the L1 distance
        a = np.zeros((1, 2), np.float32)
        pos = np.array([[1.0, -1.0]], np.float32)
        neg = np.array([[3.0, 3.0]], np.float32)
        out = F.triplet_margin_loss(a, pos, neg, p=1, eps=0.0, margin=5.0, reduction="none")
        np.testing.assert_allclose(np.asarray(out), [5.0 + 2.0 - 6.0])

    def test_hinge_tie_and_swap_tie(self):
        # margin + d(a,p) - d(a,n) == 0: gradient passes; anchor == positive makes the
        # swap a tie min(d(a,n), d(p,n)) whose gradient torch splits in half
        a = np.array([[0.0, 0.0], [1.0, 2.0]], np.float32)
        pos = a.copy()
        neg = np.array([[3.0, 4.0], [2.0, 2.0]], np.float32)
        for swap in (False, True):
            assert_parity(F.triplet_margin_loss, TF.triplet_margin_loss, (a, pos, neg),
                          {"margin": 5.0, "eps": 0.0, "swap": swap, "reduction": "none"}, wrt=(0, 1, 2))

    def test_margin_must_be_positive(self):
        x = jnp.ones((2, 3))
        with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
            F.triplet_margin_loss(x, x, x, margin=0)
        with pytest.raises(ValueError, match="margin must be greater than 0"):
            jaxnn.TripletMarginLoss(margin=-1.0)(x, x, x)

    def test_ranks_must_match(self):
        with pytest.raises(ValueError, match=r"anchor \(2, 4\), positive \(4,\), negative \(2, 4\)"):
            F.triplet_margin_loss(jnp.ones((2, 4)), jnp.ones(4), jnp.ones((2, 4)))

    def test_legacy_arguments(self):
        a, pos, neg = (_normal((4, 3), seed=s) for s in range(3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = TF.triplet_margin_loss(*(torch.tensor(v) for v in (a, pos, neg)), size_average=False).numpy()
        with pytest.warns(LegacyReductionWarning):
            out = F.triplet_margin_loss(a, pos, neg, size_average=False)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=2e-6)


def _l1(x, y):
    return (x - y).abs().sum(-1) if isinstance(x, torch.Tensor) else jnp.sum(jnp.abs(x - y), -1)


def _squared_l2(x, y):
    return ((x - y) ** 2).sum(-1)


def _cosine_distance(x, y):
    sqrt = torch.sqrt if isinstance(x, torch.Tensor) else jnp.sqrt
    return 1 - (x * y).sum(-1) / sqrt((x * x).sum(-1) * (y * y).sum(-1))


DISTANCES = {"l1": _l1, "squared_l2": _squared_l2, "cosine": _cosine_distance}


class TestTripletMarginWithDistance:
    @pytest.mark.parametrize("name", [None, *DISTANCES])
    @pytest.mark.parametrize("swap,reduction", [(False, "none"), (True, "none"), (True, "mean"), (False, "sum")])
    def test_distance_functions(self, name, swap, reduction, x64):
        a, pos, neg = (_normal((5, 4), "float64", s + 6) for s in range(3))
        kwargs = {"distance_function": DISTANCES.get(name), "margin": 1.5, "swap": swap, "reduction": reduction}
        assert_parity(F.triplet_margin_with_distance_loss, TF.triplet_margin_with_distance_loss,
                      (a, pos, neg), kwargs, wrt=(0, 1, 2))

    def test_default_is_torchs_pairwise_distance_on_any_rank(self):
        for shape in [(4,), (2, 3, 4)]:
            a, pos, neg = (_normal(shape, seed=s) for s in range(3))
            assert_parity(F.triplet_margin_with_distance_loss, TF.triplet_margin_with_distance_loss,
                          (a, pos, neg), {"reduction": "none"}, wrt=(0, 1, 2))

    def test_options_are_keyword_only(self):
        x = jnp.ones((2, 3))
        with pytest.raises(TypeError):
            F.triplet_margin_with_distance_loss(x, x, x, _l1)

    def test_bad_margin_reduction_and_ranks(self):
        x = jnp.ones((2, 3))
        with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
            F.triplet_margin_with_distance_loss(x, x, x, margin=0.0)
        with pytest.raises(ValueError, match="expected margin to be greater than 0"):
            jaxnn.TripletMarginWithDistanceLoss(margin=0.0)
        with pytest.raises(ValueError, match="'avg'"):
            F.triplet_margin_with_distance_loss(x, x, x, reduction="avg")
        with pytest.raises(ValueError, match=r"anchor \(2, 3\), positive \(3,\)"):
            F.triplet_margin_with_distance_loss(x, jnp.ones(3), x)


# ---------------------------------------------------------------- jit, classes

CASES = {
    "margin_ranking_loss": (
        lambda: (_normal((5,)), _normal((5,), seed=1), _signs((5,))), {"margin": 0.3, "reduction": "mean"}),
    "hinge_embedding_loss": (
        lambda: (np.abs(_normal((5, 2))), _signs((5, 2))), {"margin": 0.8, "reduction": "none"}),
    "cosine_embedding_loss": (
        lambda: (_normal((5, 3)), _normal((5, 3), seed=1), _signs((5,))), {"margin": 0.1, "reduction": "sum"}),
    "triplet_margin_loss": (
        lambda: tuple(_normal((5, 3), seed=s) for s in range(3)), {"p": 3.0, "swap": True, "reduction": "none"}),
    "triplet_margin_with_distance_loss": (
        lambda: tuple(_normal((5, 3), seed=s) for s in range(3)),
        {"distance_function": _cosine_distance, "swap": True, "reduction": "mean"},
    ),
}


class JitTest(parameterized.TestCase):
    """The same parity assertions with and without jax.jit, options static."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(*CASES)
    def test_functions(self, name):
        make_args, kwargs = CASES[name]
        fn = self.variant(lambda *a: getattr(F, name)(*a, **kwargs))
        assert_parity(fn, getattr(TF, name), make_args(), {}, torch_kwargs=kwargs, wrt=(0, 1))


CLASSES = {
    "MarginRankingLoss": ("margin_ranking_loss", {"margin": 0.3, "reduction": "sum"}),
    "HingeEmbeddingLoss": ("hinge_embedding_loss", {"margin": 0.8, "reduction": "none"}),
    "CosineEmbeddingLoss": ("cosine_embedding_loss", {"margin": 0.1}),
    "TripletMarginLoss": ("triplet_margin_loss", {"p": 1.0, "eps": 1e-3, "swap": True}),
    "TripletMarginWithDistanceLoss": ("triplet_margin_with_distance_loss",
                                      {"distance_function": _squared_l2, "margin": 2.0}),
}


class TestClasses:
    @pytest.mark.parametrize("name", CLASSES)
    def test_class_matches_torch_class_under_jit(self, name):
        function, kwargs = CLASSES[name]
        args = CASES[function][0]()
        crit = getattr(jaxnn, name)(**kwargs)
        out = jax.jit(lambda c, *a: c(*a))(crit, *args)
        expected = getattr(torch.nn, name)(**kwargs)(*(torch.tensor(a) for a in args))
        np.testing.assert_allclose(np.asarray(out), expected.numpy(), rtol=2e-5, atol=2e-6)
        assert_parity(crit, getattr(torch.nn, name)(**kwargs), args, wrt=(0,))

    def test_legacy_constructor_arguments(self):
        with pytest.warns(LegacyReductionWarning):
            crit = jaxnn.HingeEmbeddingLoss(reduce=False)
        assert crit.reduction == "none"


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision(dtype):
    for name, (make_args, kwargs) in CASES.items():
        args = tuple(np.asarray(jnp.asarray(a, dtype)) for a in make_args())
        assert_parity(getattr(F, name), getattr(TF, name), args, kwargs, wrt=(0, 1))
