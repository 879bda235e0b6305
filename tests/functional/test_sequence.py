"""ctc_loss (and CTCLoss) against torch: values and torch's gradient w.r.t. log_probs over
every option, ragged and impossible alignments, target layouts, jit with traced lengths, errors."""

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
from tests.parity import assert_parity

REDUCTIONS = ["none", "mean", "sum"]
T, N, C = 12, 4, 5


def _log_probs(t=T, n=N, c=C, dtype="float32", seed=0, normalized=True):
    x = np.random.default_rng(seed).standard_normal((t, n, c))
    if normalized:
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    return x.astype(dtype)


# A batch that exercises every path: full length, a repeated label that needs a
# blank between (3 frames for "1 1" is feasible, 2 is not), an empty target,
# and ragged input lengths. Padding entries (-1, 99) are never read.
TARGETS = np.array([[1, 2, 2, 3], [1, 1, -1, 99], [0, 0, 0, 0], [4, 3, 2, 1]])
TARGET_LENGTHS = np.array([4, 2, 0, 3])
INPUT_LENGTHS = np.array([12, 3, 5, 7])
IMPOSSIBLE_INPUT_LENGTHS = np.array([12, 2, 5, 2])  # sequences 1 and 3 cannot align


def _with_blank(targets, blank):
    """The same targets with labels moved off ``blank`` (class 0 takes blank's place)."""
    return np.where(targets == blank, 0, targets) if blank else targets


