"""Optimizer state <-> torch's ``optimizer.state_dict()`` layout, to resume runs across frameworks.

torch numbers parameters in the order they were given, group after group,
and keeps per parameter ``{'step': tensor(float), 'exp_avg': ..., ...}``.
jaxnn keeps one step count and one parameter-shaped tree per state name. The
mapping between torch's parameter index and the JAX leaf is ``order``: torch's
parameter ``i`` is ``jax.tree.leaves(params)[order[i]]``. By default leaves are
numbered group by group, in ``jax.tree.leaves`` order within a group.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._core import OptimizerState, TorchOptimizer, leaf_labels, slots_of

__all__ = ["state_dict", "load_state_dict"]

# torch.optim.SGD and Muon keep no step count; Adagrad creates its state in __init__, the others at step 1.
_NO_STEP = {"SGD", "Muon"}
_EAGER_STATE = {"Adagrad"}
# SparseAdam counts steps in a Python int.
_INT_STEP = {"SparseAdam"}
# Group keys that pick torch kernels, not numbers: a saved value never conflicts.
_SCHEDULER_KEYS = {"max_lr", "min_lr", "max_momentum", "base_momentum"}
_IMPLEMENTATION_KEYS = {"params", "foreach", "fused", "capturable", "differentiable", "initial_lr", "param_names"}


def _find_state(opt_state: Any) -> OptimizerState:
    if isinstance(opt_state, OptimizerState):
        return opt_state
    found = [s for s in opt_state if isinstance(s, OptimizerState)] if isinstance(opt_state, (tuple, list)) else []
    if len(found) != 1:
        raise TypeError(
            "expected the state of a jaxnn optimizer (OptimizerState) or of an optax.chain "
            f"holding exactly one, got {type(opt_state).__name__}"
        )
    return found[0]


def _torch_order(optimizer: TorchOptimizer, params: Any, order: Optional[Sequence[int]]) -> tuple[list[int], list[int]]:
    """(leaf index of each torch parameter, group of each leaf)."""
    groups_of = leaf_labels(optimizer.labels, params, len(optimizer.param_groups))
    n = len(groups_of)
    if order is None:
        order = sorted(range(n), key=lambda leaf: (groups_of[leaf], leaf))
    order = [int(i) for i in order]
    if sorted(order) != list(range(n)):
        raise ValueError(f"order must be a permutation of the {n} parameter leaves, got {order}")
    return order, groups_of


def state_dict(
    optimizer: TorchOptimizer,
    opt_state: Any,
    params: Any,
    order: Optional[Sequence[int]] = None,
) -> dict[str, Any]:
    """The optimizer state in torch's ``optimizer.state_dict()`` layout, as torch tensors.

    Args:
      optimizer: the jaxnn optimizer that produced ``opt_state``.
      opt_state: its state (or the state of an ``optax.chain`` containing it).
      params: the parameter pytree (for its structure and group labels).
      order: torch's parameter order as leaf indices (see the module notes).

    Returns:
      ``{'state': {i: {...}}, 'param_groups': [{..., 'params': [i, ...]}]}``,
      loadable with ``torch_optimizer.load_state_dict``. A scheduled ``lr`` is
      written as its value at the current step, as torch's group holds it.

    Example:
      >>> tx = jaxnn.optim.SGD(lr=0.1, momentum=0.9)
      >>> params = {"w": jnp.ones(2)}
      >>> sd = state_dict(tx, tx.init(params), params)
      >>> sd["param_groups"][0]["lr"], sd["param_groups"][0]["params"]
      (0.1, [0])
    """
    import torch

    if optimizer.rule is None:  # LBFGS: one flat state, its own layout
        return optimizer.torch_state_dict(opt_state, params)
    state = _find_state(opt_state)
    rule = optimizer.rule
    order, groups_of = _torch_order(optimizer, params, order)
    count = int(state.count)
    slots = {name: jax.tree.leaves(tree) for name, tree in state.slots.items()}
    flat_params = jax.tree.leaves(params)
    torch_state: dict[int, dict[str, Any]] = {}
    if count > 0 or rule.name in _EAGER_STATE:
        for i, leaf in enumerate(order):
            group = optimizer.param_groups[groups_of[leaf]]
            entry = (
                {}
                if rule.name in _NO_STEP
                else {"step": count if rule.name in _INT_STEP else torch.tensor(float(count))}
            )
            for name in slots_of(rule, group, flat_params[leaf]):
                value = np.asarray(slots[name][leaf])
                entry[name] = (
                    torch.tensor(value, dtype=torch.get_default_dtype())
                    if value.ndim == 0
                    else torch.from_numpy(value.copy())
                )
            if entry:
                torch_state[i] = entry
    param_groups = []
    for k, group in enumerate(optimizer.param_groups):
        g = dict(group)
        if callable(g["lr"]):
            g["lr"] = float(g["lr"](state.count))
        if callable(g.get("momentum")):
            g["momentum"] = float(g["momentum"](state.count))
        if "betas" in g and callable(g["betas"][0]):
            g["betas"] = (float(g["betas"][0](state.count)), g["betas"][1])
        g["params"] = [i for i, leaf in enumerate(order) if groups_of[leaf] == k]
        param_groups.append(g)
    return {"state": torch_state, "param_groups": param_groups}


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _check_groups(optimizer: TorchOptimizer, saved_groups: Sequence[dict], sizes: list[int]) -> None:
    if len(saved_groups) != len(optimizer.param_groups):
        raise ValueError(
            f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer {len(optimizer.param_groups)}"
        )
    for k, (saved, ours) in enumerate(zip(saved_groups, optimizer.param_groups)):
        if len(saved["params"]) != sizes[k]:
            raise ValueError(
                f"loaded param group {k} has {len(saved['params'])} parameters, the optimizer's {sizes[k]}"
            )
        for key, value in saved.items():
            if key in _IMPLEMENTATION_KEYS or (key == "lr" and callable(ours.get("lr"))):
                continue
            if key in _SCHEDULER_KEYS and callable(ours.get("lr")):
                continue  # written into the group by torch's scheduler; here the schedule holds them
            if key in ("momentum", "betas") and hasattr(ours.get("lr"), "momentum"):
                continue  # OneCycleLR's cycle_momentum: the schedule drives them
            mine = ours.get(key)
            same = tuple(value) == tuple(mine) if isinstance(value, (tuple, list)) else value == mine
            if not same:
                raise ValueError(
                    f"param group {k}: the saved {key}={value!r} differs from this optimizer's "
                    f"{key}={mine!r}; jaxnn hyper-parameters are fixed at construction, so build "
                    "the optimizer with the saved values"
                )


def load_state_dict(
    optimizer: TorchOptimizer,
    params: Any,
    torch_state_dict: dict[str, Any],
    order: Optional[Sequence[int]] = None,
    count: Optional[int] = None,
) -> OptimizerState:
    """Builds this optimizer's state from torch's ``optimizer.state_dict()``.

    Args:
      optimizer: a jaxnn optimizer with the same hyper-parameters and groups as
        the torch one (a mismatch raises ``ValueError``, since torch would
        silently switch to the saved values).
      params: the parameter pytree the state is for.
      torch_state_dict: ``torch_optimizer.state_dict()`` (tensors or arrays).
      order: torch's parameter order as leaf indices (see the module notes).
      count: the step count; default the saved ``'step'``. torch's SGD saves
        none, so there it defaults to 1 if a momentum buffer exists, else 0
        (pass it when a schedule must resume at the right step).

    Returns:
      The state to pass to ``optimizer.update`` (for LBFGS an :class:`LBFGSState`).
    """
    rule = optimizer.rule
    if rule is None:  # LBFGS
        return optimizer.from_torch_state_dict(params, torch_state_dict)
    order, groups_of = _torch_order(optimizer, params, order)
    sizes = [groups_of.count(k) for k in range(len(optimizer.param_groups))]
    _check_groups(optimizer, torch_state_dict["param_groups"], sizes)
    # torch's indices in the saved groups, in group order, are its parameter order.
    saved_index = [i for g in torch_state_dict["param_groups"] for i in g["params"]]
    state = optimizer.init(params)
    treedef: Any = jax.tree.structure(params)  # Any: jaxlib ships no stub for PyTreeDef's methods
    slots = {name: jax.tree.leaves(tree) for name, tree in state.slots.items()}
    flat_params = jax.tree.leaves(params)
    steps = set()
    for position, leaf in enumerate(order):
        entry = torch_state_dict["state"].get(saved_index[position])
        if entry is None:
            continue
        for name in slots_of(rule, optimizer.param_groups[groups_of[leaf]], flat_params[leaf]):
            if name not in entry:
                raise ValueError(f"torch state of parameter {saved_index[position]} has no {name!r}")
            value = _to_numpy(entry[name])
            expected = slots[name][leaf].shape
            if value.shape != expected:
                raise ValueError(
                    f"torch state {name!r} of parameter {saved_index[position]} has shape "
                    f"{value.shape}, the parameter leaf {leaf} needs {expected}"
                )
            slots[name][leaf] = jnp.asarray(value, slots[name][leaf].dtype)
        if "step" in entry:
            steps.add(float(_to_numpy(entry["step"])))
        elif rule.name in _NO_STEP:
            steps.add(1.0)
    if count is None:
        if len(steps) > 1:
            raise ValueError(f"torch state has different steps per parameter {sorted(steps)}; jaxnn keeps one")
        count = int(steps.pop()) if steps else 0
    return OptimizerState(
        count=jnp.asarray(count, jnp.int32),
        slots={name: treedef.unflatten(leaves) for name, leaves in slots.items()},
    )
