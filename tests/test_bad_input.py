"""The bad-input matrix: every invalid input a user can give raises, with a message that says what.

Each row of :data:`TABLE` is one invalid call. It must raise the stated
exception type, and the message must contain every string of ``says``: the
argument's name and the offending shape or value. Where torch rejects the same
call, ``torch`` names torch's function and the row also checks that torch
raises (so the row is invalid input, not a jaxnn opinion); rows without it are
places where jaxnn is stricter than torch (integer input that torch would
promote) or where the argument does not exist in torch. Rows with
``traced=True`` also raise when the array arguments are traced under
``jax.jit`` (shape, dtype and static-option checks happen at trace time); the
others are value checks that only run eagerly (see docs/reliability.md for
the checkify opt-in).

Generic rows (invalid reduction, unknown keyword, integer input, shapes that
do not broadcast, None) are generated for every loss from its valid call in
:data:`tests.fuzz.calls.CALLS`; specific rows follow.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any, Callable, Optional

import jax
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from flax import nnx

import jaxnn
import jaxnn.functional as F
from jaxnn.state_dict import StateDictError
from tests.fuzz.calls import CALLS
from tests.parity import to_torch


@dataclasses.dataclass(frozen=True)
class Bad:
    id: str
    fn: Callable
    args: tuple
    kwargs: dict
    error: type
    says: tuple[str, ...]
    torch: Optional[Callable] = None
    traced: bool = True


def _f32(*shape):
    return np.linspace(-1.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)


def _pos(*shape):
    return np.linspace(0.1, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)


def _call(cls, **options):
    """A criterion built with ``options`` and called: torch checks options at call time."""

    def call(*args, **kwargs):
        return cls(**options)(*args, **kwargs)

    call.__name__ = cls.__name__
    return call


def _value_checked(fn, nan_when_off=True):
    """``fn`` as a value-checked row: it raises on concrete values by default (jaxnn's eager checks).

    ``unchecked`` runs it with the eager checks off (``jaxnn.checks.eager(False)``),
    where the bad value must come out as nan when ``nan_when_off``.
    """

    def checked(*args, **kwargs):
        return fn(*args, **kwargs)

    def unchecked(*args, **kwargs):
        with jaxnn.checks.eager(False):
            return fn(*args, **kwargs)

    checked.__name__ = fn.__name__
    if nan_when_off:
        checked.unchecked = unchecked
    return checked


X, T = _f32(3, 4), _f32(3, 4)
CTC = CALLS["ctc_loss"].args("float32")


def _generic_rows() -> list[Bad]:
    rows = []
    for name, call in CALLS.items():
        fn, tfn, kwargs = call.jfn, call.tfn, call.kwargs
        args = call.args("float32")
        rows.append(Bad(f"{name}/reduction", fn, args, {**kwargs, "reduction": "avg"}, ValueError, ("reduction", "'avg'"), tfn))
        rows.append(Bad(f"{name}/unknown-keyword", fn, args, {**kwargs, "size": 3}, TypeError, ("'size'",), tfn))
        for i in (i for i in call.float_args if i not in call.int_ok):
            bad = list(args)
            bad[i] = np.arange(np.size(args[i]), dtype=np.int32).reshape(np.shape(args[i]))
            rows.append(Bad(f"{name}/integer-arg{i}", fn, tuple(bad), kwargs, TypeError, ("int32", str(np.shape(args[i])))))
        if call.shape_arg is not None:
            bad = list(args)
            bad[call.shape_arg] = args[call.shape_arg][:2]
            clash = str(args[0].shape) if call.shape_arg else str(args[1].shape)
            rows.append(Bad(f"{name}/shapes", fn, tuple(bad), kwargs, ValueError, (clash, str(bad[call.shape_arg].shape)), tfn))
        first = next(iter(inspect.signature(fn).parameters))
        rows.append(Bad(f"{name}/none-{first}", fn, (None, *args[1:]), kwargs, TypeError, (first, "None"), tfn))
    return rows
def _class_rows() -> list[Bad]:
    """Every criterion whose functional form has landed: an invalid reduction and an unknown option."""
    rows = []
    for cname in jaxnn.losses.__all__:
        cls = getattr(jaxnn, cname)
        if not hasattr(F, cls._function):
            continue
        tcls = getattr(torch.nn, cname)
        rows.append(Bad(f"{cname}/reduction", cls, (), {"reduction": "avg"}, ValueError, ("reduction", "'avg'")))
        rows.append(Bad(f"{cname}/unknown-keyword", cls, (), {"size": 3}, TypeError, ("'size'",), tcls))
    return rows


NAN = float("nan")
SPECIFIC = [
    Bad("l1_loss/weight-shape", F.l1_loss, (X, T), {"weight": _pos(4)}, ValueError, ("weight shape (4,)", "input shape (3, 4)"), TF.l1_loss),
    Bad("mse_loss/weight-shape", F.mse_loss, (X, T), {"weight": _pos(3)}, ValueError, ("weight shape (3,)", "input shape (3, 4)"), TF.mse_loss),
    Bad("huber_loss/weight-shape", F.huber_loss, (X, T), {"weight": _pos(4)}, ValueError, ("weight shape (4,)", "input shape (3, 4)"), TF.huber_loss),
    Bad("huber_loss/delta-negative", F.huber_loss, (X, T), {"delta": -1.0}, ValueError, ("delta", "-1.0"), TF.huber_loss),
    Bad("huber_loss/delta-zero", F.huber_loss, (X, T), {"delta": 0.0}, ValueError, ("delta", "0.0"), TF.huber_loss),
    Bad("huber_loss/delta-nan", F.huber_loss, (X, T), {"delta": NAN}, ValueError, ("delta", "nan"), TF.huber_loss),
    Bad("huber_loss/delta-string", F.huber_loss, (X, T), {"delta": "1"}, TypeError, ("delta", "str"), TF.huber_loss),
    Bad("HuberLoss/delta-negative", _call(jaxnn.HuberLoss, delta=-1.0), (X, T), {}, ValueError, ("delta", "-1.0"), _call(torch.nn.HuberLoss, delta=-1.0)),
    Bad("smooth_l1_loss/beta-negative", F.smooth_l1_loss, (X, T), {"beta": -0.5}, ValueError, ("beta", "-0.5"), TF.smooth_l1_loss),
    Bad("smooth_l1_loss/beta-nan", F.smooth_l1_loss, (X, T), {"beta": NAN}, ValueError, ("beta", "nan"), TF.smooth_l1_loss),
    Bad("SmoothL1Loss/beta-negative", _call(jaxnn.SmoothL1Loss, beta=-0.5), (X, T), {}, ValueError, ("beta", "-0.5"), _call(torch.nn.SmoothL1Loss, beta=-0.5)),
    Bad("gaussian_nll_loss/var-negative", F.gaussian_nll_loss, (X, T, -_pos(3, 4)), {}, ValueError, ("var", "negative", "(3, 4)", "at position (0, 0)"), TF.gaussian_nll_loss, traced=False),
    Bad("gaussian_nll_loss/var-negative-float", F.gaussian_nll_loss, (X, T, -1.0), {}, ValueError, ("var", "-1.0"), TF.gaussian_nll_loss),
    Bad("gaussian_nll_loss/var-size", F.gaussian_nll_loss, (X, T, _pos(2, 4)), {}, ValueError, ("var", "(2, 4)", "(3, 4)"), TF.gaussian_nll_loss),
    Bad("gaussian_nll_loss/var-two-dims-1", F.gaussian_nll_loss, (_f32(2, 3, 4), _f32(2, 3, 4), _pos(2, 1, 1)), {}, ValueError, ("var", "(2, 1, 1)", "(2, 3, 4)"), TF.gaussian_nll_loss),
    Bad("GaussianNLLLoss/var-size", _call(jaxnn.GaussianNLLLoss), (X, T, _pos(4, 3)), {}, ValueError, ("var", "(4, 3)", "(3, 4)"), _call(torch.nn.GaussianNLLLoss)),
    Bad("mse_loss/reduction-batchmean", F.mse_loss, (X, T), {"reduction": "batchmean"}, ValueError, ("reduction", "'batchmean'"), TF.mse_loss),
    Bad("cross_entropy/float-class-target", F.cross_entropy, (X, np.array([0.0, 3.0, 1.0], np.float32)), {}, TypeError, ("target", "(3,)", "float32"), TF.cross_entropy),
    Bad("cross_entropy/integer-logits", F.cross_entropy, (np.zeros((3, 4), np.int32), np.array([0, 3, 1])), {}, TypeError, ("input", "int32", "(3, 4)"), TF.cross_entropy),
    Bad("cross_entropy/weight-length", F.cross_entropy, (X, np.array([0, 3, 1])), {"weight": _pos(3)}, ValueError, ("weight", "4 classes", "(3,)"), TF.cross_entropy),
    Bad("cross_entropy/scalar-input", F.cross_entropy, (np.float32(1.0), np.array([0, 3, 1])), {}, ValueError, ("input", "()"), TF.cross_entropy),
    Bad("cross_entropy/label-smoothing", F.cross_entropy, (X, np.array([0, 3, 1])), {"label_smoothing": 1.5}, ValueError, ("label_smoothing", "1.5"), TF.cross_entropy),
    Bad("cross_entropy/ignore-index-with-probabilities", F.cross_entropy, (X, _pos(3, 4)), {"ignore_index": 1}, ValueError, ("ignore_index", "1"), TF.cross_entropy),
    Bad("nll_loss/float-class-target", F.nll_loss, (X, np.array([0.0, 3.0, 1.0], np.float32)), {}, TypeError, ("target", "(3,)", "float32"), TF.nll_loss),
    Bad("nll_loss/weight-length", F.nll_loss, (X, np.array([0, 3, 1])), {"weight": _pos(5)}, ValueError, ("weight", "4 classes", "(5,)"), TF.nll_loss),
    Bad("nll_loss/k-dim-target", F.nll_loss, (X[:, :, None], np.array([0, 3, 1])), {}, ValueError, ("target", "(3, 1)", "(3,)"), TF.nll_loss),
    Bad("binary_cross_entropy/weight-shape", F.binary_cross_entropy, (_pos(3, 4), _pos(3, 4)), {"weight": _pos(2, 4)}, ValueError, ("weight", "(2, 4)", "(3, 4)"), TF.binary_cross_entropy),
    Bad("binary_cross_entropy_with_logits/pos-weight", F.binary_cross_entropy_with_logits, (X, _pos(3, 4)), {"pos_weight": _pos(3)}, ValueError, ("pos_weight", "(3,)", "(3, 4)"), TF.binary_cross_entropy_with_logits),
    Bad("multilabel_soft_margin_loss/weight-shape", F.multilabel_soft_margin_loss, (X, _pos(3, 4)), {"weight": _pos(3)}, ValueError, ("weight", "(3,)", "(3, 4)"), TF.multilabel_soft_margin_loss),
    Bad("multi_margin_loss/p", F.multi_margin_loss, (X, np.array([0, 3, 1])), {"p": 3}, ValueError, ("p", "3"), TF.multi_margin_loss),
    Bad("multi_margin_loss/weight-length", F.multi_margin_loss, (X, np.array([0, 3, 1])), {"weight": _pos(3)}, ValueError, ("weight", "4", "(3,)"), TF.multi_margin_loss),
    Bad("multi_margin_loss/float-class-target", F.multi_margin_loss, (X, np.array([0.0, 3.0, 1.0], np.float32)), {}, TypeError, ("target", "float32", "(3,)"), TF.multi_margin_loss),
    Bad("multilabel_margin_loss/float-target", F.multilabel_margin_loss, (X, _pos(3, 4)), {}, TypeError, ("target", "float32", "(3, 4)"), TF.multilabel_margin_loss),
    Bad("ctc_loss/input-lengths-longer-than-sequence", F.ctc_loss, (*CTC[:2], np.array([7, 5]), CTC[3]), {}, RuntimeError, ("input_lengths", "6", "7", "position (0,)"), TF.ctc_loss, traced=False),
    Bad("ctc_loss/target-lengths-longer-than-targets", F.ctc_loss, (*CTC[:3], np.array([4, 2])), {}, ValueError, ("target", "(2, 3)", "4"), TF.ctc_loss, traced=False),
    Bad("ctc_loss/negative-target-length", F.ctc_loss, (*CTC[:3], np.array([-1, 2])), {}, RuntimeError, ("target_lengths", "-1", "position (0,)"), TF.ctc_loss, traced=False),
    Bad("ctc_loss/lengths-per-sequence", F.ctc_loss, (*CTC[:2], np.array([6, 5, 4]), CTC[3]), {}, ValueError, ("input_lengths", "2", "(3,)"), TF.ctc_loss),
    Bad("ctc_loss/concatenated-targets-sum", F.ctc_loss, (CTC[0], CTC[1].reshape(-1)[:4], *CTC[2:]), {}, ValueError, ("sum(target_lengths)", "5", "(4,)"), TF.ctc_loss, traced=False),
    Bad("ctc_loss/log-probs-rank", F.ctc_loss, (CTC[0][None], *CTC[1:]), {}, ValueError, ("log_probs", "(1, 6, 2, 4)")),
    Bad("ctc_loss/blank", F.ctc_loss, CTC, {"blank": 4}, ValueError, ("blank", "[0, 4)", "4")),
    Bad("ctc_loss/float-targets", F.ctc_loss, (CTC[0], CTC[1].astype(np.float32), *CTC[2:]), {}, TypeError, ("targets", "float32", "(2, 3)")),
    Bad("ctc_loss/label-out-of-range", F.ctc_loss, (CTC[0], CTC[1] * 2, *CTC[2:]), {}, ValueError, ("targets", "[0, 4)", "6"), traced=False),
    # value checks: raised on concrete values by default (jaxnn.checks.eager), nan when off (test_value_checks_off_give_nan)
    Bad("cross_entropy/class-out-of-range", _value_checked(F.cross_entropy), (X, np.array([0, 4, 1])), {}, IndexError, ("target", "4", "(1,)", "[0, 4)"), TF.cross_entropy, traced=False),
    Bad("nll_loss/negative-class", _value_checked(F.nll_loss), (X, np.array([0, -2, 1])), {}, IndexError, ("target", "-2", "(1,)"), TF.nll_loss, traced=False),
    Bad("multi_margin_loss/class-out-of-range", _value_checked(F.multi_margin_loss), (X, np.array([0, 4, 1])), {}, IndexError, ("target", "4", "[0, 4)"), TF.multi_margin_loss, traced=False),
    Bad("multilabel_margin_loss/class-out-of-range", _value_checked(F.multilabel_margin_loss), (X, np.array([[5, -1, 0, 0]] * 3)), {}, IndexError, ("target", "5", "(0, 0)"), TF.multilabel_margin_loss, traced=False),
    Bad("binary_cross_entropy/probability-above-1", _value_checked(F.binary_cross_entropy), (_pos(3, 4) + 1.0, _pos(3, 4)), {}, ValueError, ("input", "between 0 and 1", "(0, 0)"), TF.binary_cross_entropy, traced=False),
    Bad("binary_cross_entropy/target-above-1", _value_checked(F.binary_cross_entropy, nan_when_off=False), (_pos(3, 4), _pos(3, 4) + 1.0), {}, ValueError, ("target", "between 0 and 1", "(0, 0)"), TF.binary_cross_entropy, traced=False),
    Bad("mse_loss/string-input", F.mse_loss, ("abc", T), {}, TypeError, ("input", "str"), TF.mse_loss),
    Bad("mse_loss/bool-input", F.mse_loss, (X > 0, T), {}, TypeError, ("input", "bool", "(3, 4)")),
    Bad("kl_div/integer-input", F.kl_div, (np.zeros((3, 4), np.int64), _pos(3, 4)), {"reduction": "sum"}, TypeError, ("input", "int", "(3, 4)"), TF.kl_div),
]



def _torch_optimizer(name):
    def make(**options):
        return getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **options)

    return make


# optimizer -> its hyper-parameters that torch range-checks, as (argument, bad value, torch's word for it)
OPTIMIZER_CHECKS = {
    "SGD": [("lr", -0.1, "learning rate"), ("momentum", -0.5, "momentum"), ("weight_decay", -1e-4, "weight_decay")],
    "Adam": [("lr", -1e-3, "learning rate"), ("eps", -1e-8, "epsilon"), ("weight_decay", -0.1, "weight_decay")],
    "AdamW": [("lr", -1e-3, "learning rate"), ("eps", -1e-8, "epsilon"), ("weight_decay", -0.1, "weight_decay")],
    "RMSprop": [("lr", -1e-2, "learning rate"), ("eps", -1.0, "epsilon"), ("alpha", -0.9, "alpha"), ("momentum", -0.1, "momentum"), ("weight_decay", -1.0, "weight_decay")],
    "Adagrad": [("lr", -0.1, "learning rate"), ("lr_decay", -0.1, "lr_decay"), ("eps", -1.0, "epsilon"), ("initial_accumulator_value", -1.0, "initial_accumulator_value"), ("weight_decay", -1.0, "weight_decay")],
    "NAdam": [("lr", -1e-3, "learning rate"), ("eps", -1.0, "epsilon"), ("momentum_decay", -1.0, "momentum_decay"), ("weight_decay", -1.0, "weight_decay")],
    "RAdam": [("lr", -1e-3, "learning rate"), ("eps", -1.0, "epsilon"), ("weight_decay", -1.0, "weight_decay")],
    "Adamax": [("lr", -1e-3, "learning rate"), ("eps", -1.0, "epsilon"), ("weight_decay", -1.0, "weight_decay")],
}
ADAM_FAMILY = ("Adam", "AdamW", "NAdam", "RAdam", "Adamax")



def _optimizers() -> list[str]:
    """The optimizer factories of jaxnn.optim (its capitalised functions; state classes excluded)."""
    return [n for n in jaxnn.optim.__all__ if n[0].isupper() and inspect.isfunction(getattr(jaxnn.optim, n))]

def _optimizer_rows() -> list[Bad]:
    rows = []
    for name, checks in OPTIMIZER_CHECKS.items():
        fn, tfn = getattr(jaxnn.optim, name), _torch_optimizer(name)
        for arg, value, word in checks:
            rows.append(Bad(f"optim.{name}/{arg}", fn, (), {arg: value}, ValueError, (word, str(value)), tfn))
        rows.append(Bad(f"optim.{name}/nan-lr", fn, (), {"lr": NAN}, ValueError, ("learning rate", "nan")))
        rows.append(Bad(f"optim.{name}/unknown-keyword", fn, (), {"size": 3}, TypeError, ("'size'",), tfn))
        if name in ADAM_FAMILY:
            rows.append(Bad(f"optim.{name}/beta2", fn, (), {"betas": (0.9, 1.0)}, ValueError, ("beta", "index 1", "1.0"), tfn))
            rows.append(Bad(f"optim.{name}/beta1", fn, (), {"betas": (-0.1, 0.999)}, ValueError, ("beta", "index 0", "-0.1"), tfn))
    # torch's call shape, SGD(model.parameters(), lr=...): every optimizer, so a new one without
    # optim._core.rejects_parameters fails here (issue 21: "got multiple values for argument 'lr'")
    model = jaxnn.Linear(2, 1, rngs=nnx.Rngs(0))
    for name in _optimizers():
        fn = getattr(jaxnn.optim, name)
        for what, params in (("model", model), ("state", nnx.state(model, nnx.Param)), ("torch-parameters", torch.nn.Linear(2, 1).parameters())):
            rows.append(Bad(f"optim.{name}/given-{what}", fn, (params,), {"lr": 0.1}, TypeError,
                            ("takes no parameters", f"jaxnn.optim.{name}(lr=0.1)", "tx.init(params)")))
    sgd, tsgd = jaxnn.optim.SGD, _torch_optimizer("SGD")
    rows.append(Bad("optim.SGD/nesterov-without-momentum", sgd, (), {"nesterov": True}, ValueError, ("Nesterov", "momentum"), tsgd))
    rows.append(Bad("optim.SGD/nesterov-with-dampening", sgd, (), {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, ValueError, ("Nesterov", "dampening"), tsgd))
    return rows


def _layer(cls, *args, **kwargs):
    """Builds the layer (jaxnn or torch) with the constructor arguments and calls it on the inputs."""

    def call(*inputs):
        if issubclass(cls, torch.nn.Module):
            return cls(*args, **kwargs)(*inputs)
        return cls(*args, **kwargs, rngs=nnx.Rngs(0))(*inputs)

    call.__name__ = cls.__name__
    return call


def _layer_rows() -> list[Bad]:
    img = _f32(1, 2, 5, 5)
    both = lambda name, *a, **k: (_layer(getattr(jaxnn, name), *a, **k), _layer(getattr(torch.nn, name), *a, **k))  # noqa: E731
    rows = []
    for rid, (name, ctor, kw, inputs, error, says) in {
        "Linear/in-features": ("Linear", (4, 3), {}, (_f32(2, 5),), ValueError, ("(2, 5)", "in_features=4")),
        "Conv2d/channels": ("Conv2d", (3, 2, 3), {}, (img,), ValueError, ("(1, 2, 5, 5)", "3 channels", "2 channels")),
        "Conv2d/channels-last": ("Conv2d", (3, 2, 3), {}, (_f32(1, 5, 5, 3),), ValueError, ("(1, 5, 5, 3)", "3 channels", "channels-first", "jnp.moveaxis(x, -1, 1)")),
        "Conv2d/rank": ("Conv2d", (2, 2, 3), {}, (img[None],), ValueError, ("4D", "(1, 1, 2, 5, 5)")),
        "Conv2d/input-smaller-than-kernel": ("Conv2d", (2, 2, 3), {}, (img[..., :2, :2],), ValueError, ("(2, 2)", "(3, 3)")),
        "Conv1d/reflect-padding": ("Conv1d", (2, 2, 3), {"padding": 3, "padding_mode": "reflect"}, (_f32(1, 2, 3),), ValueError, ("reflect", "(3,)")),
        "LayerNorm/shape": ("LayerNorm", (4,), {}, (_f32(2, 5),), ValueError, ("normalized_shape=[4]", "(2, 5)")),
        "BatchNorm1d/features": ("BatchNorm1d", (4,), {}, (_f32(2, 5),), ValueError, ("4", "5", "(2, 5)")),
        "BatchNorm2d/rank": ("BatchNorm2d", (5,), {}, (_f32(2, 5),), ValueError, ("4D", "(2, 5)")),
        "BatchNorm1d/one-value-per-channel": ("BatchNorm1d", (5,), {}, (_f32(1, 5),), ValueError, ("more than 1 value", "(1, 5)")),
        "Embedding/float-indices": ("Embedding", (10, 3), {}, (np.array([1.0, 2.0], np.float32),), TypeError, ("indices", "float32")),
        "MaxPool2d/padding": ("MaxPool2d", (2,), {"padding": 2}, (img,), ValueError, ("pad", "(2, 2)", "kernel_size")),
        "AvgPool2d/padding": ("AvgPool2d", (2,), {"padding": 2}, (img,), ValueError, ("pad", "(2, 2)", "kernel_size")),
        "Softmax/dim": ("Softmax", (), {"dim": 3}, (_f32(2, 5),), ValueError, ("dim 3", "2 dimensions")),
        "Flatten/dim": ("Flatten", (3,), {}, (_f32(2, 5),), ValueError, ("dim 3", "2 dimensions")),
    }.items():
        jfn, tfn = both(name, *ctor, **kw)
        rows.append(Bad(rid, jfn, inputs, {}, error, says, tfn))
    for rid, (name, ctor, kw, error, says) in {
        "Conv2d/groups": ("Conv2d", (3, 2, 3), {"groups": 2}, ValueError, ("in_channels", "3", "groups", "2")),
        "Conv2d/same-with-stride": ("Conv2d", (3, 2, 3), {"stride": 2, "padding": "same"}, ValueError, ("'same'", "strided")),
        "Conv2d/padding-mode": ("Conv2d", (3, 2, 3), {"padding_mode": "mirror"}, ValueError, ("padding_mode", "'mirror'")),
        "Embedding/padding-idx": ("Embedding", (10, 3), {"padding_idx": 11}, ValueError, ("padding_idx", "11", "10")),
        "Dropout/p": ("Dropout", (1.5,), {}, ValueError, ("probability", "1.5")),
    }.items():
        jcls, tcls = getattr(jaxnn, name), getattr(torch.nn, name)
        rows.append(Bad(rid, lambda *a, jcls=jcls, ctor=ctor, kw=kw: jcls(*ctor, **kw, rngs=nnx.Rngs(0)), (), {}, error, says,
                        lambda *a, tcls=tcls, ctor=ctor, kw=kw: tcls(*ctor, **kw)))
    rows += [
        Bad("Embedding/index-out-of-range", _layer(jaxnn.Embedding, 10, 3), (np.array([1, 12]),), {}, IndexError, ("index", "[0, 10)", "12", "position (1,)"),
            _layer(torch.nn.Embedding, 10, 3), traced=False),
        Bad("gelu/approximate", F.gelu, (X,), {"approximate": "fast"}, ValueError, ("approximate", "'fast'"), TF.gelu),
        Bad("prelu/weight", F.prelu, (_f32(2, 5), _pos(3)), {}, ValueError, ("weight", "3", "(2, 5)"), TF.prelu),
        Bad("softmax/dim", F.softmax, (X,), {"dim": 2}, ValueError, ("dim 2", "2 dimensions"), TF.softmax),
        Bad("log_softmax/dim", F.log_softmax, (X,), {"dim": -3}, ValueError, ("dim -3", "2 dimensions"), TF.log_softmax),
    ]
    return rows


def _state_dict_rows() -> list[Bad]:
    rows = []
    good = {"weight": np.zeros((3, 5), np.float32), "bias": np.zeros(3, np.float32)}
    for rid, (sd, says) in {
        "load_state_dict/size-mismatch": ({**good, "weight": np.zeros((3, 4), np.float32)}, ("size mismatch", "weight", "(3, 4)")),
        "load_state_dict/missing-key": ({"weight": good["weight"]}, ("Missing", '"bias"')),
        "load_state_dict/unexpected-key": ({**good, "extra": np.zeros(1)}, ("Unexpected", '"extra"')),
    }.items():
        rows.append(Bad(rid, lambda sd=sd: jaxnn.load_state_dict(jaxnn.Linear(5, 3, rngs=nnx.Rngs(0)), sd), (), {}, StateDictError, says,
                        lambda sd=sd: torch.nn.Linear(5, 3).load_state_dict({k: torch.tensor(v) for k, v in sd.items()})))
    tlinear = torch.nn.Linear(5, 3)
    twin = ("torch module", "Linear", "jaxnn.Linear", "torch_model.state_dict()")
    rows += [
        Bad("state_dict/torch-module", jaxnn.state_dict, (tlinear,), {}, TypeError, ("jaxnn.state_dict", "model", *twin)),
        Bad("load_state_dict/torch-model", jaxnn.load_state_dict, (tlinear, good), {}, TypeError, ("jaxnn.load_state_dict", "model", *twin)),
        Bad("load_state_dict/torch-source", lambda: jaxnn.load_state_dict(jaxnn.Linear(5, 3, rngs=nnx.Rngs(0)), tlinear), (), {}, TypeError,
            ("source", "torch module", "source=torch_model.state_dict()")),
        Bad("save_state_dict/torch-module", jaxnn.save_state_dict, (tlinear, "never-written.safetensors"), {}, TypeError, ("jaxnn.save_state_dict", *twin)),
    ]
    return rows


TABLE = [*_generic_rows(), *_class_rows(), *SPECIFIC, *_optimizer_rows(), *_layer_rows(), *_state_dict_rows()]


def _message_names_everything(excinfo, row: Bad) -> None:
    message = str(excinfo.value)
    missing = [s for s in row.says if s not in message]
    assert not missing, f"message {message!r} does not name {missing}"


def _to_torch(x: Any) -> Any:
    return to_torch(x) if isinstance(x, np.ndarray) else x


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_raises_and_names_the_argument(row: Bad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(row.error) as excinfo:
            row.fn(*row.args, **row.kwargs)
    _message_names_everything(excinfo, row)


@pytest.mark.parametrize("row", [r for r in TABLE if r.torch is not None], ids=lambda r: r.id)
def test_torch_rejects_it_too(row: Bad):
    """The row's input is invalid for torch as well (any exception: torch's types vary)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception):
            row.torch(*[_to_torch(a) for a in row.args], **{k: _to_torch(v) for k, v in row.kwargs.items()})


