"""repr of every jaxnn layer equals torch's (issue #17).

Every class of ``torch.nn.modules.__all__`` that jaxnn has is built on both sides
from torch's own constructor inputs (``module_db``: each ModuleInfo's
``module_inputs_func``), from :data:`HAND` for classes without a module_db entry
(and for options module_db leaves out), or from :data:`BUILT` for those whose
arguments are modules; the two reprs must be equal text. The classes that cannot
match are in :data:`EXCLUDED` with the reason. No forward passes: construction
and repr only.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any, Callable

import jax.numpy as jnp
import pytest
import torch
from flax import nnx

import jaxnn

pytest.importorskip("expecttest")  # common_modules imports it; the test extra installs it
from torch.testing._internal.common_modules import module_db  # noqa: E402

# name -> why its repr is not compared
EXCLUDED: dict[str, str] = {
    "ParameterList": "torch prints each parameter's dtype as 'torch.float32'; jaxnn prints the JAX dtype 'float32'",
    "ParameterDict": "torch prints each parameter's dtype as 'torch.float32'; jaxnn prints the JAX dtype 'float32'",
}

# (name, args, kwargs): the same arguments on both sides (rngs added where jaxnn takes it)
HAND: list[tuple[str, tuple, dict]] = [
    ("AdaptiveLogSoftmaxWithLoss", (8, 10, [4, 8]), {"div_value": 2.0}),
    ("AlphaDropout", (0.2,), {}),
    ("ChannelShuffle", (2,), {}),
    ("Container", (), {}),
    ("CosineSimilarity", (), {"dim": 0}),
    ("CrossMapLRN2d", (3,), {"alpha": 1e-3}),
    ("Dropout", (), {}),
    ("Dropout", (0.3,), {"inplace": True}),
    ("Dropout1d", (0.1,), {}),
    ("Dropout2d", (0.2,), {}),
    ("Dropout3d", (0.3,), {}),
    ("FeatureAlphaDropout", (0.4,), {}),
    ("EmbeddingBag", (10, 3), {}),
    ("EmbeddingBag", (10, 3), {"max_norm": 1.0, "norm_type": 3.0, "scale_grad_by_freq": True, "mode": "sum",
                               "padding_idx": 0}),
    ("Embedding", (10, 3), {"padding_idx": 0, "max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True}),
    ("Flatten", (), {}),
    ("Flatten", (0, 2), {}),
    ("Fold", (), {"output_size": (4, 5), "kernel_size": 2}),
    ("Unfold", (), {"kernel_size": (2, 3), "dilation": 1, "padding": 1, "stride": 2}),
    ("Hardsigmoid", (), {"inplace": True}),
    ("Hardswish", (), {"inplace": True}),
    ("ReLU", (), {"inplace": True}),
    ("ReLU6", (), {"inplace": True}),
    ("SiLU", (), {"inplace": True}),
    ("Mish", (), {"inplace": True}),
    ("SELU", (), {"inplace": True}),
    ("ELU", (), {"alpha": 0.5, "inplace": True}),
    ("CELU", (), {"inplace": True}),
    ("LeakyReLU", (0.2, True), {}),
    ("Hardtanh", (-2.0, 3.0, True), {}),
    ("Threshold", (0.1, 20), {"inplace": True}),
    ("GELU", (), {"approximate": "tanh"}),
    ("Softplus", (), {"beta": 2, "threshold": 10}),
    ("Softshrink", (0.25,), {}),
    ("PReLU", (3,), {}),
    ("Softmax2d", (), {}),
    ("Softmax", (), {}),
    ("Identity", (), {}),
    ("Identity", (54,), {"unused": "x"}),
    ("LazyLinear", (4,), {}),
    ("LazyLinear", (4,), {"bias": False}),
    ("LazyConv2d", (5, 3), {"stride": 2, "padding": 1, "groups": 1, "padding_mode": "reflect"}),
    ("LazyConvTranspose1d", (5, 3), {"output_padding": 0, "dilation": 2}),
    ("LazyBatchNorm1d", (), {}),
    ("LazyBatchNorm2d", (), {"eps": 1e-3, "momentum": None}),
    ("LazyBatchNorm3d", (), {"affine": False}),
    ("LazyInstanceNorm1d", (), {"affine": True}),
    ("LazyInstanceNorm2d", (), {"track_running_stats": True}),
    ("LazyInstanceNorm3d", (), {}),
    ("MaxUnpool1d", (2,), {}),
    ("MaxUnpool2d", (2,), {"stride": 1}),
    ("MaxUnpool2d", ((2, 3),), {}),
    ("MaxUnpool3d", (2,), {"padding": 1}),
    ("MaxPool1d", (3,), {"stride": 1, "padding": 1, "dilation": 2, "ceil_mode": True}),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1}),
    ("AvgPool2d", ((2, 3),), {"stride": (1, 2), "padding": (1, 0), "ceil_mode": True}),
    ("LPPool1d", (2.0, 3), {"stride": 2, "ceil_mode": True}),
    ("AdaptiveMaxPool2d", ((3, None),), {}),
    ("FractionalMaxPool2d", (2,), {"output_size": 3}),
    ("FractionalMaxPool3d", (2,), {"output_ratio": 0.5}),
    ("LocalResponseNorm", (2,), {"alpha": 1e-3, "beta": 0.5, "k": 2.0}),
    ("Module", (), {}),
    ("NLLLoss2d", (), {}),
    ("PairwiseDistance", (), {"p": 3.0, "keepdim": True}),
    ("PixelShuffle", (2,), {}),
    ("PixelUnshuffle", (3,), {}),
    ("RNNBase", ("LSTM", 3, 4), {}),
    ("RNNCellBase", (3, 4, True, 4), {}),
    ("RNNCell", (3, 4), {"bias": False, "nonlinearity": "relu"}),
    ("LSTMCell", (3, 4), {"bias": False}),
    ("LSTM", (3, 4), {"num_layers": 2, "bias": False, "batch_first": True, "dropout": 0.5, "bidirectional": True,
                      "proj_size": 2}),
    ("GRU", (3, 4), {"dropout": 0.25, "num_layers": 2}),
    ("RNN", (3, 4), {"nonlinearity": "relu", "batch_first": True}),
    ("RReLU", (), {}),
    ("RReLU", (0.1, 0.3), {"inplace": True}),
    ("SyncBatchNorm", (3,), {"eps": 1e-3, "affine": False}),
    ("TripletMarginLoss", (), {"margin": 2.0, "p": 1.0, "swap": True}),
    ("Unflatten", (1, (2, 3)), {}),
    ("Upsample", (), {"scale_factor": 2}),
    ("Upsample", (), {"scale_factor": (2, 1.5), "mode": "bilinear", "align_corners": True}),
    ("Upsample", (), {"size": (4, 5), "mode": "bicubic"}),
    ("Upsample", (), {"size": 7}),
    ("UpsamplingNearest2d", (), {"scale_factor": 2}),
    ("UpsamplingBilinear2d", (), {"size": 4}),
    ("LinearCrossEntropyOptions", (), {}),
    ("LinearCrossEntropyOptions", (), {"batch_chunk_size": 4, "acc_policy": "auto"}),
]


def _build_both(build: Callable[[Any, Callable[[type], dict]], Any]) -> tuple[Any, Any]:
    """``build(nn, rngs)`` on torch.nn and on jaxnn; ``rngs(cls)`` gives the rngs keyword jaxnn's class takes."""

    def jax_rngs(cls: type) -> dict:
        return {"rngs": nnx.Rngs(0)} if "rngs" in inspect.signature(cls.__init__).parameters else {}

    return build(torch.nn, lambda cls: {}), build(jaxnn, jax_rngs)


