"""Differential fuzzing of the optimizers: drawn hyper-parameters and gradients, torch.optim vs jaxnn.optim in float64.

Each example draws one option set (every argument torch takes, in its valid
range, zeros included), a parameter of a drawn shape and a few steps of
gradients (zeros, tiny and large values among them), runs torch's optimizer
and jaxnn's transformation step by step and compares the parameters after
every step at float64 tolerance.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxnn.optim as optim
from tests.fuzz import strategies as S
from tests.optim._runs import torch_run
from tests.parity import TOLERANCES

STEPS = 3
RATE = st.sampled_from([0.0, 1e-3, 0.1, 1.0])
DECAY = st.sampled_from([0.0, 1e-2, 0.5])
BETA = st.sampled_from([0.0, 0.5, 0.9, 0.999])
EPS = st.sampled_from([1e-8, 1e-3, 0.0])


@st.composite
def sgd(draw):
    momentum = draw(st.sampled_from([0.0, 0.5, 0.9]))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(st.sampled_from([0.0, 0.3]))
    return dict(lr=draw(RATE), momentum=momentum, dampening=dampening, weight_decay=draw(DECAY),
                nesterov=nesterov, maximize=draw(st.booleans()))


def _adam_family(amsgrad: bool, decoupled: bool, **more):
    @st.composite
    def options(draw):
        kw = dict(lr=draw(RATE), betas=(draw(BETA), draw(BETA)), eps=draw(EPS), weight_decay=draw(DECAY),
                  maximize=draw(st.booleans()))
        if amsgrad:
            kw["amsgrad"] = draw(st.booleans())
        if decoupled:
            kw["decoupled_weight_decay"] = draw(st.booleans())
        for name, strategy in more.items():
            kw[name] = draw(strategy)
        return kw

    return options()


@st.composite
def rmsprop(draw):
    kw = dict(lr=draw(RATE), alpha=draw(BETA), eps=draw(EPS), weight_decay=draw(DECAY),
              momentum=draw(st.sampled_from([0.0, 0.5])), centered=draw(st.booleans()), maximize=draw(st.booleans()))
    # Centered with alpha 0, v - gbar**2 is the rounding error of g * g, so every later step hangs on the last
    # bit of g. With weight decay g depends on p, and with momentum torch updates p in place with one rounding
    # (p.add_(buf, alpha=-lr)), which an optax update added to p (p + u: two roundings) cannot reproduce.
    # Unreachable (docs/reliability.md), pinned by test_centered_rmsprop_with_alpha_0_where_torch_is_unreachable.
    if kw["centered"] and kw["alpha"] == 0 and kw["momentum"] > 0:
        kw["weight_decay"] = 0.0
    return kw


@st.composite
def adagrad(draw):
    return dict(lr=draw(RATE), lr_decay=draw(DECAY), weight_decay=draw(DECAY),
                initial_accumulator_value=draw(st.sampled_from([0.0, 0.1])), eps=draw(st.sampled_from([1e-10, 1e-3])),
                maximize=draw(st.booleans()))


@st.composite
def adadelta(draw):
    return dict(lr=draw(RATE), rho=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])), eps=draw(EPS),
                weight_decay=draw(DECAY), maximize=draw(st.booleans()))


@st.composite
def asgd(draw):
    return dict(lr=draw(RATE), lambd=draw(st.sampled_from([0.0, 1e-4, 0.1])), alpha=draw(st.sampled_from([0.0, 0.75, 1.0])),
                t0=draw(st.sampled_from([0.0, 1.0, 1e6])), weight_decay=draw(DECAY), maximize=draw(st.booleans()))


@st.composite
def rprop(draw):
    return dict(lr=draw(RATE), etas=draw(st.sampled_from([(0.5, 1.2), (0.1, 3.0)])),
                step_sizes=draw(st.sampled_from([(1e-6, 50.0), (0.0, 1.0), (1e-3, 1e-2)])), maximize=draw(st.booleans()))


@st.composite
def adafactor(draw):
    return dict(lr=draw(RATE), beta2_decay=draw(st.sampled_from([-0.8, 0.0, -2.0])),
                eps=(draw(st.sampled_from([None, 0.0, 1e-30, 1e-3])), draw(st.sampled_from([1e-3, 0.0]))),
                d=draw(st.sampled_from([1.0, 2.5])), weight_decay=draw(DECAY), maximize=draw(st.booleans()))


@st.composite
def muon(draw):
    return dict(lr=draw(RATE), weight_decay=draw(DECAY), momentum=draw(st.sampled_from([0.0, 0.5, 0.95])),
                nesterov=draw(st.booleans()), ns_steps=draw(st.sampled_from([0, 1, 5])),
                eps=draw(st.sampled_from([1e-7, 1e-2])),
                adjust_lr_fn=draw(st.sampled_from([None, "original", "match_rms_adamw"])))


# name -> option strategy; every optimizer of jaxnn.optim
CASES = {
    "SGD": sgd(),
    "Adam": _adam_family(amsgrad=True, decoupled=True),
    "AdamW": _adam_family(amsgrad=True, decoupled=False),
    "RMSprop": rmsprop(),
    "Adagrad": adagrad(),
    "NAdam": _adam_family(amsgrad=False, decoupled=True, momentum_decay=st.sampled_from([0.0, 4e-3, 0.1])),
    "RAdam": _adam_family(amsgrad=False, decoupled=True),
    "Adamax": _adam_family(amsgrad=False, decoupled=False),
    "Adadelta": adadelta(),
    "ASGD": asgd(),
    "Rprop": rprop(),
    "Adafactor": adafactor(),
    "Muon": muon(),
}
# Muon takes only 2-d parameters (torch refuses the others at construction).
MIN_DIMS = {"Muon": 2}
MAX_DIMS = {"Muon": 2}
# torch divides by a size in Python and raises ZeroDivisionError on an empty parameter: Adafactor by
# numel ** 0.5, Muon by the number of columns.
NONEMPTY = {"Adafactor", "Muon"}
# XLA flushes subnormal results to zero (docs/reliability.md). A gradient in this band has a square
# (times a coefficient down to 1e-3, e.g. 1 - beta2) that torch keeps as a subnormal and XLA makes 0,
# so a denominator sqrt(v) + eps with eps 0 is 0 here and torch's number (a finite step, often 0 with
# lr 0) is unreachable: such gradients, and parameters that weight decay (>= 1e-2) scales into the
# band, are drawn as 0. Below the band the square is 0 in torch too.
SUBNORMAL_SQUARE_BAND = (1e-166, 1e-148)
# RMSprop centered with alpha 0: v - gbar**2 is exactly the rounding error of g * g (torch's fused addcmul
# leaves it). For |g| < 2**-459 that error can be subnormal (it is a multiple of ulp(g)**2): torch keeps it
# (sqrt of a negative one is nan), XLA flushes it to 0 (avg = eps). Unreachable; from 2**-459 up it is 0 or
# normal and jaxnn gives torch's number (jaxnn.optim._core.sub_square).
SUBNORMAL_RESIDUAL_TOP = 2.0**-459
TINY = 2.2250738585072014e-308  # the smallest normal float64
# With eps 0 a moment torch keeps as a subnormal is unreachable too: (1 - beta1) * g, a lerp's
# (g - m) * (1 - w), an exp_inf decayed by beta2 fall below TINY for |g| < TINY / (1e-3 * 0.999**2)
# (coefficients down to 1 - 0.999, then decayed by 0.999 over the later steps). torch divides that
# subnormal m by a zero or subnormal denominator (+-inf, or a finite step); XLA has 0 there (nan, or m
# = g where torch has g / 2). Pinned by test_subnormal_moment_where_eps_is_0.
SUBNORMAL_MOMENT_TOP = TINY / (1e-3 * 0.999**2)
MIN_DECAY = 1e-2  # the smallest non-zero weight decay drawn: it scales parameters up to 1/MIN_DECAY into a band


def bands(name, options):
    """The gradient magnitudes [lo, hi) whose results torch keeps as subnormals where XLA flushes them (drawn as 0)."""
    lo, hi = SUBNORMAL_SQUARE_BAND
    if name == "RMSprop" and options["centered"] and options["alpha"] == 0:
        hi = SUBNORMAL_RESIDUAL_TOP
    if options.get("eps") == 0:
        return (lo, hi), (0.0, SUBNORMAL_MOMENT_TOP)
    return ((lo, hi),)


@st.composite
def problem(draw, min_dims=0, max_dims=3, nonempty=False, bands=(SUBNORMAL_SQUARE_BAND,)):
    shape = draw(S.shapes(min_dims=min_dims, max_dims=max_dims).filter(lambda s: not nonempty or 0 not in s))
    params = draw(S.values(shape, lo=-10.0, hi=10.0))
    grads = draw(S.values((STEPS, *shape), lo=-1e3, hi=1e3))

    def outside(x, scale):
        inside = np.zeros(x.shape, bool)
        for lo, hi in bands:
            inside |= (np.abs(x) >= lo) & (np.abs(x) < hi * scale)
        return np.where(inside, 0.0, x)

    return outside(params, 1 / MIN_DECAY), outside(grads, 1.0)


@st.composite
def options_and_problem(draw, name):
    options = draw(CASES[name])
    nonempty = name in NONEMPTY
    return options, draw(problem(MIN_DIMS.get(name, 0), MAX_DIMS.get(name, 3), nonempty, bands(name, options)))


def _jax_trajectory(opt, params, grads):
    p = {"w": jnp.asarray(params)}
    state = opt.init(p)
    out = []
    for g in grads:
        updates, state = opt.update({"w": jnp.asarray(g)}, state, p)
        p = optax.apply_updates(p, updates)
        out.append(np.asarray(p["w"]))
    return np.stack(out)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_optimizer_against_torch(name):
    @settings(max_examples=max(1, settings.default.max_examples // 3))
    @given(options_and_problem(name))
    def check(drawn):
        options, (params, grads) = drawn
        expected, _ = torch_run(lambda ps: getattr(torch.optim, name)(ps, **options), {"w": params}, {"w": grads}, "float64")
        with jax.enable_x64(True):
            got = _jax_trajectory(getattr(optim, name)(**options), params, grads)
        rtol, atol = TOLERANCES["float64"]
        np.testing.assert_allclose(got, expected["w"], rtol=rtol, atol=atol, err_msg=f"{name}({options})")

    check()



def every_step(grad):
    return [grad] * STEPS


# The falsifying examples of the deep profile (issue #23), each pinned: (name, options, param, gradients, one a step).
REGRESSIONS = [
    # v = g*g underflows to 0; torch's addcdiv forms lr * m (a subnormal) before dividing by 0: -inf, not nan.
    ("AdamW", dict(lr=1e-3, betas=(0.0, 0.0), eps=0.0), [0.0], every_step([TINY])),
    # lr * m / u with u = |g|: the product is subnormal in torch, flushed by XLA; torch moves by -lr a step.
    ("Adamax", dict(lr=1e-3, betas=(0.0, 0.0), eps=0.0), [0.0], every_step([TINY])),
    # centered: square_avg - grad_avg**2 of a constant gradient; torch's fused addcmul leaves 6e-22, not 0.
    ("RMSprop", dict(lr=0.0, alpha=0.0, eps=0.0, weight_decay=0.01, centered=True), [1.0], every_step([0.0])),
    # the parameter reaches -inf; decoupled decay p * (1 - lr * wd) keeps it there (no inf - inf).
    ("NAdam", dict(lr=1e-3, betas=(0.5, 0.0), eps=0.0, weight_decay=0.01, decoupled_weight_decay=True, momentum_decay=0.0),
     [0.0, 0.0, 0.0], every_step([2.17e-165] * 3)),
    # sign(g * prev): 5e-290 * 1e-30 = 5e-320 is a subnormal torch keeps (sign +1, the step grows by etaplus),
    # XLA flushes it (sign 0). 2**-500 * 2**-575 is exactly half the smallest subnormal (torch rounds it to 0);
    # the third and fourth products are a hair above it (sign -1 here) and below it (0).
    ("Rprop", dict(lr=0.1), [1.0, 1.0, 1.0, 1.0],
     [[5e-290, 2.0**-500, 2.0**-500 * (1 + 2.0**-52), 2.0**-500 * (1 + 2.0**-52)],
      [1e-30, 2.0**-575, -(2.0**-576) * (2 - 2.0**-52), 2.0**-576 * (2 - 2.0**-51)],
      [1e-30, 2.0**-575, 1.0, 1.0]]),
    # L2 decay g + wd * p is one rounding in torch (a fused multiply-add); centered with alpha 0 the variance is the
    # rounding error of g * g, so a g one ulp off gave a step 10% off, then nan a step early. A 0-d parameter as
    # found; the rounding is the same for every shape.
    ("RMSprop", dict(lr=1e-3, alpha=0.0, eps=1e-8, weight_decay=0.01, centered=True, maximize=True), 3.5,
     every_step(0.5)),
    ("RMSprop", dict(lr=1e-3, alpha=0.0, eps=1e-8, weight_decay=0.01, centered=True, maximize=True), [3.5, -3.5],
     every_step([0.5, -0.5])),
]


@pytest.mark.parametrize("name,options,param,grads", REGRESSIONS, ids=[f"{r[0]}-{i}" for i, r in enumerate(REGRESSIONS)])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_deep_profile_regressions(name, options, param, grads, jit):
    params = np.asarray(param, np.float64)
    grads = np.asarray(grads, np.float64)
    expected, _ = torch_run(lambda ps: getattr(torch.optim, name)(ps, **options), {"w": params}, {"w": grads}, "float64")
    with jax.enable_x64(True):
        opt = getattr(optim, name)(**options)
        if jit:
            opt = optax.GradientTransformation(opt.init, jax.jit(opt.update))
        got = _jax_trajectory(opt, params, grads)
    # torch's subnormal intermediate keeps only ~13 digits (Adamax): compared at float64 tolerance, infs and nans exactly.
    rtol, atol = TOLERANCES["float64"]
    np.testing.assert_allclose(got, expected["w"], rtol=rtol, atol=atol, err_msg=f"{name}({options})")


@pytest.mark.parametrize("name,options", [
    ("AdamW", dict(lr=0.0, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0)),
    ("Adadelta", dict(lr=0.0, rho=0.0, eps=0.0)),
])
def test_subnormal_square_band_gives_nan_where_torch_keeps_a_subnormal(name, options):
    """Pinned, documented difference (docs/reliability.md): g = 1.5e-155 squares to 2.2e-310, a subnormal.

    torch keeps it, so sqrt(v) + eps = 1.5e-155 and lr 0 leaves the parameter at 0; XLA flushes it to 0,
    so the step is 0 / 0. Unreachable without subnormals; the fuzzers draw no gradients in this band.
    """
    grads = np.full((1, 1), 1.48341764e-155)
    expected, _ = torch_run(lambda ps: getattr(torch.optim, name)(ps, **options), {"w": np.zeros(1)}, {"w": grads}, "float64")
    np.testing.assert_array_equal(expected["w"], [[0.0]])
    with jax.enable_x64(True):
        got = _jax_trajectory(getattr(optim, name)(**options), np.zeros(1), grads)
    assert np.isnan(got).all()


def _rmsprop_centered_optax_order(p, grads, lr, alpha, eps, weight_decay, momentum):
    """torch's _single_tensor_rmsprop (centered, momentum) with one change: the parameter update ``p + (-lr * buf)``
    rounded twice, as an optax update added to ``p`` is, where torch's ``p.add_(buf, alpha=-lr)`` rounds once."""
    p = torch.tensor(p, dtype=torch.float64)
    square_avg, grad_avg, buf = torch.zeros_like(p), torch.zeros_like(p), torch.zeros_like(p)
    out = []
    for g in grads:
        g = torch.tensor(g, dtype=torch.float64).add(p, alpha=weight_decay)
        square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        grad_avg.lerp_(g, 1 - alpha)
        avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_().add_(eps)
        buf.mul_(momentum).addcdiv_(g, avg)
        p = p + (-lr * buf)
        out.append(p.numpy().copy())
    return np.stack(out)


