"""Classification losses (and their classes) against torch 2.13: values, gradients, options, edges, errors."""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from absl.testing import parameterized
from jax.experimental import checkify

import jaxnn
import jaxnn.checks
import jaxnn.functional as F
from jaxnn.functional._reduction import LegacyReductionWarning
from tests.parity import assert_parity, tolerance

REDUCTIONS = ["none", "mean", "sum"]
C = 5


def _cast(x, dtype):
    """A writable numpy array in ``dtype``; bfloat16 through JAX's ml_dtypes type."""
    return np.array(jnp.asarray(x, dtype))


def _logits(shape, dtype, seed=0, scale=1.0):
    return _cast(np.random.default_rng(seed).standard_normal(shape) * scale, dtype)


def _indices(shape, seed=0, ignore_index=None, every=3):
    """Class indices in [0, C); every ``every``-th one set to ``ignore_index`` when given."""
    t = np.random.default_rng(seed + 100).integers(0, C, shape)
    if ignore_index is not None and t.size:
        t.reshape(-1)[::every] = ignore_index
    return t


def _probabilities(shape, dtype, seed=0):
    """Class probabilities along dim 1 (dim 0 when unbatched) of ``shape``."""
    p = np.random.default_rng(seed + 200).dirichlet(np.ones(shape[0 if len(shape) == 1 else 1]), shape[:1] + shape[2:] if len(shape) > 1 else ())
    return _cast(np.moveaxis(p, -1, 0 if len(shape) == 1 else 1), dtype)


def _weight(dtype, n=C, seed=0):
    return _cast(np.random.default_rng(seed + 300).uniform(0.2, 2.0, n), dtype)


# (input shape, target shape): 2-D, 3-D and 4-D take different torch kernels.
INDEX_SHAPES = [((6, C), (6,)), ((3, C, 4), (3, 4)), ((2, C, 3, 2), (2, 3, 2)), ((C,), ())]
INDEX_SHAPE_IDS = ["2d", "3d", "4d", "unbatched"]

# Integer-target options; the ignore_index entries make some targets ignored.
INDEX_OPTIONS = [
    {},
    {"ignore_index": -100, "weight": True},
    {"ignore_index": 2},
    {"ignore_index": 2, "weight": True},
    {"label_smoothing": 0.2},
    {"label_smoothing": 0.3, "weight": True},
    {"label_smoothing": 0.1, "weight": True, "ignore_index": 0},
    {"label_smoothing": 1.0},
]


def _index_case(options, shapes, dtype, seed=0):
    (xs, ts) = shapes
    kwargs = dict(options)
    if kwargs.pop("weight", False):
        kwargs["weight"] = _weight(dtype, seed=seed)
    ignore = kwargs.get("ignore_index")
    t = _indices(ts, seed, ignore_index=ignore if ts else None)
    if not ts and ignore is not None:
        t = np.asarray(ignore if seed % 2 else 1)
    return (_logits(xs, dtype, seed), t), kwargs