# name -> builder, for classes whose arguments are modules (one per container kind)
BUILT: dict[str, Callable] = {
    "Sequential": lambda nn, r: nn.Sequential(
        nn.Linear(2, 3, **r(nn.Linear)), nn.ReLU(), nn.Dropout(0.1, **r(nn.Dropout))
    ),
    "ModuleList": lambda nn, r: nn.ModuleList(
        [nn.Tanh(), nn.ModuleList([nn.Identity()]), nn.Linear(2, 2, bias=False, **r(nn.Linear))]
    ),
    "ModuleDict": lambda nn, r: nn.ModuleDict({"act": nn.GELU(), "pool": nn.MaxPool2d(2)}),
    "TransformerEncoder": lambda nn, r: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(4, 2, 8, 0.0, **r(nn.TransformerEncoderLayer)), 2, enable_nested_tensor=False
    ),
    "TransformerDecoder": lambda nn, r: nn.TransformerDecoder(
        nn.TransformerDecoderLayer(4, 2, 8, 0.1, **r(nn.TransformerDecoderLayer)), 1, norm=nn.LayerNorm(4)
    ),
    "TripletMarginWithDistanceLoss": lambda nn, r: nn.TripletMarginWithDistanceLoss(
        distance_function=nn.PairwiseDistance(p=1.0), margin=2.0
    ),
    "MultiheadAttention": lambda nn, r: nn.MultiheadAttention(
        6, 3, dropout=0.1, kdim=4, vdim=5, **r(nn.MultiheadAttention)
    ),
}


