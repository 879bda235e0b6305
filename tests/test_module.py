"""jaxnn.Parameter / jaxnn.Module on Flax NNX: the torch documentation example, written in JAX style."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxnn


class MyModel(jaxnn.Module):
    def __init__(self, *, rngs):
        self.weight = jaxnn.Parameter(jax.random.normal(rngs.params(), (3, 3)))
        self.bias = jaxnn.Parameter(jax.random.normal(rngs.params(), (3,)))
        self.frozen = jaxnn.Parameter(jnp.ones(3), requires_grad=False)
        self.steps = jaxnn.Buffer(jnp.zeros((), jnp.int32))

    def __call__(self, x):
        return x @ self.weight + self.bias


class Outer(jaxnn.Module):
    def __init__(self, *, rngs):
        self.inner = MyModel(rngs=rngs)
        self.head = jaxnn.Parameter(jnp.zeros(3))


def test_parameter_is_an_nnx_param():
    p = jaxnn.Parameter(jnp.ones(2))
    assert isinstance(p, nnx.Param)
    chex.assert_trees_all_equal(p[...], jnp.ones(2))


def test_requires_grad_false_is_not_a_param():
    p = jaxnn.Parameter(jnp.ones(2), requires_grad=False)
    assert isinstance(p, jaxnn.FrozenParameter)
    assert not isinstance(p, nnx.Param)


def test_parameter_accepts_torch_tensor():
    torch = pytest.importorskip("torch")
    p = jaxnn.Parameter(torch.arange(3.0))
    chex.assert_trees_all_equal(p[...], jnp.arange(3.0))


def test_split_gives_exactly_the_learnable_leaves():
    model = MyModel(rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    assert {k for k, _ in nnx.to_flat_state(params)} == {("bias",), ("weight",)}
    assert {k for k, _ in nnx.to_flat_state(rest)} == {("frozen",), ("steps",)}
    chex.assert_shape(jax.tree.leaves(params), [(3,), (3, 3)])


def test_grad_over_parameter_pytree_and_merge():
    model = MyModel(rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    x = jnp.arange(6.0).reshape(2, 3)

    def loss(p):
        return jnp.sum(nnx.merge(graphdef, p, rest)(x) ** 2)

    grads = jax.grad(loss)(params)
    w, b = model.weight[...], model.bias[...]
    y = x @ w + b
    # d/dW sum((xW + b)^2) = 2 x^T (xW + b); d/db = 2 sum_rows(xW + b)
    chex.assert_trees_all_close(grads["weight"][...], 2 * x.T @ y, rtol=1e-6)
    chex.assert_trees_all_close(grads["bias"][...], 2 * y.sum(0), rtol=1e-6)
    merged = nnx.merge(graphdef, params, rest)
    chex.assert_trees_all_equal(merged(x), model(x))


def test_train_eval_flags_recursively_and_returns_self():
    model = Outer(rngs=nnx.Rngs(0))
    assert model.training and model.inner.training
    assert model.eval() is model
    assert not model.training and not model.inner.training
    model.train()
    assert model.training and model.inner.training
    model.train(False)
    assert not model.inner.training


# torch's module methods, each checked against torch running the same model.

torch = pytest.importorskip("torch")


def _pair():
    """The same nested model in jaxnn and torch: a shared Linear, a container, a BatchNorm."""

    class J(jaxnn.Module):
        def __init__(self):
            self.conv = jaxnn.Conv2d(2, 3, 3, padding=1, rngs=nnx.Rngs(0))
            self.body = jaxnn.Sequential(jaxnn.Linear(3, 4, rngs=nnx.Rngs(1)), jaxnn.ReLU(), jaxnn.BatchNorm1d(4))
            self.heads = jaxnn.ModuleList([jaxnn.Linear(4, 2, rngs=nnx.Rngs(2)) for _ in range(2)])
            self.tied = self.body[0]

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
            self.body = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.BatchNorm1d(4))
            self.heads = torch.nn.ModuleList([torch.nn.Linear(4, 2) for _ in range(2)])
            self.tied = self.body[0]

    J.__name__ = T.__name__ = "Net"
    return J(), T()


def test_iterators_name_what_torch_names():
    j, t = _pair()
    assert [n for n, _ in j.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in j.named_modules(remove_duplicate=False)] == [
        n for n, _ in t.named_modules(remove_duplicate=False)
    ]
    assert [n for n, _ in j.named_children()] == [n for n, _ in t.named_children()]
    assert [type(m).__name__ for m in j.modules()] == [type(m).__name__ for m in t.modules()]
    assert [type(m).__name__ for m in j.children()] == [type(m).__name__ for m in t.children()]
    assert [n for n, _ in j.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in j.named_parameters(remove_duplicate=False)] == [
        n for n, _ in t.named_parameters(remove_duplicate=False)
    ]
    assert [n for n, _ in j.body[2].named_parameters(recurse=False)] == ["weight", "bias"]
    assert [n for n, _ in j.named_parameters(recurse=False)] == []
    assert [n for n, _ in j.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in j.named_buffers(prefix="m")] == [n for n, _ in t.named_buffers(prefix="m")]
    assert [b.shape for b in j.buffers()] == [tuple(b.shape) for b in t.buffers()]
    assert j.get_submodule("body.2") is j.body[2] and j.get_submodule("") is j
    assert j.get_parameter("heads.1.bias") is j.heads[1].bias
    assert j.get_buffer("body.2.running_var") is j.body[2].running_var


def test_apply_visits_children_first_then_self_and_can_reinitialise():
    j, t = _pair()
    seen_j, seen_t = [], []
    assert j.apply(lambda m: seen_j.append(type(m).__name__)) is j
    t.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen_j == seen_t

    def init(m):
        if isinstance(m, jaxnn.Linear):
            m.weight[...] = jnp.full_like(m.weight[...], 0.5)

    j.apply(init)
    assert float(j.heads[0].weight[...].mean()) == 0.5 and float(j.tied.weight[...].min()) == 0.5


def test_repr_equals_torchs():
    j, t = _pair()
    assert repr(j) == repr(t)
    assert str(jaxnn.Linear(3, 4, bias=False, rngs=nnx.Rngs(0))) == "Linear(in_features=3, out_features=4, bias=False)"
    conv = dict(stride=2, padding=(1, 0), dilation=2, groups=2, bias=False, padding_mode="reflect")
    assert repr(jaxnn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, rngs=nnx.Rngs(0))) == repr(
        torch.nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1)
    )
    assert repr(jaxnn.Conv2d(4, 2, 3, rngs=nnx.Rngs(0), **conv)) == repr(torch.nn.Conv2d(4, 2, 3, **conv))
    for layer in ("LayerNorm", "GroupNorm", "Flatten"):
        args = {"LayerNorm": (5,), "GroupNorm": (2, 4), "Flatten": ()}[layer]
        assert repr(getattr(jaxnn, layer)(*args)) == repr(getattr(torch.nn, layer)(*args))
    assert repr(jaxnn.Unflatten(1, (2, 3))) == repr(torch.nn.Unflatten(1, (2, 3)))
    assert repr(jaxnn.Bilinear(2, 3, 4, rngs=nnx.Rngs(0))) == repr(torch.nn.Bilinear(2, 3, 4))
    assert repr(jaxnn.BatchNorm2d(3, momentum=None, affine=False)) == repr(
        torch.nn.BatchNorm2d(3, momentum=None, affine=False)
    )


def test_methods_keep_nnx_working():
    j, _ = _pair()
    x = np.ones((2, 3), np.float32)
    graphdef, params, rest = nnx.split(j, nnx.Param, ...)
    merged = nnx.merge(graphdef, params, rest)
    assert [n for n, _ in merged.named_modules()] == [n for n, _ in j.named_modules()]
    out = nnx.jit(lambda m, x: m.body(x))(j.eval(), x)
    chex.assert_trees_all_close(out, j.body(x))


def test_register_methods_and_their_errors():
    m = jaxnn.Module()
    m.register_buffer("steps", jnp.zeros((), jnp.int32))
    m.register_buffer("cache", jnp.ones(2), persistent=False)
    m.register_parameter("w", jaxnn.Parameter(jnp.ones(3)))
    m.register_parameter("nothing", None)
    m.add_module("lin", jaxnn.Linear(3, 1, rngs=nnx.Rngs(0)))
    m.register_module("empty", None)
    t = torch.nn.Module()
    t.register_buffer("steps", torch.zeros((), dtype=torch.int32))
    t.register_buffer("cache", torch.ones(2), persistent=False)
    t.register_parameter("w", torch.nn.Parameter(torch.ones(3)))
    t.register_parameter("nothing", None)
    t.add_module("lin", torch.nn.Linear(3, 1))
    assert list(jaxnn.state_dict(m)) == list(t.state_dict()) == ["w", "steps", "lin.weight", "lin.bias"]
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()] == ["steps", "cache"]
    m.load_state_dict({k: v for k, v in t.state_dict().items()})
    with pytest.raises(KeyError, match='contain "."'):
        m.register_buffer("a.b", jnp.ones(1))
    with pytest.raises(KeyError, match="empty string"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("w", jnp.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.add_module("steps", jaxnn.ReLU())
    with pytest.raises(TypeError, match="jaxnn.Parameter or None"):
        m.register_parameter("v", jnp.ones(2))
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("f", jnp.ones(2))
    with pytest.raises(TypeError, match="string"):
        m.register_buffer(3, jnp.ones(1))
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        m.get_submodule("lin.nope")
    with pytest.raises(AttributeError, match="is not an nn.Module"):
        m.get_submodule("lin.weight")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        m.get_parameter("steps")
    with pytest.raises(AttributeError, match="is not a buffer"):
        m.get_buffer("w")


def test_requires_grad_moves_parameters_out_of_the_trainable_set():
    j, _ = _pair()
    n_all = len(jax.tree.leaves(nnx.state(j, nnx.Param)))
    keys = list(jaxnn.state_dict(j))
    assert j.body.requires_grad_(False) is j.body
    assert isinstance(j.tied.weight, jaxnn.FrozenParameter) and j.tied.weight is j.body[0].weight
    assert len(jax.tree.leaves(nnx.state(j, nnx.Param))) == n_all - 4
    assert list(jaxnn.state_dict(j)) == keys and jaxnn.num_parameters(j, trainable_only=True) == 2 * 3 * 9 + 3 + 2 * 10
    x = np.ones((2, 3), np.float32)
    graphdef, params, rest = nnx.split(j, nnx.Param, ...)
    def loss(p):
        model = nnx.merge(graphdef, p, rest, copy=True)
        return jnp.sum(model.heads[0](model.body(x)))

    grads = jax.grad(loss)(params)
    assert "body" not in grads
    j.requires_grad_()
    assert isinstance(j.body[0].weight, jaxnn.Parameter) and len(jax.tree.leaves(nnx.state(j, nnx.Param))) == n_all
    assert j.zero_grad() is None


def test_to_casts_floating_state_and_keeps_integers(x64):
    j, t = _pair()
    for method, dtype in (("half", "float16"), ("bfloat16", "bfloat16"), ("double", "float64"), ("float", "float32")):
        assert getattr(j, method)() is j
        assert getattr(t, method)() is t
        got = {k: str(v.dtype) for k, v in jaxnn.state_dict(j).items()}
        want = {k: str(v.dtype).replace("torch.", "") for k, v in t.state_dict().items()}
        assert got == {k: v.replace("int64", got[k]) if v == "int64" else v for k, v in want.items()}, method
        assert all(v == dtype for k, v in got.items() if "num_batches" not in k)
    j.to(torch.float64)
    assert j.conv.weight[...].dtype == jnp.float64
    j.to("cpu", dtype=jnp.float16)
    assert j.conv.weight[...].dtype == jnp.float16 and j.body[2].num_batches_tracked[...].dtype == jnp.int64
    j.to(np.ones(1, np.float32))
    assert j.conv.weight[...].dtype == jnp.float32
    assert j.to("cuda:0") is j and j.to(jax.devices()[0]) is j
    with pytest.raises(TypeError, match="floating point or complex"):
        j.to(jnp.int32)
    # a device given as dtype= is refused, as torch does, not read as jnp.dtype(None) == float64
    with pytest.raises(TypeError, match="expects a dtype"):
        j.to(dtype="cpu")
    assert j.conv.weight[...].dtype == jnp.float32


def test_double_without_x64_refuses_instead_of_staying_float32():
    with pytest.raises(ValueError, match="jax_enable_x64"):
        jaxnn.Linear(2, 2, rngs=nnx.Rngs(0)).double()
