"""grouped_mm against torch's CPU kernel (bfloat16 forward: torch's only dtype with a
CPU path that also needs 16-byte strides) and against per-group products (float32,
values and gradients: torch 2.13's CPU backward of grouped_mm fails)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jaxnn.functional as F

OFFS = np.array([8, 8, 24, 30], np.int32)  # an empty group, and 10 rows past the last offset


def _bf16(shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(torch.bfloat16)


def _as_jax(t):
    return jnp.asarray(t.float().numpy(), jnp.bfloat16)


@pytest.mark.parametrize(
    "shapes,offs",
    [(((40, 16), (4, 16, 8)), OFFS), (((4, 8, 16), (16, 40)), OFFS), (((16, 40), (40, 8)), OFFS),
     (((3, 8, 16), (3, 16, 8)), None)],
    ids=["2d-3d", "3d-2d", "2d-2d", "3d-3d"],
)
def test_forward_equals_torch_bfloat16(shapes, offs):
    a, b = _bf16(shapes[0], 0), _bf16(shapes[1], 1)
    t_offs = None if offs is None else torch.tensor(offs)
    expected = TF.grouped_mm(a, b, offs=t_offs).float().numpy()
    got = np.asarray(F.grouped_mm(_as_jax(a), _as_jax(b), offs=offs), np.float32)
    assert got.dtype == np.float32 and F.grouped_mm(_as_jax(a), _as_jax(b), offs=offs).dtype == jnp.bfloat16
    if shapes[0] == (40, 16):  # torch leaves the rows past offs[-1] uninitialised; jaxnn gives 0
        np.testing.assert_array_equal(got[30:], 0)
        got, expected = got[:30], expected[:30]
    if shapes[0] == (4, 8, 16):
        np.testing.assert_array_equal(got[:, 30:], 0)
        got, expected = got[:, :30], expected[:, :30]
    np.testing.assert_allclose(got, expected, rtol=1e-2, atol=1e-2)


def _reference(a, b, offs):
    """Per-group products written out, the formula grouped_mm states."""
    starts = np.concatenate([[0], offs[:-1]])
    if a.ndim == 2 and b.ndim == 3:
        rows = [a[s:e] @ b[g] for g, (s, e) in enumerate(zip(starts, offs))]
        return jnp.concatenate(rows + [jnp.zeros((a.shape[0] - offs[-1], b.shape[-1]))])
    if a.ndim == 3 and b.ndim == 2:
        cols = [a[g] @ b[:, s:e] for g, (s, e) in enumerate(zip(starts, offs))]
        return jnp.concatenate(cols + [jnp.zeros((a.shape[1], b.shape[1] - offs[-1]))], axis=1)
    return jnp.stack([a[:, s:e] @ b[s:e] for s, e in zip(starts, offs)])


@pytest.mark.parametrize("shapes", [((40, 6), (4, 6, 5)), ((4, 3, 6), (6, 40)), ((6, 40), (40, 5))], ids=str)
def test_values_and_gradients_equal_per_group_products(shapes):
    rng = np.random.default_rng(0)
    a, b = (jnp.asarray(rng.standard_normal(s), jnp.float32) for s in shapes)
    ct = jnp.asarray(rng.standard_normal(F.grouped_mm(a, b, offs=OFFS).shape), jnp.float32)
    got, vjp = jax.vjp(lambda x, y: F.grouped_mm(x, y, offs=OFFS), a, b)
    expected, ref_vjp = jax.vjp(lambda x, y: _reference(x, y, OFFS), a, b)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    for g, e in zip(vjp(ct), ref_vjp(ct)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "a,b,kwargs,match",
    [((40, 16), (4, 16, 8), {}, "have to provide offsets"),
     ((3, 8, 16), (3, 16, 8), {"offs": OFFS}, "no offset if both"),
     ((40, 16), (4, 16, 8), {"offs": OFFS.astype(np.int64)}, "int32"),
     ((2, 8, 16), (3, 16, 8), {}, "batch sizes"),
     ((40, 15), (4, 16, 8), {"offs": OFFS}, "contraction dimension"),
     ((40, 16), (4, 16, 8), {"offs": OFFS, "out_dtype": jnp.float32}, "out_dtype")],
)
def test_bad_input_raises_as_torch(a, b, kwargs, match):
    with jax.enable_x64(True):
        with pytest.raises(ValueError, match=match):
            F.grouped_mm(jnp.ones(a, jnp.bfloat16), jnp.ones(b, jnp.bfloat16), **kwargs)
    with pytest.raises(NotImplementedError, match="bias"):
        F.grouped_mm(jnp.ones((40, 16)), jnp.ones((4, 16, 8)), offs=OFFS, bias=jnp.ones(8))
