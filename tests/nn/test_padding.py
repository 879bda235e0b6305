"""Padding layers against torch: every class, its ``padding`` expansion, values and input
gradients, unbatched input, empty state_dict, and CircularPad's rank check."""

import numpy as np
import pytest
import torch

import jaxnn
from tests.nn import as_dtype, assert_layer_parity, randn

CASES = [
    ("ZeroPad1d", (2,), {}, (2, 3, 4)),
    ("ZeroPad2d", ((1, 0, 2, -1),), {}, (3, 4, 5)),
    ("ZeroPad3d", (1,), {}, (1, 2, 2, 3, 2)),
    ("ConstantPad1d", ((1, 3), 2.5), {}, (3, 4)),
    ("ConstantPad2d", (1, -0.5), {}, (2, 2, 3, 3)),
    ("ConstantPad3d", ((1, 0, 0, 2, 1, 1),), {"value": 1.5}, (2, 2, 2, 3)),
    ("ReflectionPad1d", ((3, 1),), {}, (2, 3, 4)),
    ("ReflectionPad2d", (2,), {}, (2, 3, 4)),
    ("ReflectionPad3d", ((1, 2, 0, 1, 1, -1),), {}, (1, 2, 3, 3, 4)),
    ("ReplicationPad1d", ((4, -1),), {}, (3, 4)),
    ("ReplicationPad2d", ((1, 2, 3, 0),), {}, (2, 2, 3, 4)),
    ("ReplicationPad3d", (1,), {}, (2, 2, 3, 2)),
    ("CircularPad1d", ((2, 1),), {}, (2, 3, 4)),
    ("CircularPad2d", ((1, 1, 2, -1),), {}, (2, 3, 4)),
    ("CircularPad3d", (1,), {}, (1, 2, 2, 3, 3)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", CASES, ids=[c[0] for c in CASES])
def test_layer_parity(name, args, kwargs, shape, float_dtype):
    j, t = getattr(jaxnn, name)(*args, **kwargs), as_dtype(getattr(torch.nn, name)(*args, **kwargs), float_dtype)
    assert j.padding == t.padding
    assert jaxnn.state_dict(j) == {}
    assert_layer_parity(j, t, (randn(*shape, dtype=float_dtype),))


@pytest.mark.parametrize("name,shape", [("CircularPad1d", (4,)), ("CircularPad2d", (1, 1, 1, 3, 3)), ("CircularPad3d", (3, 3, 3))])
def test_circular_pad_rank_is_checked(name, shape):
    with pytest.raises(ValueError, match="expected"):
        getattr(torch.nn, name)(1)(torch.zeros(shape))
    with pytest.raises(ValueError, match="expected"):
        getattr(jaxnn, name)(1)(np.zeros(shape, np.float32))


def test_padding_tuple_length_is_checked():
    with pytest.raises(ValueError, match="padding"):
        jaxnn.ReflectionPad2d((1, 2, 3))