class TestCrossEntropyAndNLL:
    @pytest.mark.parametrize("reduction", ["none", "mean"])
    @pytest.mark.parametrize("shapes", INDEX_SHAPES, ids=INDEX_SHAPE_IDS)
    @pytest.mark.parametrize("options", INDEX_OPTIONS, ids=str)
    def test_cross_entropy_index_targets(self, options, shapes, reduction):
        args, kwargs = _index_case(options, shapes, "float32")
        assert_parity(F.cross_entropy, TF.cross_entropy, args, {**kwargs, "reduction": reduction})

    @pytest.mark.parametrize("shapes", [INDEX_SHAPES[0], INDEX_SHAPES[2], INDEX_SHAPES[3]], ids=["2d", "4d", "unbatched"])
    @pytest.mark.parametrize("options", [o for o in INDEX_OPTIONS if "label_smoothing" not in o], ids=str)
    def test_nll_loss(self, options, shapes):
        args, kwargs = _index_case(options, shapes, "float32", seed=1)
        for reduction in REDUCTIONS:
            assert_parity(F.nll_loss, TF.nll_loss, args, {**kwargs, "reduction": reduction})

    @pytest.mark.parametrize("options", [INDEX_OPTIONS[1], INDEX_OPTIONS[3], INDEX_OPTIONS[6]], ids=str)
    def test_sum_reduction_and_float64(self, options, x64):
        for dtype, shapes in [("float32", INDEX_SHAPES[1]), ("float64", INDEX_SHAPES[0])]:
            args, kwargs = _index_case(options, shapes, dtype, seed=5)
            for reduction in ["sum", "mean"] if dtype == "float64" else ["sum"]:
                assert_parity(F.cross_entropy, TF.cross_entropy, args, {**kwargs, "reduction": reduction})
                if "label_smoothing" not in kwargs:
                    assert_parity(F.nll_loss, TF.nll_loss, args, {**kwargs, "reduction": reduction})

    @pytest.mark.parametrize("shape", [(6, C), (3, C, 4), (2, C, 3, 2), (C,)], ids=["2d", "3d", "4d", "unbatched"])
    @pytest.mark.parametrize("options", [{}, {"weight": True}, {"label_smoothing": 0.25}, {"label_smoothing": 0.25, "weight": True}], ids=str)
    def test_probability_targets(self, options, shape):
        kwargs = dict(options)
        if kwargs.pop("weight", False):
            kwargs["weight"] = _weight("float32")
        args = (_logits(shape, "float32"), _probabilities(shape, "float32"))
        for reduction in REDUCTIONS:
            assert_parity(F.cross_entropy, TF.cross_entropy, args, {**kwargs, "reduction": reduction}, wrt=(0, 1))

    def test_probability_targets_float64(self, x64):
        args = (_logits((3, C, 4), "float64"), _probabilities((3, C, 4), "float64"))
        for reduction in REDUCTIONS:
            assert_parity(
                F.cross_entropy, TF.cross_entropy, args,
                {"reduction": reduction, "weight": _weight("float64"), "label_smoothing": 0.1}, wrt=(0, 1)
            )

    @pytest.mark.parametrize(
        "input_dtype,target_dtype,weight_dtype",
        [("float32", "float64", "float32"), ("float32", "float32", "float64"), ("float16", "float32", "float16")],
    )
    def test_probability_targets_promote_with_target_and_weight(self, input_dtype, target_dtype, weight_dtype, x64):
        # torch multiplies its log-softmax (in the input's dtype) by the target and weight:
        # the result has their promoted dtype. The numbers carry the input's precision.
        args = (_logits((4, C), input_dtype), _probabilities((4, C), target_dtype))
        kwargs = {"reduction": "none", "weight": _weight(weight_dtype), "label_smoothing": 0.1}
        assert_parity(F.cross_entropy, TF.cross_entropy, args, kwargs, wrt=(0, 1), tol=tolerance(input_dtype))

    @pytest.mark.parametrize(
        "jfn,tfn,options",
        [
            (F.cross_entropy, TF.cross_entropy, {"weight": True}),
            (F.cross_entropy, TF.cross_entropy, {"label_smoothing": 0.2, "weight": True}),
            (F.nll_loss, TF.nll_loss, {"weight": True}),
        ],
        ids=["ce", "ce_smoothing", "nll"],
    )
    def test_every_target_ignored(self, jfn, tfn, options):
        # torch: 'mean' is nan (0 / 0), 'sum' is 0, the gradient is zero
        (x, _), kwargs = _index_case(options, INDEX_SHAPES[0], "float32")
        t = np.full(6, 3)
        for reduction in REDUCTIONS:
            assert_parity(jfn, tfn, (x, t), {**kwargs, "ignore_index": 3, "reduction": reduction})
        assert np.isnan(jfn(x, t, ignore_index=3, **kwargs))
        chex.assert_trees_all_equal(jax.grad(jfn)(jnp.asarray(x), t, ignore_index=3, **kwargs), jnp.zeros((6, C)))

    def test_smoothing_with_zero_total_weight_is_nan_as_torch(self):
        # issue #23's falsifying example: zero logits, targets all class 0 of weight 0.
        # torch reduces the nll and smoothing terms separately, so 0/0 = nan (not inf).
        x, t, w = np.zeros((3, 4), np.float32), np.zeros(3, np.int64), np.array([0, 1, 0, 0], np.float32)
        kwargs = {"weight": w, "label_smoothing": 0.1, "reduction": "mean"}
        expected = TF.cross_entropy(torch.tensor(x), torch.tensor(t), weight=torch.tensor(w), label_smoothing=0.1)
        assert np.isnan(expected.item())
        assert np.isnan(F.cross_entropy(x, t, **kwargs))

    def test_mean_divides_by_summed_weight_of_kept_targets(self):
        # hand-worked: two kept targets of classes 0 and 2, one ignored
        x = np.log(np.array([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], np.float64))
        w = np.array([1.0, 3.0, 2.0])
        out = F.nll_loss(x, np.array([0, 1, 2]), weight=w, ignore_index=1)
        expected = -(1.0 * np.log(0.5) + 2.0 * np.log(0.8)) / 3.0
        np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)

    @pytest.mark.parametrize("reduction", REDUCTIONS)
    def test_logits_of_1e4(self, reduction):
        x = _logits((6, C), "float32", seed=3, scale=1e4)
        x[0] = [1e4, -1e4, 1e4, -1e4, 0.0]
        t = np.array([1, 0, 4, 2, 3, 1])
        for kwargs in ({}, {"label_smoothing": 0.1, "weight": _weight("float32")}):
            assert_parity(F.cross_entropy, TF.cross_entropy, (x, t), {**kwargs, "reduction": reduction})
        probs = _probabilities((6, C), "float32")
        assert_parity(F.cross_entropy, TF.cross_entropy, (x, probs), {"reduction": reduction}, wrt=(0, 1))

    @pytest.mark.parametrize("reduction", REDUCTIONS)
    def test_empty_batch(self, reduction):
        x, t = np.zeros((0, C), np.float32), np.zeros((0,), np.int64)
        for jfn, tfn, args, kw in [
            (F.cross_entropy, TF.cross_entropy, (x, t), {}),
            (F.cross_entropy, TF.cross_entropy, (x, t), {"label_smoothing": 0.1, "weight": _weight("float32")}),
            (F.cross_entropy, TF.cross_entropy, (x, x.copy()), {}),
            (F.nll_loss, TF.nll_loss, (x, t), {"weight": _weight("float32")}),
        ]:
            assert_parity(jfn, tfn, args, {**kw, "reduction": reduction})

    @pytest.mark.parametrize(
        "kwargs", [{}, {"label_smoothing": 0.2, "weight": True}, {"ignore_index": 1}], ids=str
    )
    def test_bfloat16(self, kwargs):
        args, kw = _index_case(kwargs, ((6, C), (6,)), jnp.bfloat16, seed=4)
        for reduction in REDUCTIONS:
            assert_parity(F.cross_entropy, TF.cross_entropy, args, {**kw, "reduction": reduction})
            if "label_smoothing" not in kw:
                assert_parity(F.nll_loss, TF.nll_loss, args, {**kw, "reduction": reduction})
        probs = _probabilities((6, C), jnp.bfloat16)
        assert_parity(F.cross_entropy, TF.cross_entropy, (args[0], probs), {}, wrt=(0, 1))

    def test_float16(self):
        args, kw = _index_case({"label_smoothing": 0.2, "weight": True, "ignore_index": 1}, INDEX_SHAPES[0], "float16", seed=4)
        for reduction in REDUCTIONS:
            assert_parity(F.cross_entropy, TF.cross_entropy, args, {**kw, "reduction": reduction})

    def test_one_element_target_for_unbatched_input(self):
        # torch's forward takes a (1,) target for a (C,) input (its backward then fails)
        x, t = _logits((C,), "float32"), np.array([2])
        for reduction in REDUCTIONS:
            expected = TF.cross_entropy(torch.tensor(x), torch.tensor(t), reduction=reduction)
            out = F.cross_entropy(x, t, reduction=reduction)
            chex.assert_shape(out, tuple(expected.shape))
            np.testing.assert_allclose(np.asarray(out), expected.numpy(), rtol=2e-6)

    def test_vmap_matches_per_sample_calls(self):
        x, t = _logits((3, 4, C), "float32"), _indices((3, 4))
        out = jax.vmap(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1))(x, t)
        expected = [F.cross_entropy(x[i], t[i], label_smoothing=0.1) for i in range(3)]
        chex.assert_trees_all_close(out, jnp.stack(expected), rtol=1e-6)


    @pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
    def test_gradient_under_jit_vmap_and_forward_mode(self, fn):
        # the target-class gradient is a one-hot select, not the gather's scatter:
        # it must stay torch's per sample under jit(vmap(grad)), with weights and
        # ignored targets, and forward mode (jvp) must agree with reverse mode
        x, t = _logits((3, 4, C), "float32", seed=5), _indices((3, 4), seed=5, ignore_index=2)
        w = _weight("float32")
        kw = {"weight": w, "ignore_index": 2}
        grads = jax.jit(jax.vmap(jax.grad(lambda a, b: getattr(F, fn)(a, b, **kw))))(x, t)
        for i in range(3):
            xi = torch.tensor(x[i], requires_grad=True)
            getattr(TF, fn)(xi, torch.tensor(t[i]), weight=torch.tensor(w), ignore_index=2).backward()
            np.testing.assert_allclose(np.asarray(grads[i]), xi.grad.numpy(), rtol=2e-6, atol=1e-7)
        direction = _logits((4, C), "float32", seed=6)
        f = lambda a: getattr(F, fn)(a, t[0], **kw)  # noqa: E731
        _, forward = jax.jvp(f, (x[0],), (direction,))
        np.testing.assert_allclose(forward, jnp.vdot(jax.grad(f)(x[0]), direction), rtol=1e-6)

