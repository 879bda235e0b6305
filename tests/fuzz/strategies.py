"""Hypothesis strategies shared by the differential fuzz tests.

Shapes include size-0 and size-1 dimensions; values mix ordinary normals with
the places losses go wrong: exact ties (x == y, kinks), zeros, tiny and huge
magnitudes. Arrays are float64: the fuzz tests compare against torch at
float64 tolerance, so a mismatch is a semantic difference, not rounding.
Subnormal floats are never drawn: XLA flushes them to zero on CPU and GPU,
torch does not (see docs/reliability.md), so they would only find that.
"""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e-30, -1e-30, 1e30, -1e30, 0.5, 2.0]


# The CI sample draws shapes from this short list: eager JAX compiles each
# primitive once per shape, so a handful of shapes (size-0, size-1, K-dim among
# them) keeps the fuzzing inside the suite's time budget while the values vary.
# A long run (``--hypothesis-profile=deep``) draws arbitrary shapes instead.
CI_SHAPES = [(), (0,), (1,), (2, 3), (0, 3), (2, 1, 3)]


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    if settings.default.max_examples <= 100:
        return st.sampled_from([s for s in CI_SHAPES if min_dims <= len(s) <= max_dims])
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)


def values(shape, *, special: bool = True, lo: float = -1e3, hi: float = 1e3) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays: uniform-ish finite values, with a share of special values."""
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64)
    if special:
        elements = st.one_of(elements, st.sampled_from([v for v in SPECIAL if lo <= v <= hi]))
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def pair_with_ties(draw, shape) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one shape where a drawn subset of y equals x exactly (the kinks of |x - y|)."""
    x = draw(values(shape))
    y = draw(values(shape))
    tie = draw(hnp.arrays(np.bool_, shape))
    return x, np.where(tie, x, y)


# Dyadic values: differences of two of them are exact in float64, so `x - y`
# lands exactly on a kink (0, +-delta, +-beta) when the strategy puts it there.
DYADIC = st.integers(-64, 64).map(lambda k: k / 8.0)


@st.composite
def pair_at_kinks(draw, shape, kinks) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with ``x - y`` exactly at one of ``kinks`` (and 0) for a drawn subset of elements."""
    x = draw(hnp.arrays(np.float64, shape, elements=st.one_of(DYADIC, st.floats(-1e3, 1e3, allow_subnormal=False, width=64))))
    y = draw(values(shape))
    offsets = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, *kinks, *(-k for k in kinks)])))
    on_kink = draw(hnp.arrays(np.bool_, shape))
    dyadic_x = draw(hnp.arrays(np.float64, shape, elements=DYADIC))
    x = np.where(on_kink, dyadic_x, x)
    return x, np.where(on_kink, x - offsets, y)


def positive(shape, *, lo: float = 0.0, hi: float = 1e3, tiny: bool = True) -> st.SearchStrategy[np.ndarray]:
    """Non-negative float64 arrays with exact zeros and (optionally) tiny values among them."""
    specials = [0.0, 1.0, 0.5, 2.0] + ([1e-300, 1e-12, 1e-7] if tiny else [])
    elements = st.one_of(
        st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64),
        st.sampled_from([v for v in specials if lo <= v <= hi]),
    )
    return hnp.arrays(np.float64, shape, elements=elements)


def broadcast_partner(shape) -> st.SearchStrategy[tuple[int, ...]]:
    """A shape that broadcasts with ``shape``: itself, or some of its dims set to 1."""
    return hnp.arrays(np.bool_, (len(shape),)).map(
        lambda ones: tuple(1 if o else s for o, s in zip(ones, shape))
    )
