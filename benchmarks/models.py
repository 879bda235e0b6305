"""The training suite's models, defined once and built twice: from ``torch.nn``
(the reference) and from ``jaxnn``'s layers of the same names.

The jaxnn model is loaded from the torch model's ``state_dict`` (via
``jaxnn.load_state_dict``), so every contender trains the same network from the
same start.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

import numpy as np
import torch
from flax import nnx

import jaxnn

State = dict[str, np.ndarray]


def torch_state(model: torch.nn.Module) -> State:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _tiny(nn: Any, init: dict) -> Any:
    return nn.Linear(3, 3, **init)


def _mlp(nn: Any, init: dict) -> Any:
    return nn.Sequential(OrderedDict(
        fc1=nn.Linear(784, 512, **init), relu1=nn.ReLU(),
        fc2=nn.Linear(512, 512, **init), relu2=nn.ReLU(),
        fc3=nn.Linear(512, 10, **init),
    ))


def _cnn(nn: Any, init: dict) -> Any:
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 16, 3, padding=1, **init), bn1=nn.BatchNorm2d(16), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(16, 32, 3, padding=1, **init), bn2=nn.BatchNorm2d(32), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        flatten=nn.Flatten(), fc=nn.Linear(32 * 7 * 7, 10, **init),
    ))


def _torch_model(build: Callable[[ModuleType, dict], Any]) -> Callable[[], torch.nn.Module]:
    return lambda: build(torch.nn, {})


def _jaxnn_model(build: Callable[[ModuleType, dict], Any]) -> Callable[[State], jaxnn.Module]:
    def make(state: State) -> jaxnn.Module:
        # The initial draw is overwritten by the torch model's weights.
        model = build(jaxnn, {"rngs": nnx.Rngs(0)})
        jaxnn.load_state_dict(model, state)
        return model

    return make


def _regression_data(batch: int, rng: np.random.Generator):
    return rng.standard_normal((batch, 3), dtype=np.float32), rng.standard_normal((batch, 3), dtype=np.float32)


def _digits(shape: tuple[int, ...]):
    def make(batch: int, rng: np.random.Generator):
        return rng.standard_normal((batch, *shape), dtype=np.float32), rng.integers(0, 10, batch)

    return make


@dataclass(frozen=True)
class ModelSpec:
    """A benchmark model: both implementations, its data, its criterion and forward FLOPs per example."""

    torch_model: Callable[[], torch.nn.Module]
    jaxnn_model: Callable[[State], jaxnn.Module]
    data: Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    criterion: str
    forward_flops: int


MODELS = {
    "tiny": ModelSpec(_torch_model(_tiny), _jaxnn_model(_tiny), _regression_data, "mse", 2 * 3 * 3),
    "mlp": ModelSpec(
        _torch_model(_mlp), _jaxnn_model(_mlp), _digits((784,)), "cross_entropy", 2 * (784 * 512 + 512 * 512 + 512 * 10)
    ),
    "cnn": ModelSpec(
        _torch_model(_cnn), _jaxnn_model(_cnn), _digits((1, 28, 28)), "cross_entropy",
        2 * (16 * 28 * 28 * 9 + 32 * 14 * 14 * 16 * 9 + 32 * 7 * 7 * 10),
    ),
}

# Training-suite configurations: name -> (model, batch, steps per scan call). The
# scan length keeps one call near or under ~100 ms: long enough to amortise the
# dispatch it exists to remove, short enough for several interleaved rounds.
CONFIGS = {
    "tiny": ("tiny", 32, 100),
    "mlp128": ("mlp", 128, 20),
    "mlp1024": ("mlp", 1024, 4),
    "cnn64": ("cnn", 64, 4),
}
