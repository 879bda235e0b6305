"""Hypothesis strategies shared by the differential fuzz tests.

Shapes include size-0 and size-1 dimensions; values mix ordinary normals with
the places losses go wrong: exact ties (x == y, kinks), zeros, tiny and huge
magnitudes. Arrays are float64: the fuzz tests compare against torch at
float64 tolerance, so a mismatch is a semantic difference, not rounding.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e-30, -1e-30, 1e30, -1e30, 0.5, 2.0]


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)


def values(shape, *, special: bool = True, lo: float = -1e3, hi: float = 1e3) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays: uniform-ish finite values, with a share of special values."""
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
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