class TestBinaryCrossEntropy:
    @pytest.mark.parametrize("weight_shape", [None, (6, C), (C,), (6, 1)], ids=str)
    def test_values_and_gradients(self, weight_shape, float_dtype):
        rng = np.random.default_rng(0)
        x = _cast(rng.uniform(0.01, 0.99, (6, C)), float_dtype)
        y = _cast(rng.uniform(0, 1, (6, C)), float_dtype)
        kwargs = {}
        if weight_shape:
            kwargs["weight"] = _cast(rng.uniform(0.1, 2, weight_shape), float_dtype)
        for reduction in REDUCTIONS:
            assert_parity(F.binary_cross_entropy, TF.binary_cross_entropy, (x, y), {**kwargs, "reduction": reduction}, wrt=(0, 1))

    @pytest.mark.parametrize("dtype", ["float32", "float64", jnp.bfloat16])
    def test_probabilities_of_exactly_0_and_1(self, dtype, x64):
        # log terms clamp at -100; torch's gradient is (x - y) / max(x (1 - x), 1e-12)
        x = _cast([0.0, 0.0, 1.0, 1.0, 0.5, 1e-30, 0.2], dtype)
        y = _cast([0.0, 1.0, 0.0, 1.0, 0.5, 0.3, 0.7], dtype)
        for reduction in REDUCTIONS:
            assert_parity(F.binary_cross_entropy, TF.binary_cross_entropy, (x, y), {"reduction": reduction})
        out = F.binary_cross_entropy(x, y, reduction="none")
        np.testing.assert_allclose(np.asarray(out[:4], np.float64), [0, 100, 100, 0], atol=1e-6)

    def test_target_gradient_is_torch_logit_including_infinities(self):
        x = np.array([0.0, 0.0, 1.0, 0.5, 1e-30, 0.2], np.float32)
        y = np.array([0.0, 1.0, 0.0, 0.5, 0.3, 0.7], np.float32)
        assert_parity(F.binary_cross_entropy, TF.binary_cross_entropy, (x, y), {"reduction": "sum"}, wrt=(0, 1))

    @pytest.mark.parametrize(
        "options",
        [{}, {"weight": (C,)}, {"pos_weight": (C,)}, {"pos_weight": ()}, {"weight": (6, C), "pos_weight": (C,)}, {"pos_weight": (6, C)}],
        ids=str,
    )
    def test_with_logits(self, options, float_dtype):
        rng = np.random.default_rng(1)
        x = _cast(rng.standard_normal((6, C)) * 3, float_dtype)
        y = _cast(rng.uniform(0, 1, (6, C)), float_dtype)
        kwargs = {k: _cast(rng.uniform(0.1, 3, s), float_dtype) for k, s in options.items()}
        for reduction in REDUCTIONS:
            assert_parity(
                F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (x, y),
                {**kwargs, "reduction": reduction}, wrt=(0, 1)
            )

    def test_with_logits_pos_weight_along_class_dim_of_images(self):
        # torch's documented (C, 1, 1) pos_weight for (N, C, H, W)
        rng = np.random.default_rng(2)
        x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
        y = (rng.uniform(size=(2, 3, 4, 4)) > 0.5).astype(np.float32)
        pw = np.array([1.0, 2.0, 5.0], np.float32).reshape(3, 1, 1)
        assert_parity(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (x, y), {"pos_weight": pw}, wrt=(0, 1))

    @pytest.mark.parametrize("dtype", ["float32", jnp.bfloat16])
    def test_with_logits_of_1e4(self, dtype):
        x = _cast([1e4, -1e4, 1e4, -1e4, 0.0, 30.0], dtype)
        y = _cast([1.0, 1.0, 0.0, 0.0, 0.5, 0.2], dtype)
        pw = _cast([3.0, 3.0, 0.5, 2.0, 1.0, 4.0], dtype)
        for reduction in REDUCTIONS:
            assert_parity(
                F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (x, y),
                {"reduction": reduction, "pos_weight": pw}, wrt=(0, 1)
            )
        assert np.all(np.isfinite(np.asarray(jax.grad(F.binary_cross_entropy_with_logits)(jnp.asarray(x), y), np.float32)))

    @pytest.mark.parametrize("fn", ["binary_cross_entropy_with_logits", "multilabel_soft_margin_loss"])
    def test_logistic_kernel_gradients_under_jit_vmap_and_forward_mode(self, fn):
        # the fused kernel with its own derivative rule (no pos_weight): torch's
        # values and input/target gradients at +-1e4, 0 and nan, per sample under
        # jit(vmap(grad)); forward mode agrees with reverse mode
        x = np.array([[1e4, -1e4, 0.0, 3.0, np.nan, -30.0], [2.0, -0.5, 1e4, 0.0, -7.0, 0.25]], np.float32)
        y = np.array([[1.0, 0.0, 1.0, 0.3, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0, 1.0, 0.5]], np.float32)
        for reduction in REDUCTIONS:
            assert_parity(getattr(F, fn), getattr(TF, fn), (x, y), {"reduction": reduction}, wrt=(0, 1))
        grads = jax.jit(jax.vmap(jax.grad(getattr(F, fn), argnums=(0, 1))))(x, y)
        for i in range(2):
            xi, yi = torch.tensor(x[i], requires_grad=True), torch.tensor(y[i], requires_grad=True)
            getattr(TF, fn)(xi, yi).backward()
            np.testing.assert_allclose(np.asarray(grads[0][i]), xi.grad.numpy(), rtol=2e-6, atol=1e-8)
            np.testing.assert_allclose(np.asarray(grads[1][i]), yi.grad.numpy(), rtol=2e-6, atol=1e-8)
        f = lambda a, b: getattr(F, fn)(a, b, reduction="sum")  # noqa: E731
        finite = (x[1:], y[1:])
        direction = (np.linspace(-1, 1, 6, dtype=np.float32)[None], np.linspace(2, 0, 6, dtype=np.float32)[None])
        _, forward = jax.jvp(f, finite, direction)
        reverse = jax.grad(f, argnums=(0, 1))(*finite)
        np.testing.assert_allclose(forward, sum(jnp.vdot(g, d) for g, d in zip(reverse, direction)), rtol=1e-6)

    def test_bfloat16(self):
        rng = np.random.default_rng(3)
        x = _cast(rng.uniform(0.05, 0.95, (6, C)), jnp.bfloat16)
        y = _cast(rng.uniform(0, 1, (6, C)), jnp.bfloat16)
        w = _cast(rng.uniform(0.5, 2, (C,)), jnp.bfloat16)
        for reduction in REDUCTIONS:
            assert_parity(F.binary_cross_entropy, TF.binary_cross_entropy, (x, y), {"reduction": reduction, "weight": w})
            assert_parity(
                F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (x, y),
                {"reduction": reduction, "weight": w, "pos_weight": w}
            )