class TestValuesAndGradients:
    @pytest.mark.parametrize("reduction", REDUCTIONS)
    @pytest.mark.parametrize("zero_infinity", [False, True])
    def test_ragged_batch(self, reduction, zero_infinity, float_dtype):
        lp = _log_probs(dtype=float_dtype)
        assert_parity(F.ctc_loss, TF.ctc_loss, (lp, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS),
                      {"reduction": reduction, "zero_infinity": zero_infinity})

    @pytest.mark.parametrize("reduction", REDUCTIONS)
    @pytest.mark.parametrize("zero_infinity", [False, True])
    def test_impossible_alignments(self, reduction, zero_infinity, float_dtype):
        # inf loss and (as torch) a nan gradient on the frames of those sequences,
        # or 0 and 0 with zero_infinity
        lp = _log_probs(dtype=float_dtype, seed=1)
        args = (lp, TARGETS, IMPOSSIBLE_INPUT_LENGTHS, TARGET_LENGTHS)
        losses = F.ctc_loss(*args, reduction="none", zero_infinity=zero_infinity)
        expected = [0.0, 0.0] if zero_infinity else [np.inf, np.inf]
        np.testing.assert_array_equal(np.asarray(losses)[[1, 3]], expected)
        if zero_infinity:
            grad = jax.grad(lambda x: F.ctc_loss(x, *args[1:], reduction="sum", zero_infinity=True))(lp)
            np.testing.assert_array_equal(np.asarray(grad)[:, [1, 3]], 0.0)
        assert_parity(F.ctc_loss, TF.ctc_loss, args, {"reduction": reduction, "zero_infinity": zero_infinity})

    @pytest.mark.parametrize("blank", [1, 2, C - 1])
    def test_blank_other_than_zero(self, blank, x64):
        lp = _log_probs(dtype="float64", seed=2)
        targets = _with_blank(TARGETS, blank)
        for reduction in ("none", "mean"):
            assert_parity(F.ctc_loss, TF.ctc_loss, (lp, targets, INPUT_LENGTHS, TARGET_LENGTHS),
                          {"blank": blank, "reduction": reduction})

    def test_repeated_labels_need_a_blank(self, x64):
        # "2 2 2" needs 5 frames: 4 is impossible, 5 has exactly one alignment
        lp = _log_probs(t=6, n=3, c=3, dtype="float64", seed=3)
        targets = np.array([[2, 2, 2], [2, 2, 2], [2, 1, 2]])
        il, tl = np.array([4, 5, 3]), np.array([3, 3, 3])
        out = np.asarray(F.ctc_loss(lp, targets, il, tl, reduction="none"))
        one_path = -(lp[0, 1, 2] + lp[1, 1, 0] + lp[2, 1, 2] + lp[3, 1, 0] + lp[4, 1, 2])
        np.testing.assert_allclose(out, [np.inf, one_path, -(lp[0, 2, 2] + lp[1, 2, 1] + lp[2, 2, 2])])
        assert_parity(F.ctc_loss, TF.ctc_loss, (lp, targets, il, tl), {"reduction": "none", "zero_infinity": True})

    def test_unnormalized_log_probs_get_torchs_gradient(self, x64):
        # torch's gradient is (exp(log_probs) - posterior) * g, not d(loss)/d(log_probs)
        lp = _log_probs(dtype="float64", seed=4, normalized=False)
        assert_parity(F.ctc_loss, TF.ctc_loss, (lp, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS), {"reduction": "sum"})

    def test_gradient_through_log_softmax_is_softmax_minus_posterior(self, x64):
        logits = _log_probs(dtype="float64", seed=5, normalized=False)
        args = (TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)
        assert_parity(lambda x, *a: F.ctc_loss(jax.nn.log_softmax(x, -1), *a),
                      lambda x, *a: TF.ctc_loss(x.log_softmax(-1), *a), (logits, *args))
        # the posterior of each frame sums to 1, so the logits' gradient sums to 0 per frame
        grad = jax.grad(lambda x: F.ctc_loss(jax.nn.log_softmax(x, -1), *args, reduction="sum"))(logits)
        np.testing.assert_allclose(np.asarray(grad).sum(-1), 0.0, atol=1e-12)

    def test_empty_inputs_and_targets(self, x64):
        # input length 0: loss 0 for an empty target, inf otherwise; no gradient
        lp = _log_probs(t=6, n=3, c=3, dtype="float64", seed=6)
        targets = np.array([[1, 2], [1, 0], [2, 1]])
        il, tl = np.array([0, 0, 6]), np.array([0, 1, 0])
        out = np.asarray(F.ctc_loss(lp, targets, il, tl, reduction="none"))
        np.testing.assert_allclose(out, [0.0, np.inf, -lp[:, 2, 0].sum()])
        assert_parity(F.ctc_loss, TF.ctc_loss, (lp, targets, il, tl), {"reduction": "mean", "zero_infinity": True})

    def test_degenerate_sizes(self):
        # one frame; all targets empty (S = 0) padded and concatenated; a single label
        one_frame = _log_probs(t=1, n=2, c=3, seed=18)
        assert_parity(F.ctc_loss, TF.ctc_loss, (one_frame, np.array([[1], [0]]), np.array([1, 1]), np.array([1, 0])),
                      {"reduction": "none"})
        lp = _log_probs(t=4, n=2, c=3, seed=19)
        for empty in (np.zeros((2, 0), np.int64), np.zeros((0,), np.int64)):
            assert_parity(F.ctc_loss, TF.ctc_loss, (lp, empty, np.array([4, 3]), np.array([0, 0])),
                          {"reduction": "mean"})
        assert_parity(F.ctc_loss, TF.ctc_loss, (lp, np.array([[2], [1]]), np.array([4, 1]), np.array([1, 1])),
                      {"reduction": "sum"})

    def test_mean_divides_by_clamped_target_lengths(self, x64):
        lp = _log_probs(dtype="float64", seed=7)
        per_sequence = np.asarray(F.ctc_loss(lp, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, reduction="none"))
        mean = F.ctc_loss(lp, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)
        np.testing.assert_allclose(mean, np.mean(per_sequence / np.maximum(TARGET_LENGTHS, 1)), rtol=1e-12)