def test_centered_rmsprop_with_alpha_0_where_torch_is_unreachable():
    """Pinned, documented differences (docs/reliability.md): RMSprop centered with alpha 0.

    Its variance v - gbar**2 is exactly the rounding error of g * g, so the step hangs on the last bit of g.

    - With momentum and weight decay, g depends on p, which torch updates with one rounding; jaxnn's update is
      added to p by optax (two roundings). From p = 4: step 1 agrees, torch's step 2 is nan, jaxnn's is what
      torch's algorithm gives with the two-rounding update.
    - For |g| < 2**-459 the rounding error of g * g can be subnormal: g = 2.85e-146 leaves torch a negative
      subnormal variance (nan), while XLA flushes it to 0, so avg = eps and lr 0 leaves the parameter at 0.
    """
    options = dict(lr=0.1, alpha=0.0, eps=1e-3, weight_decay=0.01, momentum=0.5, centered=True)
    grads = np.zeros((STEPS,))
    expected, _ = torch_run(lambda ps: torch.optim.RMSprop(ps, **options), {"w": np.array(4.0)}, {"w": grads}, "float64")
    assert np.isnan(expected["w"][1])
    optax_order = _rmsprop_centered_optax_order(np.array(4.0), grads, **{k: v for k, v in options.items() if k != "centered"})
    assert np.isfinite(optax_order[1])
    with jax.enable_x64(True):
        got = _jax_trajectory(optim.RMSprop(**options), np.array(4.0), grads)
    rtol, atol = TOLERANCES["float64"]
    np.testing.assert_allclose(got[0], expected["w"][0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(got, optax_order, rtol=rtol, atol=atol)

    g = torch.tensor(2.85479781e-146, dtype=torch.float64)
    residual = (g * g).addcmul(g, g, value=-1).item()
    assert -np.finfo(np.float64).tiny < residual < 0
    options = dict(lr=0.0, alpha=0.0, eps=1e-8, centered=True)
    grads = np.full((1, 1), g.item())
    expected, _ = torch_run(lambda ps: torch.optim.RMSprop(ps, **options), {"w": np.zeros(1)}, {"w": grads}, "float64")
    assert np.isnan(expected["w"]).all()
    with jax.enable_x64(True):
        got = _jax_trajectory(optim.RMSprop(**options), np.zeros(1), grads)
    np.testing.assert_array_equal(got, [[0.0]])


_T = np.arange(1, STEPS + 1)


@pytest.mark.parametrize("name,options,grads,torch_w,jaxnn_w", [
    # u = max(0.5 * TINY, |0|) at step 2: torch keeps the subnormal, 0 / u = 0; XLA flushes it, 0 / 0 = nan.
    ("Adamax", dict(lr=0.0, betas=(0.0, 0.5), eps=0.0), [TINY, 0.0, TINY], np.zeros(STEPS), [0.0, np.nan, np.nan]),
    # m = lerp(m, g, 0.5) = g - (g - m) * 0.5: torch's m_t = (1 - 0.5**t) * TINY (subnormal part kept), a step of
    # lr each after bias correction; XLA flushes (g - m) * 0.5, so m = TINY and the step is lr / (1 - 0.5**t).
    ("Adamax", dict(lr=1e-3, betas=(0.5, 0.0), eps=0.0), [TINY] * STEPS, -1e-3 * _T, np.cumsum(-1e-3 / (1 - 0.5**_T))),
    # m = 0.1 * g is subnormal and v = g * g is 0: torch's m / 0 is inf (the parameter stays inf), XLA's 0 / 0 nan.
    ("Adam", dict(lr=1.0, betas=(0.9, 0.0), eps=0.0), [-TINY, -2.0, -2.0], [np.inf] * STEPS, [np.nan] * STEPS),
    ("NAdam", dict(lr=1.0, betas=(0.9, 0.0), eps=0.0, momentum_decay=0.0), [-TINY, -2.0, -2.0], [np.inf] * STEPS,
     [np.nan] * STEPS),
])
def test_subnormal_moment_where_eps_is_0(name, options, grads, torch_w, jaxnn_w):
    """Pinned, documented differences (docs/reliability.md): with eps 0, a moment below the smallest normal number.

    torch keeps it as a subnormal, XLA flushes it to 0; the fuzzers draw no gradients below SUBNORMAL_MOMENT_TOP
    when eps is 0. The smallest normal gradient, TINY, is such a gradient (the deep profile's examples).
    """
    grads = np.asarray(grads)
    expected, _ = torch_run(lambda ps: getattr(torch.optim, name)(ps, **options), {"w": np.array(0.0)}, {"w": grads}, "float64")
    rtol, atol = TOLERANCES["float64"]
    np.testing.assert_allclose(expected["w"], torch_w, rtol=rtol, atol=atol)
    with jax.enable_x64(True):
        got = _jax_trajectory(getattr(optim, name)(**options), np.array(0.0), grads)
    np.testing.assert_allclose(got, jaxnn_w, rtol=rtol, atol=atol)
