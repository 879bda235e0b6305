"""parameters_to_vector / vector_to_parameters, fusion, get_total_norm / clip_grads_with_norm_
against torch.nn.utils."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn
from jaxnn.nn import utils
from tests.nn import randn


def test_parameters_to_vector_and_back_in_torch_order():
    j = jaxnn.Sequential(jaxnn.Linear(3, 2, rngs=nnx.Rngs(0)), jaxnn.Conv1d(2, 2, 2, rngs=nnx.Rngs(1)))
    t = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Conv1d(2, 2, 2))
    jaxnn.load_state_dict(j, t.state_dict())
    vec = utils.parameters_to_vector(j.parameters())
    chex.assert_trees_all_close(vec, torch.nn.utils.parameters_to_vector(t.parameters()).detach().numpy())
    new = np.arange(vec.size, dtype=np.float32)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), t.parameters())
    pieces = utils.vector_to_parameters(new, j.parameters())
    assert isinstance(pieces, list)
    for got, want in zip(pieces, t.parameters()):
        chex.assert_trees_all_close(got, want.detach().numpy())
    tree = nnx.state(j, nnx.Param)
    back = utils.vector_to_parameters(utils.parameters_to_vector(tree), tree)
    chex.assert_trees_all_equal(jax.tree.leaves(back), jax.tree.leaves(tree))
    with pytest.raises(ValueError, match="has 3 elements, the parameters 18"):
        utils.vector_to_parameters(np.ones(3, np.float32), j.parameters())
    with pytest.raises(TypeError, match="1-D"):
        utils.vector_to_parameters(np.ones((18, 1), np.float32), j.parameters())
    with pytest.raises(TypeError, match="single array"):
        utils.parameters_to_vector(jnp.ones(3))


def _trained_bn(bn_j, bn_t, shape):
    """BatchNorm pairs with non-trivial statistics and affine parameters, in eval mode."""
    with torch.no_grad():
        bn_t(torch.from_numpy(randn(*shape, seed=3) * 3 + 1))
        if bn_t.weight is not None:
            bn_t.weight.uniform_(0.5, 2)
            bn_t.bias.uniform_(-1, 1)
    jaxnn.load_state_dict(bn_j, bn_t.state_dict())
    return bn_j.eval(), bn_t.eval()


@pytest.mark.parametrize("transpose,bias,affine", [(False, True, True), (False, False, False), (True, True, True)])
def test_fuse_conv_bn_eval(transpose, bias, affine):
    torch.manual_seed(0)
    if transpose:
        cj, ct = jaxnn.ConvTranspose2d(3, 4, 2, bias=bias, rngs=nnx.Rngs(0)), torch.nn.ConvTranspose2d(3, 4, 2, bias=bias)
    else:
        cj, ct = jaxnn.Conv2d(3, 4, 2, bias=bias, rngs=nnx.Rngs(0)), torch.nn.Conv2d(3, 4, 2, bias=bias)
    jaxnn.load_state_dict(cj, ct.state_dict())
    bj, bt = _trained_bn(jaxnn.BatchNorm2d(4, affine=affine), torch.nn.BatchNorm2d(4, affine=affine), (6, 4, 3, 3))
    fj = utils.fuse_conv_bn_eval(cj.eval(), bj, transpose=transpose)
    ft = torch.nn.utils.fuse_conv_bn_eval(ct.eval(), bt, transpose=transpose)
    assert fj is not cj and list(jaxnn.state_dict(fj)) == list(ft.state_dict()) == ["weight", "bias"]
    chex.assert_trees_all_close(jaxnn.state_dict(fj), {k: v.detach().numpy() for k, v in ft.state_dict().items()}, rtol=1e-5, atol=1e-6)
    x = randn(2, 3, 5, 5)
    chex.assert_trees_all_close(fj(x), bj(cj(x)), rtol=1e-4, atol=1e-5)
    assert (cj.bias is None) == (not bias)


def test_fuse_linear_bn_eval_and_errors():
    torch.manual_seed(0)
    lj, lt = jaxnn.Linear(3, 4, rngs=nnx.Rngs(0)), torch.nn.Linear(3, 4)
    jaxnn.load_state_dict(lj, lt.state_dict())
    bj, bt = _trained_bn(jaxnn.BatchNorm1d(4), torch.nn.BatchNorm1d(4), (8, 4))
    fj = utils.fuse_linear_bn_eval(lj.eval(), bj)
    ft = torch.nn.utils.fuse_linear_bn_eval(lt.eval(), bt)
    chex.assert_trees_all_close(jaxnn.state_dict(fj), {k: v.detach().numpy() for k, v in ft.state_dict().items()}, rtol=1e-5, atol=1e-6)
    w, b = utils.fuse_linear_bn_weights(lj.weight, None, bj.running_mean, bj.running_var, bj.eps, bj.weight, bj.bias)
    assert isinstance(w, jaxnn.Parameter) and b[...].shape == (4,)
    with pytest.raises(ValueError, match="Fusion only for eval"):
        utils.fuse_linear_bn_eval(lj.train(), bj)
    with pytest.raises(ValueError, match="bn.num_features == 1"):
        utils.fuse_linear_bn_eval(lj.eval(), jaxnn.BatchNorm1d(3).eval())
    with pytest.raises(ValueError, match="running_mean"):
        utils.fuse_linear_bn_eval(lj.eval(), jaxnn.BatchNorm1d(4, track_running_stats=False).eval())


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
def test_get_total_norm_and_clip_grads_with_norm(norm_type):
    grads = [randn(3, 4), randn(5, seed=1) * 10, randn(2, 2, seed=2)]
    tgrads = [torch.from_numpy(g.copy()) for g in grads]
    t_total = torch.nn.utils.get_total_norm(tgrads, norm_type)
    total = utils.get_total_norm(grads, norm_type)
    chex.assert_trees_all_close(total, t_total.numpy(), rtol=1e-6)
    chex.assert_trees_all_close(utils.get_total_norm(iter(grads), norm_type), total)
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in tgrads]
    for p, g in zip(params, tgrads):
        p.grad = g
    torch.nn.utils.clip_grads_with_norm_(params, 1.0, t_total)
    clipped = utils.clip_grads_with_norm_(grads, 1.0, total)
    chex.assert_trees_all_close(clipped, [p.grad.numpy() for p in params], rtol=1e-6)
    assert float(utils.get_total_norm([], norm_type)) == 0.0
    assert utils.clip_grads_with_norm_({"a": grads[0]}, 1e9, total)["a"] is not None