class TestMarginLosses:
    @pytest.mark.parametrize("target_shape", [(6, C), (C,)], ids=str)
    def test_soft_margin(self, target_shape):
        rng = np.random.default_rng(0)
        x = _cast(rng.standard_normal((6, C)) * 3, "float32")
        y = _cast(np.where(rng.uniform(size=target_shape) > 0.5, 1.0, -1.0), "float32")
        for reduction in REDUCTIONS:
            assert_parity(F.soft_margin_loss, TF.soft_margin_loss, (x, y), {"reduction": reduction})

    def test_soft_margin_is_finite_where_torch_overflows(self):
        # torch: log1p(exp(100)) = inf in float32 and a nan gradient; the softplus is exact
        x = jnp.array([100.0, -1e4, 0.0])
        y = jnp.array([-1.0, 1.0, 1.0])
        out = F.soft_margin_loss(x, y, reduction="none")
        np.testing.assert_allclose(np.asarray(out), [100.0, 1e4, np.log(2.0)], rtol=1e-6)
        np.testing.assert_allclose(np.asarray(jax.grad(lambda a: F.soft_margin_loss(a, y, reduction="sum"))(x)), [1.0, -1.0, -0.5])

    @pytest.mark.parametrize("shape", [(6, C), (C,), (2, 3, C)], ids=str)
    def test_multilabel_soft_margin(self, shape):
        rng = np.random.default_rng(1)
        x = _cast(rng.standard_normal(shape) * 3, "float32")
        x.reshape(-1)[:2] = [1e4, -1e4]
        y = _cast(rng.uniform(size=shape) > 0.5, "float32")
        w = _cast(rng.uniform(0.1, 2, shape[-1]), "float32")
        for kwargs in ({}, {"weight": w}):
            for reduction in REDUCTIONS:
                assert_parity(
                    F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, (x, y),
                    {**kwargs, "reduction": reduction}, wrt=(0, 1)
                )

    @pytest.mark.parametrize("p", [1, 2])
    @pytest.mark.parametrize("options", [{}, {"margin": 0.3}, {"weight": True, "margin": 2.0}], ids=str)
    @pytest.mark.parametrize("shapes", [((6, C), (6,)), ((C,), ()), ((C,), (1,))], ids=str)
    def test_multi_margin(self, shapes, options, p):
        kwargs = dict(options, p=p)
        if kwargs.pop("weight", False):
            kwargs["weight"] = _weight("float32")
        x = _logits(shapes[0], "float32", seed=2)
        t = _indices(shapes[1], seed=2)
        for reduction in REDUCTIONS:
            assert_parity(F.multi_margin_loss, TF.multi_margin_loss, (x, t), {**kwargs, "reduction": reduction})

    def test_multi_margin_float64(self, x64):
        x, t = _logits((6, C), "float64", seed=2), _indices((6,), seed=2)
        for reduction in REDUCTIONS:
            assert_parity(F.multi_margin_loss, TF.multi_margin_loss, (x, t), {"p": 2, "weight": _weight("float64"), "reduction": reduction})

    @pytest.mark.parametrize("p", [1, 2])
    def test_multi_margin_gradient_at_the_hinge(self, p):
        # margin - x[y] + x[1] == 0 exactly: torch's hinge has gradient 0 there
        x = np.array([[1.0, 0.0, 0.5, 2.0], [0.25, 0.25, -0.75, 0.0]], np.float32)
        t = np.array([0, 1])
        assert_parity(F.multi_margin_loss, TF.multi_margin_loss, (x, t), {"p": p, "reduction": "none"})
        grad = jax.grad(lambda a: F.multi_margin_loss(a, t, p=p))(jnp.asarray(x))
        assert float(grad[0, 1]) == 0.0

    def test_float64(self, x64):
        rng = np.random.default_rng(8)
        x = _cast(rng.standard_normal((6, C)) * 3, "float64")
        signs = _cast(np.where(rng.uniform(size=(6, C)) > 0.5, 1.0, -1.0), "float64")
        w = _weight("float64")
        for reduction in REDUCTIONS:
            assert_parity(F.soft_margin_loss, TF.soft_margin_loss, (x, signs), {"reduction": reduction})
            assert_parity(
                F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, (x, (signs + 1) / 2),
                {"reduction": reduction, "weight": w}, wrt=(0, 1)
            )

    @pytest.mark.parametrize("reduction", REDUCTIONS)
    def test_multilabel_margin(self, reduction, float_dtype):
        x = _logits((6, 4), float_dtype, seed=3)
        t = np.array([
            [0, 3, -1, 1],    # entries after the first -1 are not targets
            [1, 1, -1, 0],    # a repeated class counts twice
            [-1, 0, 0, 0],    # no targets
            [3, 2, 1, 0],     # every class a target: no non-targets
            [2, -1, -1, -1],
            [0, 2, 3, -1],
        ])
        assert_parity(F.multilabel_margin_loss, TF.multilabel_margin_loss, (x, t), {"reduction": reduction})

    def test_multilabel_margin_gradient_under_vmap_and_jit(self):
        """The loop runs as many slots as the longest list in the batch; vmap batches that trip count."""
        rng = np.random.default_rng(7)
        x = rng.standard_normal((3, 4, 6)).astype(np.float32)
        t = np.where(rng.random((3, 4, 6)) < 0.6, rng.integers(0, 6, (3, 4, 6)), -1)
        t[0] = -1  # a problem with no targets at all: zero trips
        grads = jax.jit(jax.vmap(jax.grad(F.multilabel_margin_loss)))(jnp.asarray(x), jnp.asarray(t))
        for i in range(3):
            tx = torch.tensor(x[i], requires_grad=True)
            TF.multilabel_margin_loss(tx, torch.tensor(t[i])).backward()
            np.testing.assert_allclose(np.asarray(grads[i]), tx.grad.numpy(), rtol=1e-6, atol=1e-7)

    def test_multilabel_margin_unbatched_and_hinge_gradient(self):
        x = np.array([1.0, 0.0, 0.5, 2.0], np.float32)
        t = np.array([0, -1, 2, 1])
        for reduction in REDUCTIONS:
            assert_parity(F.multilabel_margin_loss, TF.multilabel_margin_loss, (x, t), {"reduction": reduction})
        # 1 - x[0] + x[1] == 0: zero gradient at the hinge, as torch
        assert float(jax.grad(F.multilabel_margin_loss)(jnp.asarray(x), t)[1]) == 0.0

    def test_margin_losses_bfloat16(self):
        # torch's CPU margin kernels have no bfloat16: compare with float32 on the same bf16 numbers
        def in_float32(tfn):
            def run(a, b, **kw):
                kw = {k: (v.float() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
                return tfn(a.float(), b, **kw).to(torch.bfloat16)
            return run

        x = _logits((6, C), jnp.bfloat16, seed=5)
        for reduction in REDUCTIONS:
            assert_parity(
                F.multi_margin_loss, in_float32(TF.multi_margin_loss), (x, _indices((6,))),
                {"p": 2, "weight": _weight(jnp.bfloat16), "reduction": reduction}
            )
            assert_parity(
                F.multilabel_margin_loss, in_float32(TF.multilabel_margin_loss), (x, np.tile([3, 0, -1, 1, 1], (6, 1))),
                {"reduction": reduction}
            )
            assert_parity(F.soft_margin_loss, TF.soft_margin_loss, (x, _cast(np.sign(np.asarray(x, np.float32)), jnp.bfloat16)), {"reduction": reduction})
            assert_parity(F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, (x, _cast(np.asarray(x, np.float32) > 0, jnp.bfloat16)), {"reduction": reduction})

    def test_empty_batch(self):
        x = np.zeros((0, C), np.float32)
        assert_parity(F.multi_margin_loss, TF.multi_margin_loss, (x, np.zeros(0, np.int64)), {"reduction": "none"})
        assert_parity(F.multilabel_margin_loss, TF.multilabel_margin_loss, (x, np.zeros((0, C), np.int64)), {"reduction": "none"})
        for reduction in REDUCTIONS:
            for jfn, tfn in [(F.soft_margin_loss, TF.soft_margin_loss), (F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss),
                             (F.binary_cross_entropy, TF.binary_cross_entropy), (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits)]:
                assert_parity(jfn, tfn, (x, x.copy()), {"reduction": reduction})
        # torch returns uninitialised memory for these two; the mean of nothing is nan, the sum 0
        for jfn, t in [(F.multi_margin_loss, np.zeros(0, np.int64)), (F.multilabel_margin_loss, np.zeros((0, C), np.int64))]:
            assert np.isnan(jfn(x, t))
            assert float(jfn(x, t, reduction="sum")) == 0.0


class TestOutOfRangeIndices:
    """Concrete out-of-range indices raise by default, as in torch; jitted (or with eager checks off) they give nan, no wrap-around."""

    CASES = [
        (F.cross_entropy, (np.zeros((3, C), np.float32), np.array([0, C, 1])), {}),
        (F.cross_entropy, (np.zeros((3, C), np.float32), np.array([0, -1, 1])), {"label_smoothing": 0.1}),
        (F.nll_loss, (np.zeros((3, C), np.float32), np.array([0, -2, 1])), {"weight": np.ones(C, np.float32)}),
        (F.multi_margin_loss, (np.zeros((3, C), np.float32), np.array([0, C + 3, 1])), {}),
        (F.multilabel_margin_loss, (np.zeros((1, C), np.float32), np.array([[0, C, -1, 0, 0]])), {}),
    ]
    IDS = ["ce", "ce_negative_smoothing", "nll_negative", "multi_margin", "multilabel_margin"]

    @pytest.mark.parametrize("jfn,args,kwargs", CASES, ids=IDS)
    def test_off_gives_nan_eagerly_and_jitted(self, jfn, args, kwargs):
        assert not jaxnn.checks.enabled()
        assert np.isnan(jax.jit(lambda x, t: jfn(x, t, **kwargs))(*args))
        with jaxnn.checks.eager(False):
            for reduction in ["mean", "sum"]:
                assert np.isnan(jfn(*args, reduction=reduction, **kwargs))
            per_element = np.asarray(jfn(*args, reduction="none", **kwargs))
        assert jaxnn.checks.eager_enabled()
        assert np.isnan(per_element[1 if per_element.size > 1 else 0])

    @pytest.mark.parametrize("jfn,args,kwargs", CASES, ids=IDS)
    def test_eager_raises_by_default_naming_index(self, jfn, args, kwargs):
        bad = int(args[1].reshape(-1)[1])
        with pytest.raises(jaxnn.checks.ClassIndexError, match=rf"class index {bad} at position .*\[-?[01], {C}\)"):
            jfn(*args, **kwargs)
        with jaxnn.checks.eager(False), jaxnn.checks.checking():
            with pytest.raises(jaxnn.checks.ClassIndexError):
                jfn(*args, **kwargs)
        assert not jaxnn.checks.enabled()

    def test_error_is_an_index_error_like_torch(self):
        with pytest.raises(IndexError, match="out of bounds"):
            TF.cross_entropy(torch.zeros(2, C), torch.tensor([0, C]))
        with pytest.raises(IndexError):
            F.cross_entropy(np.zeros((2, C), np.float32), np.array([0, C]))

    def test_eager_accepts_ignore_index_and_multilabel_padding(self):
        F.cross_entropy(np.zeros((2, C), np.float32), np.array([0, -100]))
        F.multilabel_margin_loss(np.zeros((1, C), np.float32), np.array([[1, -1, 0, 0, 0]]))
        with pytest.raises(jaxnn.checks.ClassIndexError, match=r"\[-1, 5\)"):
            F.multilabel_margin_loss(np.zeros((1, C), np.float32), np.array([[1, -1, -2, 0, 0]]))

    def test_on_under_jit_reports_through_checkify(self):
        x = jnp.zeros((3, C))
        with jaxnn.checks.checking():
            f = checkify.checkify(jax.jit(lambda a, t: F.cross_entropy(a, t)))
            err, _ = f(x, jnp.array([0, 7, 1]))
            with pytest.raises(Exception, match="class index 7"):
                err.throw()
            err, out = f(x, jnp.array([0, 4, 1]))
            assert err.get() is None
            chex.assert_trees_all_close(out, jnp.log(C) * jnp.ones(()), rtol=1e-6)
            with pytest.raises(ValueError, match="checkify"):
                jax.jit(lambda a, t: F.cross_entropy(a, t))(x, jnp.array([0, 1, 2]))

    def test_eager_switch_and_binary_cross_entropy_range(self):
        x = np.array([0.5, 1.5], np.float32)
        with pytest.raises(RuntimeError, match=r"input should be between 0 and 1; found 1.5 at position \(1,\)"):
            F.binary_cross_entropy(x, np.ones(2, np.float32))
        # issue 21: a target of 2.0 gave a plausible 0.693 where torch raises
        with pytest.raises(ValueError, match=r"target should be between 0 and 1; found 2.0 at position \(0,\)"):
            F.binary_cross_entropy(np.array([0.5], np.float32), np.array([2.0], np.float32))
        with pytest.raises(RuntimeError, match="target should be between 0 and 1"):
            TF.binary_cross_entropy(torch.tensor([0.5]), torch.tensor([2.0]))
        jaxnn.checks.eager(False)
        try:
            assert np.isnan(F.binary_cross_entropy(np.array([0.5, -0.5], np.float32), np.ones(2, np.float32)))
            with jaxnn.checks.checking(), pytest.raises(ValueError, match="target should be between 0 and 1"):
                F.binary_cross_entropy(np.ones(2, np.float32), x)
        finally:
            jaxnn.checks.eager(True)
        assert jaxnn.checks.eager_enabled() and not jaxnn.checks.enabled()


class TestBadInput:
    def test_float_target_of_wrong_shape_names_both_shapes_and_dtypes(self):
        with pytest.raises(TypeError, match=r"target of shape \(3,\) and dtype float32.*input of shape \(3, 5\) and dtype float32"):
            F.cross_entropy(jnp.zeros((3, C)), jnp.zeros(3))
        with pytest.raises(RuntimeError):
            TF.cross_entropy(torch.zeros(3, C), torch.zeros(3))

    def test_integer_target_with_a_class_dim(self):
        with pytest.raises(TypeError, match=r"target of shape \(3, 5\) and dtype int32.*input of shape \(3, 5\)"):
            F.cross_entropy(jnp.zeros((3, C)), jnp.zeros((3, C), jnp.int32))
        with pytest.raises(ValueError, match=r"expected target of shape \(3,\).*got target of shape \(3, 1\)"):
            F.cross_entropy(jnp.zeros((3, C)), jnp.zeros((3, 1), jnp.int32))
        with pytest.raises(ValueError, match=r"expected target of shape \(2, 4\).*\(2, 5, 4\)"):
            F.nll_loss(jnp.zeros((2, C, 4)), jnp.zeros((2, C, 4), jnp.int32))

    def test_nll_loss_rejects_float_targets(self):
        with pytest.raises(TypeError, match=r"integer class indices.*shape \(3, 5\) and dtype float32"):
            F.nll_loss(jnp.zeros((3, C)), jnp.zeros((3, C)))

    @pytest.mark.parametrize("weight_shape", [(C - 1,), (1, C)], ids=str)
    def test_wrong_weight_length(self, weight_shape):
        pattern = rf"defined either for all 5 classes.*shape: \({weight_shape[0]}, ?{weight_shape[1] if len(weight_shape) > 1 else ''}\)"
        with pytest.raises(ValueError, match=pattern):
            F.cross_entropy(jnp.zeros((3, C)), jnp.zeros(3, jnp.int32), weight=jnp.ones(weight_shape))
        with pytest.raises(ValueError, match=pattern):
            F.cross_entropy(jnp.zeros((3, C)), jnp.zeros((3, C)), weight=jnp.ones(weight_shape))
        with pytest.raises(ValueError, match="weight should have 5 elements"):
            F.multi_margin_loss(jnp.zeros((3, C)), jnp.zeros(3, jnp.int32), weight=jnp.ones(C + 1))

    def test_errors_raise_at_trace_time(self):
        with pytest.raises(ValueError, match=r"\(4,\).*\(3, 5\)"):
            jax.jit(F.cross_entropy).lower(jnp.zeros((3, C)), jnp.zeros(4, jnp.int32))

    def test_option_values(self):
        x, t = jnp.zeros((3, C)), jnp.zeros(3, jnp.int32)
        with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
            F.cross_entropy(x, t, label_smoothing=1.5)
        with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0. Got: -0.1"):
            F.cross_entropy(x, t, label_smoothing=-0.1)
        with pytest.raises(ValueError, match="ignore_index=0 is not supported"):
            F.cross_entropy(x, jnp.zeros((3, C)), ignore_index=0)
        with pytest.raises(ValueError, match="only p == 1 and p == 2"):
            F.multi_margin_loss(x, t, p=3)
        with pytest.raises(ValueError, match="'avg'"):
            F.cross_entropy(x, t, reduction="avg")

    def test_shapes(self):
        x = jnp.full((3, 4), 0.5)
        with pytest.raises(ValueError, match=r"target size \(3,\) that is different to the input size \(3, 4\)"):
            F.binary_cross_entropy(x, jnp.ones(3))
        with pytest.raises(ValueError, match=r"Target size \(4,\) must be the same as input size \(3, 4\)"):
            F.binary_cross_entropy_with_logits(x, jnp.ones(4))
        with pytest.raises(ValueError, match=r"pos_weight shape \(3,\) does not broadcast to input shape \(3, 4\)"):
            F.binary_cross_entropy_with_logits(x, x, pos_weight=jnp.ones(3))
        with pytest.raises(ValueError, match=r"weight shape \(2, 3, 4\) does not broadcast"):
            F.binary_cross_entropy(x, x, weight=jnp.ones((2, 3, 4)))
        with pytest.raises(ValueError, match=r"target shape \(5,\) does not broadcast"):
            F.soft_margin_loss(x, jnp.ones(5))
        with pytest.raises(ValueError, match=r"target should be 1-D.*\(3, 1\)"):
            F.multi_margin_loss(x, jnp.zeros((3, 1), jnp.int32))
        with pytest.raises(ValueError, match=r"non-empty vector or matrix.*\(2, 3, 4\)"):
            F.multi_margin_loss(jnp.zeros((2, 3, 4)), jnp.zeros(2, jnp.int32))
        with pytest.raises(ValueError, match=r"inconsistent target of shape \(3,\)"):
            F.multilabel_margin_loss(x, jnp.zeros(3, jnp.int32))
        with pytest.raises(TypeError, match="integer class indices"):
            F.multilabel_margin_loss(x, jnp.zeros((3, 4)))


class JitTest(parameterized.TestCase):
    """The same parity assertions with and without jax.jit, options static."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters("none", "mean")
    def test_losses(self, reduction):
        x = _logits((6, C), "float32", seed=6)
        t = _indices((6,), seed=6, ignore_index=-100)
        w = _weight("float32")
        probs = _probabilities((6, C), "float32")
        cases = [
            (F.cross_entropy, TF.cross_entropy, (x, t), {"weight": w, "label_smoothing": 0.2}, (0,)),
            (F.cross_entropy, TF.cross_entropy, (x, probs), {"weight": w}, (0, 1)),
            (F.nll_loss, TF.nll_loss, (x, t), {"weight": w}, (0,)),
            (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (x, np.clip(probs * 3, 0, 1)), {"pos_weight": w}, (0, 1)),
            (F.binary_cross_entropy, TF.binary_cross_entropy, (probs, np.clip(probs * 3, 0, 1)), {"weight": w}, (0, 1)),
            (F.multi_margin_loss, TF.multi_margin_loss, (x, np.abs(t) % C), {"p": 2, "weight": w}, (0,)),
        ]
        for jfn, tfn, args, kwargs, wrt in cases:
            fn = self.variant(lambda *a, jfn=jfn, kwargs=kwargs: jfn(*a, reduction=reduction, **kwargs))
            assert_parity(fn, tfn, args, {}, torch_kwargs={**kwargs, "reduction": reduction}, wrt=wrt)


class TestClasses:
    CLASSES = [
        ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 1}, "index"),
        ("CrossEntropyLoss", {"weight": True, "reduction": "sum"}, "probs"),
        ("NLLLoss", {"weight": True, "reduction": "none"}, "index"),
        ("BCELoss", {"weight": True}, "binary"),
        ("BCEWithLogitsLoss", {"pos_weight": True, "weight": True}, "binary"),
        ("SoftMarginLoss", {}, "sign"),
        ("MultiLabelSoftMarginLoss", {"weight": True}, "binary"),
        ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": True}, "index"),
        ("MultiLabelMarginLoss", {"reduction": "sum"}, "multilabel"),
    ]

    @pytest.mark.parametrize("name,options,kind", CLASSES, ids=[c[0] + str(i) for i, c in enumerate(CLASSES)])
    def test_class_matches_torch_class_under_jit(self, name, options, kind):
        x = _logits((6, C), "float32", seed=7)
        targets = {
            "index": _indices((6,), seed=7),
            "probs": _probabilities((6, C), "float32"),
            "binary": _cast(np.random.default_rng(7).uniform(size=(6, C)) > 0.5, "float32"),
            "sign": np.sign(x),
            "multilabel": np.tile([4, 0, -1, 1, 1], (6, 1)),
        }
        if name == "BCELoss":
            x = _probabilities((6, C), "float32")
        kwargs = {k: (_weight("float32") if v is True else v) for k, v in options.items()}
        crit = getattr(jaxnn, name)(**kwargs)
        tcrit = getattr(torch.nn, name)(**{k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()})
        jitted = jax.jit(lambda c, a, b: c(a, b))
        assert_parity(lambda a, b: jitted(crit, a, b), tcrit, (x, targets[kind]), wrt=(0,))

    def test_legacy_arguments(self):
        x, t = _logits((6, C), "float32"), _indices((6,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = TF.cross_entropy(torch.tensor(x), torch.tensor(t), size_average=False).numpy()
        with pytest.warns(LegacyReductionWarning):
            out = F.cross_entropy(x, t, size_average=False)
        chex.assert_trees_all_close(np.asarray(out), expected, rtol=2e-6)
        with pytest.warns(LegacyReductionWarning):
            assert jaxnn.NLLLoss(reduce=False).reduction == "none"