def _to_jax(value: Any) -> Any:
    """torch's constructor values as jaxnn takes them: tensors as arrays, dtypes as
    JAX dtypes, option dataclasses as jaxnn's."""
    if isinstance(value, torch.Tensor):
        return jnp.asarray(value.detach().numpy())
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and hasattr(jaxnn, type(value).__name__):
        fields = {f.name: _to_jax(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return getattr(jaxnn, type(value).__name__)(**fields)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_jax(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_jax(v) for k, v in value.items()}
    if isinstance(value, torch.dtype):
        return jnp.dtype(str(value).removeprefix("torch."))
    return value


def _jaxnn_class(name: str) -> type:
    return getattr(jaxnn, name)


def _module_db_cases() -> list:
    """One case per distinct constructor input of each module_db entry jaxnn has
    (module_db repeats a constructor for many forward inputs)."""
    cases, seen = [], set()
    for info in module_db:
        name = info.module_cls.__name__
        if not inspect.isclass(getattr(jaxnn, name, None)) or name in EXCLUDED or name in BUILT:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inputs = info.module_inputs_func(
                info, device="cpu", dtype=torch.float32, requires_grad=False, training=True
            )
        for module_input in inputs:
            args, kwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
            kwargs = {k: v for k, v in kwargs.items() if k not in ("device", "dtype")}
            key = (name, repr(args), repr(sorted(kwargs.items())))
            if key not in seen:
                seen.add(key)
                cases.append(pytest.param(info.module_cls, args, kwargs, id=f"{name}-{len(cases)}"))
    return cases


DB_CASES = _module_db_cases()


def _check(torch_module: Any, jax_module: Any) -> None:
    assert repr(jax_module) == repr(torch_module)
    assert str(jax_module) == str(torch_module)


@pytest.mark.parametrize("torch_cls, args, kwargs", DB_CASES)
def test_repr_module_db(torch_cls: type, args: tuple, kwargs: dict) -> None:
    cls = _jaxnn_class(torch_cls.__name__)
    jax_kwargs = _to_jax(kwargs)
    if "rngs" in inspect.signature(cls.__init__).parameters:
        jax_kwargs["rngs"] = nnx.Rngs(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check(torch_cls(*args, **kwargs), cls(*_to_jax(args), **jax_kwargs))


@pytest.mark.parametrize("name, args, kwargs", HAND, ids=[f"{c[0]}-{i}" for i, c in enumerate(HAND)])
def test_repr_hand(name: str, args: tuple, kwargs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check(*_build_both(lambda nn, r: getattr(nn, name)(*args, **kwargs, **r(getattr(nn, name)))))


@pytest.mark.parametrize("name", sorted(BUILT))
def test_repr_built(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check(*_build_both(BUILT[name]))


def test_every_torch_class_jaxnn_has_is_compared() -> None:
    have = {n for n in torch.nn.modules.__all__ if inspect.isclass(getattr(jaxnn, n, None))}
    compared = {p.values[0].__name__ for p in DB_CASES} | {name for name, _, _ in HAND} | set(BUILT)
    assert have - compared - set(EXCLUDED) == set()
    assert len(have) >= 150


def test_multihead_attention_out_proj_is_a_linear() -> None:
    # torch's NonDynamicallyQuantizableLinear subclasses Linear: same state_dict keys, isinstance holds
    mha = jaxnn.MultiheadAttention(4, 2, rngs=nnx.Rngs(0))
    assert isinstance(mha.out_proj, jaxnn.Linear)
    assert set(jaxnn.state_dict(mha)) == set(torch.nn.MultiheadAttention(4, 2).state_dict())