TRACED = [r for r in TABLE if r.traced and any(isinstance(a, np.ndarray) for a in r.args)]


@pytest.mark.parametrize("row", TRACED, ids=[r.id for r in TRACED])
def test_raises_at_trace_time(row: Bad):
    """Array arguments traced, options static: the check needs no concrete value."""
    arrays = [i for i, a in enumerate(row.args) if isinstance(a, np.ndarray)]

    def f(*traced):
        args = list(row.args)
        for i, t in zip(arrays, traced):
            args[i] = t
        return row.fn(*args, **row.kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(row.error) as excinfo:
            jax.jit(f).lower(*[row.args[i] for i in arrays])
    _message_names_everything(excinfo, row)


def test_every_public_function_has_rows():
    """A newly public loss, criterion or optimizer without rows here fails, so the matrix stays complete."""
    losses = {n for n in F.__all__ if n.endswith("_loss") or n == "kl_div"}
    covered = {r.id.split("/")[0] for r in TABLE}
    assert losses <= covered, f"losses without bad-input rows: {sorted(losses - covered)}"
    classes = {n for n in jaxnn.losses.__all__ if hasattr(F, getattr(jaxnn, n)._function)}
    assert classes <= covered, f"criteria without bad-input rows: {sorted(classes - covered)}"
    layers = {"Linear", "Conv1d", "Conv2d", "LayerNorm", "BatchNorm1d", "BatchNorm2d", "Embedding", "Dropout", "MaxPool2d", "AvgPool2d", "Softmax", "Flatten"}
    assert layers <= covered, f"layers without bad-input rows: {sorted(layers - covered)}"
    optimizers = {f"optim.{n}" for n in _optimizers()}
    assert optimizers <= covered, f"optimizers without bad-input rows: {sorted(optimizers - covered)}"


VALUE_CHECKED = [r for r in TABLE if hasattr(r.fn, "unchecked")]


@pytest.mark.parametrize("row", VALUE_CHECKED, ids=[r.id for r in VALUE_CHECKED])
def test_value_checks_off_give_nan(row: Bad):
    """With the eager checks off (as under jit) the bad value poisons the loss as nan, never a plausible number."""
    assert np.isnan(np.asarray(row.fn.unchecked(*row.args, **row.kwargs))).all()


def test_value_check_under_jit_through_checkify():
    """Under jit a traced class index cannot raise; with checks on, checkify collects the error."""
    from jax.experimental import checkify

    with jaxnn.checks.checking():
        err, _ = checkify.checkify(jax.jit(F.cross_entropy))(X, np.array([0, 4, 1]))
    with pytest.raises(Exception, match="4"):
        err.throw()
