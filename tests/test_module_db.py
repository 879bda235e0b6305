"""torch's own module test database against jaxnn (issue #24).

PyTorch ships its module tests as data:
``torch.testing._internal.common_modules.module_db`` holds a ``ModuleInfo`` per
module whose ``module_inputs_func`` generates the constructor and forward inputs
torch's own CI runs (edge cases included). Every module of that database that
jaxnn has (a class of the same name in ``jaxnn``) is held here to each of those
cases, in float64, in train and eval mode: the output, the gradient of a fixed
cotangent w.r.t. every floating input and every parameter, and the state_dict
after the forward (running statistics), all against torch. A module that lands
in jaxnn is held to torch's cases the moment it is exported.

Modules whose train and eval forward agree (torch's ``train_and_eval_differ``
flag is False) run once, in train mode; modules whose training forward is
random are compared in eval mode only (:data:`RANDOM_IN_TRAINING`). torch's own CPU skips of ``test_forward`` are
honoured; its skips of ``test_grad`` are about numerical gradchecks (finite
differences), not about the autograd gradient compared here, so they are not.
Cases excluded for another reason are listed in :data:`EXCLUDED` with the reason
(docs/reliability.md repeats the list). A module with more than
:data:`MAX_CASES_PER_MODE` cases runs a pairwise-covering subset of them; ``JAXNN_MODULE_DB=rest`` runs the
others (``.ci/run`` does, after the README's command) and ``JAXNN_MODULE_DB=all`` every case. No jit: torch's
inputs are small and each case runs once.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jaxnn

pytest.importorskip("expecttest")  # common_modules imports it; the test extra installs it
from torch.testing._internal.common_modules import module_db  # noqa: E402

RTOL, ATOL = 1e-7, 1e-9  # float64: both sides compute the same formula to a few ulps

# Random in training: torch's draws cannot be reproduced, so these run in eval mode.
RANDOM_IN_TRAINING = {
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "RReLU", "FractionalMaxPool2d", "FractionalMaxPool3d",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "TransformerEncoder", "TransformerDecoder", "Transformer", "RNN", "LSTM", "GRU",
}

# (module name, case description) -> why the case is not compared.
EXCLUDED: dict[tuple[str, str], str] = {}


_OTHER_DEVICES = ("MPS", "Mps", "CUDA", "Cuda", "XPU", "Xpu", "HPU", "Hpu", "ROCM", "Rocm", "Meta")


def _is_cpu_skip(decorator) -> bool:
    """A skip that applies on CPU: ``unittest.skip`` (named 'decorator') or a torch
    ``skip*`` helper not tied to another device (skipMPS, skipIfXpu... are not)."""
    name = getattr(decorator, "__name__", "")
    return (name == "decorator" or name.lower().startswith("skip")) and not any(d in name for d in _OTHER_DEVICES)


def _skipped_forward(info, training: bool) -> bool:
    return any(
        info_.is_active("TestModule", "test_forward", "cpu", torch.float64, {"training": training})
        and any(_is_cpu_skip(d) for d in info_.decorators)
        for info_ in info.decorators
    )


# A module whose generator yields more cases than this in one mode (LinearCrossEntropyLoss:
# 857, a full product of its options; the transformer and recurrent families: 16 to 67)
# runs a pairwise-covering subset: every pair of (option or input shape, value) settings
# that occurs in its cases occurs in a selected case. JAXNN_MODULE_DB=all runs every case;
# JAXNN_MODULE_DB=rest runs only the cases the subset leaves out, so that .ci/run, which runs
# the README's test command and then this file with "rest", holds jaxnn to every case once
# while the README's command stays within its time budget.
MAX_CASES_PER_MODE = 12
SELECTION = os.environ.get("JAXNN_MODULE_DB", "subset")
if SELECTION not in ("subset", "all", "rest"):
    raise ValueError(f"JAXNN_MODULE_DB must be 'subset', 'all' or 'rest', got {SELECTION!r}")


def _selected(inputs) -> list[int]:
    """The case indices this run compares, per :data:`SELECTION`."""
    everything = list(range(len(inputs)))
    if SELECTION == "all" or len(inputs) <= MAX_CASES_PER_MODE:
        return everything if SELECTION != "rest" else []
    subset = _pairwise_cover(inputs)
    return subset if SELECTION == "subset" else sorted(set(everything) - set(subset))


def _features(module_input) -> tuple:
    """What distinguishes one generated case: constructor options and input shapes."""
    def key(v):
        if isinstance(v, torch.Tensor):
            return ("tensor", tuple(v.shape), str(v.dtype))
        return repr(v)[:60]

    constructor, forward = module_input.constructor_input, module_input.forward_input
    feats = [("arg", i, key(v)) for i, v in enumerate(constructor.args)]
    feats += [("kw", k, key(v)) for k, v in sorted(constructor.kwargs.items())]
    feats += [("input", i, key(v)) for i, v in enumerate(forward.args)]
    feats += [("input", k, key(v)) for k, v in sorted(forward.kwargs.items())]
    return tuple(feats)


def _pairwise_cover(inputs) -> list[int]:
    """Indices of a greedy subset of ``inputs`` covering every pair of features that occurs."""
    pairs = [
        {(a, b) for i, a in enumerate(f) for b in f[i + 1:]} | {(a,) for a in f}
        for f in map(_features, inputs)
    ]
    uncovered = set().union(*pairs)
    chosen = []
    while uncovered:
        best = max(range(len(pairs)), key=lambda i: len(pairs[i] & uncovered))
        chosen.append(best)
        uncovered -= pairs[best]
    return sorted(chosen)


def _cases():
    for info in module_db:
        name = info.module_cls.__name__
        if not inspect.isclass(getattr(jaxnn, name, None)):
            continue
        # torch's own flag: modules whose train and eval forward agree run once (train)
        modes = (True, False) if info.train_and_eval_differ else (True,)
        if name in RANDOM_IN_TRAINING:
            modes = (False,)
        for training in modes:
            torch.manual_seed(0)
            inputs = info.module_inputs_func(
                info, device="cpu", dtype=torch.float64, requires_grad=True, training=training
            )
            for index in _selected(inputs):
                module_input = inputs[index]
                desc = module_input.desc or "default"
                marks = []
                if (name, desc) in EXCLUDED:
                    marks.append(pytest.mark.skip(reason=EXCLUDED[(name, desc)]))
                elif _skipped_forward(info, training):
                    marks.append(pytest.mark.skip(reason="torch's module_db skips test_forward on CPU"))
                case_id = f"{name}-{'train' if training else 'eval'}-{index}-{desc}"
                yield pytest.param(info, training, index, id=case_id, marks=marks)


CASES = list(_cases())


def test_the_database_covers_jaxnn_modules():
    # guards the discovery: the count is printed in the summary as parametrised cases
    if SELECTION == "subset":
        assert len({p.values[0].module_cls.__name__ for p in CASES}) >= 50
        assert len(CASES) >= 600
    else:
        assert len(CASES) >= (1800 if SELECTION == "all" else 1200)


def test_pairwise_cover_covers_every_pair():
    info = next(i for i in module_db if i.module_cls.__name__ == "LinearCrossEntropyLoss")
    inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True, training=True)
    chosen = _pairwise_cover(inputs)
    assert len(chosen) < len(inputs)
    feats = [_features(m) for m in inputs]
    want = {(a, b) for f in feats for i, a in enumerate(f) for b in f[i + 1:]}
    got = {(a, b) for c in chosen for i, a in enumerate(feats[c]) for b in feats[c][i + 1:]}
    assert want == got


def _to_jax(value: Any) -> Any:
    """torch's constructor/forward values as jaxnn takes them: tensors as arrays, dtypes
    as JAX dtypes, torch.nn.functional callables and option dataclasses as jaxnn's."""
    if isinstance(value, torch.Tensor):
        return jnp.asarray(value.detach().numpy())
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and hasattr(jaxnn, type(value).__name__):
        fields = {f.name: _to_jax(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return getattr(jaxnn, type(value).__name__)(**fields)
    if callable(value) and getattr(value, "__module__", "") in ("torch.nn.functional", "torch._C._nn"):
        return getattr(jaxnn.functional, value.__name__)
    if isinstance(value, torch.nn.Module):
        return jaxnn.from_torch(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_jax(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_jax(v) for k, v in value.items()}
    if isinstance(value, torch.dtype):
        return jnp.dtype(str(value).removeprefix("torch."))
    return value


def _constructor_kwargs(cls, kwargs: dict) -> dict:
    kwargs = {k: _to_jax(v) for k, v in kwargs.items() if k != "device"}
    params = inspect.signature(cls.__init__).parameters
    if "rngs" in params:
        kwargs["rngs"] = nnx.Rngs(0)
    if "dtype" in params and "dtype" not in kwargs:
        kwargs["dtype"] = jnp.float64
    return kwargs


def _leaves(tree: Any) -> list:
    """Tensors/arrays of a tree of tuples, lists and dicts, in order (None dropped)."""
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    if isinstance(tree, dict):
        return [leaf for item in tree.values() for leaf in _leaves(item)]
    return [] if tree is None else [tree]


def _float_leaf(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.is_floating_point()


def _rebuild(template: Any, values: list) -> Any:
    """``template`` (a tree of torch inputs) as JAX values, its floating tensors taken
    from ``values`` in order (so they can be differentiated)."""
    it = iter(values)

    def walk(v):
        if _float_leaf(v):
            return next(it)
        if isinstance(v, (tuple, list)):
            return type(v)(walk(x) for x in v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return _to_jax(v)

    return walk(template)


def _torch_side(module, inputs, cotangent_seed: int):
    """torch's outputs, the cotangents used, and the gradients w.r.t. the floating
    inputs that require grad (None for the others) and every parameter."""
    args, kwargs = inputs
    outs = _leaves(module(*args, **kwargs))
    float_outs = [o for o in outs if _float_leaf(o) and o.requires_grad]
    rng = np.random.default_rng(cotangent_seed)
    cts = [torch.tensor(rng.standard_normal(tuple(o.shape))) for o in float_outs]
    xs = [x for x in _leaves(inputs) if _float_leaf(x)]
    wrt = [x for x in xs if x.requires_grad]
    params = dict(module.named_parameters())
    grads = [None] * (len(wrt) + len(params))
    if float_outs and wrt + list(params.values()):
        grads = torch.autograd.grad(float_outs, wrt + list(params.values()), cts, allow_unused=True)
    by_input = iter(grads[: len(wrt)])
    input_grads = [next(by_input) if x.requires_grad else None for x in xs]
    return outs, cts, input_grads, dict(zip(params, grads[len(wrt):]))


def _close(got: Any, expected: torch.Tensor, what: str) -> None:
    expected = expected.detach().numpy()
    assert np.shape(got) == expected.shape, (what, np.shape(got), expected.shape)
    np.testing.assert_allclose(np.asarray(got, expected.dtype), expected, rtol=RTOL, atol=ATOL, err_msg=what)


def _cotangents(out: Any, cts: list) -> Any:
    """The torch cotangents laid on jaxnn's output tree; float0 zeros on integer outputs."""
    it = iter(cts)

    def leaf(o):
        o = jnp.asarray(o)
        if jnp.issubdtype(o.dtype, jnp.floating):
            return jnp.asarray(next(it).numpy(), o.dtype)
        return np.zeros(o.shape, jax.dtypes.float0)

    return jax.tree_util.tree_map(leaf, out)


@pytest.mark.parametrize("info,training,index", CASES)
def test_module_db_case(info, training, index):
    name = info.module_cls.__name__
    torch.manual_seed(0)
    module_input = info.module_inputs_func(
        info, device="cpu", dtype=torch.float64, requires_grad=True, training=training
    )[index]
    constructor, forward = module_input.constructor_input, module_input.forward_input
    inputs = (list(forward.args), dict(forward.kwargs))

    tmod = info.module_cls(*constructor.args, **constructor.kwargs).to(torch.float64).train(training)
    if hasattr(tmod, "initialize_parameters"):  # a lazy module: materialise torch's without a forward
        tmod.initialize_parameters(*forward.args, **forward.kwargs)
    cls = getattr(jaxnn, name)
    with jax.enable_x64(True):
        jmod = cls(*_to_jax(list(constructor.args)), **_constructor_kwargs(cls, constructor.kwargs))
        jaxnn.load_state_dict(jmod, tmod.state_dict())
        jmod.train(training)
        outs, cts, input_grads, param_grads = _torch_side(tmod, inputs, index)

        graphdef, params, rest = nnx.split(jmod, nnx.Param, ...)

        def run(p, xs):
            model = nnx.merge(graphdef, p, rest, copy=True)
            args, kwargs = _rebuild(inputs, xs)
            return model(*args, **kwargs), nnx.state(model)

        xs = [jnp.asarray(x.detach().numpy()) for x in _leaves(inputs) if _float_leaf(x)]
        out, vjp, new_state = jax.vjp(run, params, xs, has_aux=True)
        j_outs = _leaves(out)
        assert len(j_outs) == len(outs), ("outputs", len(j_outs), len(outs))
        for i, (got, expected) in enumerate(zip(j_outs, outs)):
            _close(got, expected, f"output {i}")

        if cts:
            p_grads, x_grads = vjp(_cotangents(out, cts))
            # torch's generators sometimes pass one tensor twice (KLDivLoss's input and
            # target): its gradient is then the sum over both positions.
            floats = [x for x in _leaves(inputs) if _float_leaf(x)]
            for i, (x, expected) in enumerate(zip(floats, input_grads)):
                if expected is not None:
                    got = sum(g for g, other in zip(x_grads, floats) if other is x)
                    _close(got, expected, f"gradient of floating input {i}")
            flat = {".".join(map(str, path)): g for path, g in nnx.to_flat_state(p_grads)}
            for key, expected in param_grads.items():
                if expected is not None:
                    _close(flat[key], expected, f"gradient of {key}")

        nnx.update(jmod, new_state)
        t_state, j_state = tmod.state_dict(), jaxnn.state_dict(jmod)
        assert list(j_state) == list(t_state)
        for key, expected in t_state.items():
            _close(j_state[key], expected, f"state_dict[{key!r}] after the forward")
