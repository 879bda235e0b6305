"""The training suite's models, each written twice: torch (the reference) and jaxnn.

The jaxnn models are hand-written on ``jaxnn.Module`` / ``jaxnn.Parameter`` in
torch's layout (Linear weight ``(out, in)``, NCHW convolutions, BatchNorm with
torch's momentum and unbiased running variance) and are loaded from the torch
model's weights, so every contender trains the same network from the same
start. When ``jaxnn.nn`` has its layers, this is the one file to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import torch
from jax import lax

import jaxnn

State = dict[str, np.ndarray]


def torch_state(model: torch.nn.Module) -> State:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


class Linear(jaxnn.Module):
    def __init__(self, state: State, prefix: str):
        self.weight = jaxnn.Parameter(state[prefix + "weight"])
        self.bias = jaxnn.Parameter(state[prefix + "bias"])

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.weight[...].T + self.bias[...]


class Conv2d(jaxnn.Module):
    """3x3, stride 1, padding 1, NCHW / OIHW as torch stores it."""

    def __init__(self, state: State, prefix: str):
        self.weight = jaxnn.Parameter(state[prefix + "weight"])
        self.bias = jaxnn.Parameter(state[prefix + "bias"])

    def __call__(self, x: jax.Array) -> jax.Array:
        y = lax.conv_general_dilated(
            x, self.weight[...], (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW")
        )
        return y + self.bias[...][None, :, None, None]


class BatchNorm2d(jaxnn.Module):
    """torch's BatchNorm2d: biased batch variance to normalise, unbiased for running_var, momentum 0.1."""

    momentum = 0.1
    eps = 1e-5

    def __init__(self, state: State, prefix: str):
        self.weight = jaxnn.Parameter(state[prefix + "weight"])
        self.bias = jaxnn.Parameter(state[prefix + "bias"])
        self.running_mean = jaxnn.Buffer(state[prefix + "running_mean"])
        self.running_var = jaxnn.Buffer(state[prefix + "running_var"])

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.training:
            mean = x.mean(axis=(0, 2, 3))
            var = x.var(axis=(0, 2, 3))
            count = x.size // x.shape[1]
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean[...] + m * mean
            self.running_var[...] = (1 - m) * self.running_var[...] + m * var * count / (count - 1)
        else:
            mean, var = self.running_mean[...], self.running_var[...]
        scale = self.weight[...] * lax.rsqrt(var + self.eps)
        return (x - mean[None, :, None, None]) * scale[None, :, None, None] + self.bias[...][None, :, None, None]


def _max_pool2(x: jax.Array) -> jax.Array:
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


class Tiny(jaxnn.Module):
    """The docs' example: y = x @ W + b with a 3x3 W."""

    def __init__(self, state: State):
        self.weight = jaxnn.Parameter(state["weight"])
        self.bias = jaxnn.Parameter(state["bias"])

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.weight[...] + self.bias[...]


class MLP(jaxnn.Module):
    def __init__(self, state: State):
        self.fc1 = Linear(state, "fc1.")
        self.fc2 = Linear(state, "fc2.")
        self.fc3 = Linear(state, "fc3.")

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc3(jax.nn.relu(self.fc2(jax.nn.relu(self.fc1(x)))))


class CNN(jaxnn.Module):
    def __init__(self, state: State):
        self.conv1 = Conv2d(state, "conv1.")
        self.bn1 = BatchNorm2d(state, "bn1.")
        self.conv2 = Conv2d(state, "conv2.")
        self.bn2 = BatchNorm2d(state, "bn2.")
        self.fc = Linear(state, "fc.")

    def __call__(self, x: jax.Array) -> jax.Array:
        x = _max_pool2(jax.nn.relu(self.bn1(self.conv1(x))))
        x = _max_pool2(jax.nn.relu(self.bn2(self.conv2(x))))
        return self.fc(x.reshape(x.shape[0], -1))


class TorchTiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(3, 3))
        self.bias = torch.nn.Parameter(torch.randn(3))

    def forward(self, x):
        return x @ self.weight + self.bias


class TorchMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 512)
        self.fc2 = torch.nn.Linear(512, 512)
        self.fc3 = torch.nn.Linear(512, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class TorchCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(16)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(32)
        self.fc = torch.nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.flatten(1))


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
    "tiny": ModelSpec(TorchTiny, Tiny, _regression_data, "mse", 2 * 3 * 3),
    "mlp": ModelSpec(TorchMLP, MLP, _digits((784,)), "cross_entropy", 2 * (784 * 512 + 512 * 512 + 512 * 10)),
    "cnn": ModelSpec(
        TorchCNN, CNN, _digits((1, 28, 28)), "cross_entropy",
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