class TestLayouts:
    def test_concatenated_targets_equal_padded(self, x64):
        lp = _log_probs(dtype="float64", seed=8)
        concatenated = np.concatenate([row[:n] for row, n in zip(TARGETS, TARGET_LENGTHS)])
        for reduction in REDUCTIONS:
            assert_parity(F.ctc_loss, TF.ctc_loss, (lp, concatenated, INPUT_LENGTHS, TARGET_LENGTHS),
                          {"reduction": reduction})
        chex.assert_trees_all_close(
            F.ctc_loss(lp, concatenated, INPUT_LENGTHS, TARGET_LENGTHS, reduction="none"),
            F.ctc_loss(lp, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, reduction="none"),
        )

    @pytest.mark.parametrize("kind", [tuple, list])
    def test_lengths_as_sequences(self, kind):
        lp = _log_probs(seed=9)
        il, tl = kind(int(v) for v in INPUT_LENGTHS), kind(int(v) for v in TARGET_LENGTHS)
        out = F.ctc_loss(lp, TARGETS, il, tl, reduction="none")
        expected = TF.ctc_loss(torch.tensor(lp), torch.tensor(TARGETS), il, tl, reduction="none")
        np.testing.assert_allclose(np.asarray(out), expected.numpy(), rtol=2e-5)

    @pytest.mark.parametrize("targets,lengths", [
        (np.array([1, 2, 2]), (np.array(9), np.array(3))),
        (np.array([[3, 3, 0]]), (np.array([9]), np.array([2]))),
        (np.array([2, 1, 2]), ((9,), (3,))),
    ])
    @pytest.mark.parametrize("reduction", REDUCTIONS)
    def test_unbatched(self, targets, lengths, reduction, x64):
        lp = _log_probs(dtype="float64", seed=10)[:, 0]
        out = F.ctc_loss(lp, targets, *lengths, reduction=reduction)
        assert out.shape == ()
        assert_parity(F.ctc_loss, TF.ctc_loss, (lp, targets, *lengths), {"reduction": reduction})

    def test_int32_targets_and_lengths(self):
        lp = _log_probs(seed=11)
        args = (TARGETS.astype(np.int32), INPUT_LENGTHS.astype(np.int32), TARGET_LENGTHS.astype(np.int32))
        assert_parity(F.ctc_loss, TF.ctc_loss, (lp, *args), {"reduction": "sum"})

    def test_half_precision_runs_in_float32(self):
        lp = _log_probs(seed=12)
        for dtype in (jnp.bfloat16, jnp.float16):
            out = F.ctc_loss(jnp.asarray(lp, dtype), TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, reduction="none")
            assert out.dtype == dtype
            expected = TF.ctc_loss(torch.tensor(np.asarray(jnp.asarray(lp, dtype), np.float32)),
                                   torch.tensor(TARGETS), torch.tensor(INPUT_LENGTHS),
                                   torch.tensor(TARGET_LENGTHS), reduction="none")
            np.testing.assert_allclose(np.asarray(out, np.float32), expected.numpy(), rtol=1e-2)


