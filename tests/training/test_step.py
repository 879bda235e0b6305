"""The jitted train step against a hand-written torch loop on the same model and batches."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

import jaxnn
from jaxnn.training import make_train_step, split_model


class MyModel(jaxnn.Module):
    def __init__(self, *, rngs):
        self.weight = jaxnn.Parameter(jax.random.normal(rngs.params(), (3, 3)))
        self.bias = jaxnn.Parameter(jax.random.normal(rngs.params(), (3,)))

    def __call__(self, x):
        return x @ self.weight + self.bias


class TorchModel(torch.nn.Module):
    def __init__(self, w, b):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor(w))
        self.bias = torch.nn.Parameter(torch.tensor(b))

    def forward(self, x):
        return x @ self.weight + self.bias


def _batches(steps, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    w_true = rng.standard_normal((3, 3)).astype(np.float32)
    xs = rng.standard_normal((steps, batch, 3)).astype(np.float32)
    ys = (xs @ w_true + 0.5 + 0.01 * rng.standard_normal((steps, batch, 3))).astype(np.float32)
    return xs, ys


def test_sgd_cycle_matches_torch_for_100_steps():
    steps, lr = 100, 0.05
    model = MyModel(rngs=nnx.Rngs(0))
    graphdef, params, rest = split_model(model)
    tmodel = TorchModel(np.asarray(model.weight[...]), np.asarray(model.bias[...]))
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
    tcrit = torch.nn.MSELoss()

    opt = optax.sgd(lr)
    opt_state = opt.init(params)
    step = make_train_step(graphdef, jaxnn.MSELoss(), opt)
    xs, ys = _batches(steps)
    jl, tl = [], []
    for x, y in zip(xs, ys):
        params, rest, opt_state, loss = step(params, rest, opt_state, (x, y))
        jl.append(float(loss))
        topt.zero_grad()
        tloss = tcrit(tmodel(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        tl.append(tloss.item())
    assert jl[-1] < jl[0] / 10, "the loss should fall"
    # Both sides run the same float32 ops per step; rounding differs only in the
    # order of the 16x3 reductions, so the drift stays within a few ulps of the
    # parameters' magnitude (~1) over 100 steps.
    chex.assert_trees_all_close(np.array(jl), np.array(tl), rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(params["weight"][...], tmodel.weight.detach().numpy(), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(params["bias"][...], tmodel.bias.detach().numpy(), rtol=1e-5, atol=1e-5)
