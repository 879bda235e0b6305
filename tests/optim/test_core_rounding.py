"""The exact-rounding helpers of jaxnn.optim._core against exact rational arithmetic and torch's CPU kernels."""

from __future__ import annotations

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxnn.optim._core import add_scaled, fma, two_product

N = 200


def _nearest(x: Fraction, dtype) -> float:
    """x rounded to the nearest value of dtype, ties to even (exact: Python's float(Fraction) for float64)."""
    if dtype == np.float64:
        return float(x)
    f = np.float32(float(x))
    near = [np.nextafter(f, np.float32(-np.inf)), f, np.nextafter(f, np.float32(np.inf))]
    return min(near, key=lambda v: (abs(Fraction(float(v)) - x), int(np.asarray(v).view(np.uint32)) & 1))


def _operands(dtype):
    """Random a, b, c (cancellation among them), plus cases where a * b + c lies a hair off a midpoint of c's ulp.

    The latter round wrongly as th + (tl + ul) (two roundings): they need the rounding to odd.
    """
    rng = np.random.default_rng(0)
    nmant = np.finfo(dtype).nmant
    a = rng.normal(size=N) * np.exp2(rng.integers(-20, 20, N))
    b = rng.normal(size=N) * np.exp2(rng.integers(-20, 20, N))
    c = np.where(rng.random(N) < 0.5, rng.normal(size=N) * np.exp2(rng.integers(-40, 40, N)), -(a * b).astype(dtype))
    c2 = (rng.normal(size=N) * np.exp2(rng.integers(-10, 10, N))).astype(dtype)
    i = rng.integers(1, 30, N).astype(float)
    half = np.spacing(np.abs(c2)).astype(float) / 2 * rng.choice([-1, 1], N)
    a2, b2 = half * (1 + i * 2.0**-nmant), 1 - (2 * i - rng.integers(0, 2, N)) * 2.0 ** -(nmant + 1)
    return tuple(np.concatenate([x, y]).astype(dtype) for x, y in ((a, a2), (b, b2), (c, c2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_fma_rounds_once(dtype, jit):
    a, b, c = _operands(dtype)
    exact = np.array([_nearest(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)), dtype) for x, y, z in zip(a, b, c)], dtype)
    with jax.enable_x64(dtype == np.float64):
        f = jax.jit(fma) if jit else fma
        got = np.asarray(f(jnp.asarray(a), jnp.asarray(b), jnp.asarray(c)))
    assert (a * b + c != exact).sum() > N // 2  # the cases do tell one rounding from two
    np.testing.assert_array_equal(got, exact)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_product_is_exact(dtype):
    a, b, _ = _operands(dtype)
    with jax.enable_x64(dtype == np.float64):
        p, e = (np.asarray(x) for x in two_product(jnp.asarray(a), jnp.asarray(b)))
    for x, y, hi, lo in zip(a, b, p, e):
        assert Fraction(float(hi)) + Fraction(float(lo)) == Fraction(float(x)) * Fraction(float(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_add_scaled_is_torchs_add_with_alpha(dtype):
    """torch's CPU kernel fuses grad.add(param, alpha=wd) for float32/64 (one rounding), not for complex."""
    rng = np.random.default_rng(1)
    g = rng.normal(size=N) * np.exp2(rng.integers(-20, 20, N))
    p = rng.normal(size=N) * np.exp2(rng.integers(-20, 20, N))
    if dtype == np.complex128:
        g, p = g + 1j * rng.normal(size=N), p - 2j * rng.normal(size=N)
    g, p = g.astype(dtype), p.astype(dtype)
    for wd in (0.01, 0.3):
        expected = torch.tensor(g).add(torch.tensor(p), alpha=wd).numpy()
        with jax.enable_x64(dtype != np.float32):
            got = np.asarray(add_scaled(jnp.asarray(g), jnp.asarray(p), wd))
        np.testing.assert_array_equal(got, expected)
