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
    return dict(lr=draw(RATE), alpha=draw(BETA), eps=draw(EPS), weight_decay=draw(DECAY),
                momentum=draw(st.sampled_from([0.0, 0.5])), centered=draw(st.booleans()), maximize=draw(st.booleans()))


@st.composite
def adagrad(draw):
    return dict(lr=draw(RATE), lr_decay=draw(DECAY), weight_decay=draw(DECAY),
                initial_accumulator_value=draw(st.sampled_from([0.0, 0.1])), eps=draw(st.sampled_from([1e-10, 1e-3])),
                maximize=draw(st.booleans()))


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
}


@st.composite
def problem(draw):
    shape = draw(S.shapes())
    params = draw(S.values(shape, lo=-10.0, hi=10.0))
    grads = draw(S.values((STEPS, *shape), lo=-1e3, hi=1e3))
    return params, grads


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
    @given(CASES[name], problem())
    def check(options, case):
        params, grads = case
        expected, _ = torch_run(lambda ps: getattr(torch.optim, name)(ps, **options), {"w": params}, {"w": grads}, "float64")
        with jax.enable_x64(True):
            got = _jax_trajectory(getattr(optim, name)(**options), params, grads)
        rtol, atol = TOLERANCES["float64"]
        np.testing.assert_allclose(got, expected["w"], rtol=rtol, atol=atol, err_msg=f"{name}({options})")

    check()
