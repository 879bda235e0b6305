"""``python -m jaxnn``: the version, the JAX backend, and a quick self-check.

``python -m jaxnn --version`` prints the version only. Without arguments it also
runs one jitted forward/backward/optimizer step of a small model on the default
backend and prints what it found, so an install can be checked in a second.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def self_check() -> str:
    """One jitted Linear -> cross_entropy -> grad -> SGD step; a line describing it, or an exception.

    >>> "self-check ok" in self_check()
    True
    """
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    import jaxnn
    import jaxnn.functional as F

    model = jaxnn.Linear(4, 3, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    tx = jaxnn.optim.SGD(lr=0.1)
    opt_state = tx.init(params)
    x = jnp.arange(8.0).reshape(2, 4) / 8
    y = jnp.array([0, 2])

    @jax.jit
    def step(params, opt_state):
        def loss_fn(p):
            return F.cross_entropy(nnx.merge(graphdef, p)(x), y)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params, opt_state, first = step(params, opt_state)
    _, _, second = step(params, opt_state)
    if not (bool(jnp.isfinite(second)) and float(second) < float(first)):
        raise RuntimeError(f"self-check failed: the loss went from {float(first)} to {float(second)}")
    return (
        f"self-check ok: one SGD step took the loss from {float(first):.4f} to {float(second):.4f} "
        f"on {jax.default_backend()}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    import jaxnn

    parser = argparse.ArgumentParser(prog="python -m jaxnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    print(f"jaxnn {jaxnn.__version__}")
    if args.version:
        return 0
    import flax
    import jax
    import optax

    print(f"jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}, devices {jax.devices()}")
    print(self_check())
    return 0


if __name__ == "__main__":
    sys.exit(main())