class JitTest(parameterized.TestCase):
    """jit with the lengths traced (values unknown at trace time) and without jit."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(("none", False), ("mean", True), ("sum", False))
    def test_traced_lengths(self, reduction, concatenated):
        lp = _log_probs(seed=13)
        targets = TARGETS
        if concatenated:
            targets = np.concatenate([row[:n] for row, n in zip(TARGETS, TARGET_LENGTHS)])
        fn = self.variant(lambda x, tg, il, tl: F.ctc_loss(x, tg, il, tl, reduction=reduction, zero_infinity=True))
        assert_parity(fn, TF.ctc_loss, (lp, targets, IMPOSSIBLE_INPUT_LENGTHS, TARGET_LENGTHS), {},
                      torch_kwargs={"reduction": reduction, "zero_infinity": True})

    def test_tuple_lengths_under_jit(self):
        lp = _log_probs(seed=17)
        il, tl = tuple(int(v) for v in INPUT_LENGTHS), tuple(int(v) for v in TARGET_LENGTHS)
        out = jax.jit(F.ctc_loss, static_argnames="reduction")(lp, TARGETS, il, tl, reduction="none")
        expected = TF.ctc_loss(torch.tensor(lp), torch.tensor(TARGETS), il, tl, reduction="none")
        np.testing.assert_allclose(np.asarray(out), expected.numpy(), rtol=2e-5)

    def test_compiled_program_does_not_grow_with_time(self):
        def count(t):
            lp = jnp.asarray(_log_probs(t=t, seed=14))
            il = jnp.full((N,), t)
            grad = jax.grad(lambda x: F.ctc_loss(x, TARGETS, il, TARGET_LENGTHS))
            return len(jax.make_jaxpr(grad)(lp).eqns)

        self.assertEqual(count(8), count(30))

    def test_vmap_over_unbatched_sequences(self):
        lp = _log_probs(seed=15)
        per = jax.vmap(lambda x, tg, il, tl: F.ctc_loss(x, tg, il, tl, reduction="none"), in_axes=(1, 0, 0, 0))
        out = per(jnp.asarray(lp), TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)
        chex.assert_trees_all_close(out, F.ctc_loss(lp, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, reduction="none"),
                                    rtol=1e-6)


class TestClass:
    @pytest.mark.parametrize("kwargs", [{}, {"blank": 4, "reduction": "sum", "zero_infinity": True}])
    def test_ctcloss_matches_torch_under_jit(self, kwargs):
        lp = _log_probs(seed=16)
        targets = _with_blank(TARGETS, kwargs.get("blank", 0))
        crit = jaxnn.CTCLoss(**kwargs)
        args = (lp, targets, IMPOSSIBLE_INPUT_LENGTHS, TARGET_LENGTHS)
        apply = jax.jit(lambda c, *a: c(*a))
        assert_parity(lambda *a: apply(crit, *a), torch.nn.CTCLoss(**kwargs), args)


class TestBadInput:
    LP = _log_probs(t=6, n=2, c=4)
    TG = np.array([[1, 2], [3, 3]])
    IL = np.array([6, 5])
    TL = np.array([2, 1])

    def _call(self, **changes):
        args = {"log_probs": self.LP, "targets": self.TG, "input_lengths": self.IL, "target_lengths": self.TL}
        options = {k: changes.pop(k) for k in ("blank",) if k in changes}
        args.update(changes)
        return F.ctc_loss(*args.values(), **options)

    @pytest.mark.parametrize("changes,error,message", [
        ({"input_lengths": np.array([6, 5, 4])}, ValueError, r"input_lengths .*batch size 2.*\(3,\)"),
        ({"target_lengths": np.array([2])}, ValueError, r"target_lengths .*batch size 2.*\(1,\)"),
        ({"target_lengths": np.array([3, 1])}, ValueError, r"targets of shape \(2, 2\).*longest target length 3"),
        ({"targets": np.array([1, 2, 3, 3])}, ValueError, r"sum\(target_lengths\) = 3 entries.*\(4,\)"),
        ({"targets": np.array([[1, 2]])}, ValueError, r"targets of shape \(1, 2\) must have batch size 2"),
        ({"targets": np.ones((2, 2, 1), int)}, ValueError, r"targets .*\(2, 2, 1\)"),
        ({"log_probs": np.ones(4, np.float32)}, ValueError, r"log_probs .*\(4,\)"),
        ({"log_probs": np.ones((1, 6, 2, 4), np.float32)}, ValueError, r"log_probs .*\(1, 6, 2, 4\)"),
        ({"log_probs": np.ones((0, 2, 4), np.float32)}, ValueError, "must not be empty"),
        ({"input_lengths": np.array([7, 5])}, ValueError, r"input_lengths must be in \[0, 6\].*\[7, 5\]"),
        ({"input_lengths": np.array([-1, 5])}, ValueError, r"input_lengths must be in \[0, 6\]"),
        ({"target_lengths": np.array([-1, 1])}, ValueError, r"target_lengths must be >= 0"),
        ({"targets": np.array([[1, 4], [3, 3]])}, ValueError, r"class indices in \[0, 4\); got \[4\]"),
        ({"blank": 4}, ValueError, r"blank must be in label range \[0, 4\), got 4"),
        ({"blank": -1}, ValueError, "blank must be in label range"),
        ({"input_lengths": np.array([6.0, 5.0])}, TypeError, "input_lengths must be integral"),
        ({"targets": np.array([[1.0, 2.0], [3.0, 3.0]])}, TypeError, "targets must hold integer"),
        ({"log_probs": np.ones((6, 2, 4), np.int32)}, TypeError, "log_probs must have a floating dtype"),
    ])
    def test_errors(self, changes, error, message):
        with pytest.raises(error, match=message):
            self._call(**changes)

    def test_shape_errors_raise_at_trace_time(self):
        with pytest.raises(ValueError, match=r"input_lengths .*\(3,\)"):
            jax.jit(F.ctc_loss).lower(self.LP, self.TG, jnp.ones(3, int), self.TL)

    def test_invalid_reduction(self):
        with pytest.raises(ValueError, match="'avg'"):
            F.ctc_loss(self.LP, self.TG, self.IL, self.TL, reduction="avg")
