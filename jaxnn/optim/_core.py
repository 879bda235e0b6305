"""The machinery every torch optimizer shares: state, parameter groups, torch's checks.

An optimizer is described by a :class:`Rule`: the torch state slots it keeps
(``exp_avg``, ``momentum_buffer``, ...) and a per-parameter step that mirrors
torch's ``_single_tensor_<name>`` function operation for operation. :func:`build`
turns a rule plus torch's param-group dicts into an ``optax`` transformation.
Every optimizer factory is decorated with :func:`rejects_parameters`, so torch's
``Name(model.parameters(), lr=...)`` call raises a TypeError showing the jaxnn call.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp
import optax

from .._torch_habits import rejects_parameters as rejects_parameters

ScalarOrSchedule = Union[float, optax.Schedule]
Labels = Union[None, Any, Callable[[Any], Any]]

# torch's wording for each non-negative hyper-parameter it checks.
_LABELS = {
    "lr": "learning rate",
    "eps": "epsilon value",
    "momentum": "momentum value",
    "weight_decay": "weight_decay value",
    "alpha": "alpha value",
    "lr_decay": "lr_decay value",
    "initial_accumulator_value": "initial_accumulator_value value",
    "momentum_decay": "momentum_decay value",
}


class OptimizerState(NamedTuple):
    """State of every jaxnn optimizer.

    Attributes:
      count: int32 scalar, optimizer steps taken so far (torch's ``state['step']``).
      slots: torch's per-parameter state names (``'exp_avg'``, ``'momentum_buffer'``,
        ...) -> a pytree shaped like the parameters.
    """

    count: jax.Array  # type: ignore[assignment]  # the field shadows tuple.count, as state['step'] needs
    slots: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Rule:
    """One torch optimizer's per-parameter algorithm.

    Attributes:
      name: torch's class name.
      slots: ``group -> names`` of the state a group keeps, in torch's key order.
      step: ``(group, t, lr, grad, param, slots) -> (update, new_slots)``; ``t``
        is the 1-based step number in the parameter's dtype, ``grad`` already
        has ``maximize`` and L2 weight decay applied, ``update`` is what
        ``optax.apply_updates`` adds.
      decoupled: ``group -> bool``, whether weight decay scales the parameter
        (AdamW style) instead of being added to the gradient.
      init: slot name -> ``(group, param) -> initial value`` where it is not zeros.
      init_from_defaults: initial values read the constructor's arguments, not
        the parameter's group (torch's Adagrad fills ``sum`` with the
        constructor's ``initial_accumulator_value`` for every group).
      leaf_slots: ``(group, param) -> names`` where the state a parameter keeps
        depends on the parameter itself (Adafactor: factored moments for
        >= 2-d parameters only); a leaf holds a size-0 placeholder for the
        group's other slots. ``None``: every leaf keeps ``slots(group)``.
      check_param: ``param -> None``, raising for a parameter torch refuses
        (Muon: not 2-d; complex ones: :func:`refuse_complex`); run by ``init`` and ``update``.
    """

    name: str
    slots: Callable[[Mapping[str, Any]], tuple[str, ...]]
    step: Callable[..., tuple[jax.Array, dict[str, jax.Array]]]
    decoupled: Callable[[Mapping[str, Any]], bool] = lambda group: False
    init: Mapping[str, Callable[[Mapping[str, Any], jax.Array], jax.Array]] = dataclasses.field(
        default_factory=dict
    )
    init_from_defaults: bool = False
    leaf_slots: Callable[[Mapping[str, Any], jax.Array], tuple[str, ...]] | None = None
    check_param: Callable[[jax.Array], None] | None = None


def refuse_complex(error: type[Exception], message: str) -> Callable[[jax.Array], None]:
    """A ``Rule.check_param`` raising ``error(message)`` for a complex parameter, as torch's
    Adafactor, Muon and SparseAdam refuse them (jaxnn raises at ``init``, torch at its
    step or constructor)."""

    def check(p: jax.Array) -> None:
        if jnp.iscomplexobj(p):
            raise error(message)

    return check


def slots_of(rule: Rule, group: Mapping[str, Any], param: Any) -> tuple[str, ...]:
    """The names of the state ``param`` keeps under ``rule`` in ``group``, in torch's key order."""
    return rule.slots(group) if rule.leaf_slots is None else rule.leaf_slots(group, param)


class TorchOptimizer(optax.GradientTransformationExtraArgs):
    """An ``optax.GradientTransformationExtraArgs`` that also knows its torch identity.

    Besides ``init``/``update`` it carries ``rule`` (the algorithm),
    ``param_groups`` (torch's group dicts without ``'params'``) and ``labels``
    (which group each parameter leaf belongs to), used by
    :func:`jaxnn.optim.state_dict` and :func:`jaxnn.optim.load_state_dict`.
    """


def check_lr_elements(lr: Any) -> None:
    """torch's first check of a Tensor lr (here an array): it must hold one element."""
    if not callable(lr) and jnp.size(lr) != 1:
        raise ValueError("Tensor lr must be 1-element")


def check_nonnegative(**values: Any) -> None:
    """Raises torch's ``ValueError('Invalid <what>: <value>')`` for a negative hyper-parameter.

    An array ``lr`` (torch's Tensor lr) must hold one element, as torch checks first.
    """
    for name, value in values.items():
        if callable(value):
            continue
        if name == "lr":
            check_lr_elements(value)
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_LABELS[name]}: {value}")


def check_betas(betas: Sequence[float]) -> tuple[float, float]:
    """torch's ``0 <= beta < 1`` check for ``betas=(beta1, beta2)``."""
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    return (float(betas[0]), float(betas[1]))


def adam_family_group(
    lr: Any,
    betas: Sequence[float],
    eps: float,
    weight_decay: float,
    *,
    nonnegative: Sequence[str] = (),
    same_kind_betas: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """torch's param-group dict of an Adam-family optimizer, its hyper-parameters checked first.

    The checks run in torch's order: ``lr``, ``eps``, ``betas``, ``weight_decay``,
    then the ``options`` named in ``nonnegative`` (NAdam's ``momentum_decay``),
    then, with ``same_kind_betas`` (Adam, AdamW), torch's refusal of betas
    mixing a Python number and a Tensor (here an array). The dict holds ``lr``,
    ``betas`` (as floats), ``eps``, ``weight_decay``, then ``options`` in the
    order given: each optimizer passes them in its torch ``defaults`` order, so
    ``state_dict``'s groups list their keys as torch's do.
    """
    check_nonnegative(lr=lr, eps=eps)
    checked = check_betas(betas)
    check_nonnegative(weight_decay=weight_decay, **{name: options[name] for name in nonnegative})
    if same_kind_betas and isinstance(betas[0], jax.Array) != isinstance(betas[1], jax.Array):
        raise ValueError("betas must be either both floats or both Tensors")
    return dict(lr=lr, betas=checked, eps=eps, weight_decay=weight_decay, **options)


def moments(slots: Mapping[str, jax.Array], g: jax.Array, beta1: float, beta2: float) -> tuple[jax.Array, jax.Array]:
    """torch's ``exp_avg.lerp_(g, 1 - beta1)`` and ``exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)``."""
    m = lerp(slots["exp_avg"], g, 1 - beta1)
    v = slots["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
    return m, v


def one_minus_pow(beta: float | jax.Array, t: jax.Array) -> jax.Array:
    """``1 - beta**t`` without float32's cancellation (torch does it in double on the host).

    ``beta`` may be a traced scalar (a scheduled beta1); ``t >= 1`` there, so
    ``beta == 0`` gives ``-expm1(-inf) == 1`` as it should.
    """
    if not isinstance(beta, (int, float)):
        return -jnp.expm1(t * jnp.log(jnp.asarray(beta, t.dtype)))
    if beta == 0.0:
        return jnp.ones_like(t)
    return -jnp.expm1(t * math.log(beta))


def addcdiv_term(value: float | jax.Array, num: jax.Array, den: jax.Array) -> jax.Array:
    """The term ``value * num / den`` of torch's ``p.addcdiv_(num, den, value=value)``, in its order.

    torch multiplies first. Where ``value * num`` falls below the smallest
    normal number torch keeps it as a subnormal, XLA flushes it to zero; a
    zero ``den`` then turns torch's +-inf into nan, and a small ``den`` torch's
    finite quotient into 0. There (and only there) the quotient is formed
    first, which gives torch's number.
    """
    product = value * num
    flushed = (product == 0) & (num != 0) & (value != 0)
    return jnp.where(flushed, value * (num / den), product / den)


def two_product(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(p, e)`` with ``p = a * b`` rounded and ``p + e == a * b`` exactly (Dekker's product, Veltkamp split).

    Exact where no partial product leaves the normal range: ``e`` is inf or nan
    where the split overflows (``|a|`` or ``|b|`` near the dtype's maximum) and
    may be inexact where a partial product is subnormal (XLA flushes it).
    """
    split = 2.0 ** ((jnp.finfo(jnp.result_type(a, b)).nmant + 2) // 2) + 1

    def halves(x):
        c = split * x
        hi = c - (c - x)
        return hi, x - hi

    ah, al = halves(a)
    bh, bl = halves(b)
    p = a * b
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def two_sum(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(s, e)`` with ``s = a + b`` rounded and ``s + e == a + b`` exactly (Knuth's branch-free form)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fma(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """``a * b + c`` rounded once, as torch's CPU kernels compute ``c.add(b, alpha=a)`` (a fused multiply-add).

    (torch's vectorised kernels use the CPU's FMA instruction, and so fuse on
    every x86-64 CPU since Haswell.) Eager JAX rounds the product and the sum separately (``jax.jit`` often
    contracts them, depending on fusion), so the result can be an ulp off
    torch's; that ulp matters where a later step is pure rounding noise
    (RMSprop centered with ``alpha=0``, whose variance ``v - gbar**2`` is the
    rounding error of ``g * g``). Boldo and Melquiond's emulation (2008): the
    exact product ``uh + ul``, ``c + uh = th + tl`` exactly, ``tl + ul``
    rounded to odd, then ``th`` plus that rounded to nearest. Where a partial
    result is not finite the plain ``a * b + c`` is kept.
    """
    uh, ul = two_product(a, b)
    th, tl = two_sum(c, uh)
    v, err = two_sum(tl, ul)
    # Round to odd: truncate toward zero (one step down in magnitude where the error points that way), then
    # set the last bit if inexact. On the bit pattern, so it vectorises (nextafter does not).
    uint = jnp.dtype(f"uint{8 * v.dtype.itemsize}")
    bits = jax.lax.bitcast_convert_type(v, uint)
    toward_zero = ((err < 0) & (v > 0)) | ((err > 0) & (v < 0))
    odd = jnp.where(err != 0, (bits - toward_zero.astype(uint)) | uint.type(1), bits)
    out = th + jax.lax.bitcast_convert_type(odd, v.dtype)
    return jnp.where(jnp.isfinite(out) & jnp.isfinite(ul), out, a * b + c)


def add_scaled(g: jax.Array, p: jax.Array, alpha: float | jax.Array) -> jax.Array:
    """torch's ``g.add(p, alpha=alpha)`` (L2 weight decay): for float32/float64 one :func:`fma`, as torch's CPU kernel.

    Other dtypes keep ``g + alpha * p``: torch does not fuse complex ones, and
    rounds half-precision ones along shape-dependent paths (``alpha`` rounded
    to the half type first; a 0-d tensor in half-precision steps).
    """
    dtype = jnp.result_type(g, p)
    if dtype not in (jnp.float32, jnp.float64):
        return g + alpha * p
    return fma(jnp.asarray(alpha, dtype), jnp.asarray(p, dtype), jnp.asarray(g, dtype))


def sub_square(v: jax.Array, a: jax.Array) -> jax.Array:
    """torch's ``v.addcmul(a, a, value=-1)``: ``v - a * a`` rounded once, as its CPU kernel's fused multiply-add.

    The difference of a variance estimate and a squared mean cancels (RMSprop's
    centered ``square_avg - grad_avg**2`` of a constant gradient): rounded
    twice it is exactly 0, torch's fused form leaves the rounding error of
    ``a * a``, and a zero there makes ``sqrt(0) + eps == 0`` a division by 0.
    The exact error of ``a * a`` comes from :func:`two_product`; where it
    overflows (``|a|`` near the dtype's maximum) the plain difference is kept.
    """
    p, err = two_product(a, a)
    diff = v - p
    return jnp.where(jnp.isfinite(err), diff - err, diff)


def update_to(new: jax.Array, p: jax.Array) -> jax.Array:
    """The update ``optax.apply_updates`` adds to ``p`` to land on torch's in-place result ``new``.

    0 where the two are equal, so an infinite parameter torch keeps infinite
    (``p * (1 - lr * wd) + step``) does not become ``inf - inf = nan``.
    """
    return jnp.where(new == p, jnp.zeros_like(p), new - p)


def lerp(start: jax.Array, end: jax.Array, weight: float | jax.Array) -> jax.Array:
    """``torch.lerp`` with a scalar weight, in its two-branch form so float32 rounds alike."""
    if not isinstance(weight, (int, float)):
        w = jnp.asarray(weight, start.dtype)
        return jnp.where(jnp.abs(w) < 0.5, start + w * (end - start), end - (end - start) * (1 - w))
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - jnp.asarray(weight, start.dtype))


def leaf_labels(labels: Labels, params: Any, n_groups: int) -> list[int]:
    """The group index of each parameter leaf, in ``jax.tree.leaves(params)`` order."""
    treedef: Any = jax.tree.structure(params)  # Any: jaxlib ships no stub for PyTreeDef's methods
    if labels is None:
        return [0] * treedef.num_leaves
    tree = labels(params) if callable(labels) else labels
    flat = treedef.flatten_up_to(tree)
    for i, label in enumerate(flat):
        if not isinstance(label, int) or not 0 <= label < n_groups:
            raise ValueError(
                f"param_groups labels must be ints in [0, {n_groups}) (one per parameter leaf); "
                f"leaf {i} has {label!r}"
            )
    return flat


def _lr_at(lr: ScalarOrSchedule, count: jax.Array) -> Any:
    return lr(count) if callable(lr) else lr


def _cycle_momentum(group: dict[str, Any]) -> dict[str, Any]:
    """An lr schedule carrying ``.momentum`` (OneCycleLR's ``cycle_momentum``) takes over momentum or beta1.

    torch's OneCycleLR rewrites ``momentum`` (or ``betas[0]`` where the
    optimizer has betas) in the optimizer's groups at every step, and raises
    for an optimizer with neither.
    """
    momentum = getattr(group.get("lr"), "momentum", None)
    if momentum is None:
        return group
    if "betas" in group:
        return {**group, "betas": (momentum, group["betas"][1])}
    if "momentum" in group:
        return {**group, "momentum": momentum}
    raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")


def _scheduled_momentum(group: dict[str, Any], count: jax.Array) -> dict[str, Any]:
    """The group with a scheduled momentum / beta1 evaluated at ``count`` (the same count as the lr)."""
    if callable(group.get("momentum")):
        group = {**group, "momentum": group["momentum"](count)}
    if "betas" in group and callable(group["betas"][0]):
        group = {**group, "betas": (group["betas"][0](count), group["betas"][1])}
    return group


def _check_grad_shapes(name: str, treedef: Any, flat_g: list, flat_p: list) -> None:
    """torch: "assigned grad has data of a different size". Broadcasting would otherwise grow the state."""
    for i, (g, p) in enumerate(zip(flat_g, flat_p)):
        if jnp.shape(g) != jnp.shape(p):
            paths = jax.tree_util.tree_flatten_with_path(treedef.unflatten(flat_g))[0]
            raise ValueError(
                f"{name}.update: the gradient at {jax.tree_util.keystr(paths[i][0])} has shape {jnp.shape(g)}, "
                f"its parameter {jnp.shape(p)}"
            )


# A little over 60 lines: the init and update closures share the groups and slot names built here.
def build(
    rule: Rule,
    param_groups: Sequence[Mapping[str, Any]],
    labels: Labels = None,
    defaults: Mapping[str, Any] | None = None,
) -> TorchOptimizer:
    """An optax transformation running ``rule`` with one hyper-parameter dict per group.

    ``labels`` (a pytree of group indices shaped like the parameters, or a
    function of the parameters returning one) says which group each leaf
    belongs to; ``None`` puts every leaf in group 0. ``defaults`` is the
    constructor's group (default: the first group), for ``rule.init_from_defaults``.
    """
    groups = [_cycle_momentum(dict(g)) for g in param_groups]
    init_groups = [dict(defaults or groups[0])] * len(groups) if rule.init_from_defaults else groups
    slot_names = tuple(dict.fromkeys(name for g in groups for name in rule.slots(g)))

    def init_fn(params):
        treedef: Any  # Any: jaxlib ships no stub for PyTreeDef's methods
        flat, treedef = jax.tree.flatten(params)
        groups_of = leaf_labels(labels, params, len(groups))
        if rule.check_param is not None:
            for p in flat:
                rule.check_param(p)
        slots = {}
        for name in slot_names:
            make = rule.init.get(name, lambda g, p: jnp.zeros_like(p))
            leaves = []
            for k, p in zip(groups_of, flat):
                p = jnp.asarray(p)
                kept = name in slots_of(rule, groups[k], p)
                leaves.append(make(init_groups[k], p) if kept else jnp.zeros((0,), p.dtype))
            slots[name] = treedef.unflatten(leaves)
        return OptimizerState(count=jnp.zeros([], jnp.int32), slots=slots)

    def update_fn(grads, state, params=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError(f"{rule.name} needs the parameters: call update(grads, state, params)")
        treedef: Any  # Any: jaxlib ships no stub for PyTreeDef's methods
        flat_g, treedef = jax.tree.flatten(grads)
        flat_p = treedef.flatten_up_to(params)
        _check_grad_shapes(rule.name, treedef, flat_g, flat_p)
        if rule.check_param is not None:
            for p in flat_p:
                rule.check_param(p)
        flat_s = {name: treedef.flatten_up_to(tree) for name, tree in state.slots.items()}
        groups_of = leaf_labels(labels, params, len(groups))
        lrs = [_lr_at(g["lr"], state.count) for g in groups]
        at_count = [_scheduled_momentum(g, state.count) for g in groups]
        updates = []
        new_s = {name: list(leaves) for name, leaves in flat_s.items()}
        for i, (k, g, p) in enumerate(zip(groups_of, flat_g, flat_p)):
            group = groups[k]
            # Step-dependent scalars in at least float32 (torch: double on the host), so
            # bf16/fp16 parameters do not count steps in 8 bits of mantissa.
            scalar_dtype = jnp.promote_types(p.dtype, jnp.float32)
            lr = jnp.asarray(lrs[k], scalar_dtype) if callable(group["lr"]) else lrs[k]
            t = (state.count + 1).astype(scalar_dtype)
            if group.get("maximize", False):
                g = -g
            wd = group.get("weight_decay", 0)
            decoupled = wd != 0 and rule.decoupled(group)
            if wd != 0 and not decoupled:
                g = add_scaled(g, p, wd)
            slots = {name: flat_s[name][i] for name in slots_of(rule, group, p)}
            u, slots = rule.step(at_count[k], t, lr, g, p, slots)
            if decoupled:
                u = update_to(p * (1 - lr * wd) + u, p)
            updates.append(u.astype(p.dtype))
            for name, value in slots.items():
                new_s[name][i] = value.astype(flat_s[name][i].dtype)
        new_state = OptimizerState(
            count=optax.safe_int32_increment(state.count),
            slots={name: treedef.unflatten(leaves) for name, leaves in new_s.items()},
        )
        return treedef.unflatten(updates), new_state

    opt = TorchOptimizer(init_fn, update_fn)
    opt.rule = rule
    opt.param_groups = groups
    opt.labels = labels
    return opt


def param_groups(
    optimizer: Callable[..., TorchOptimizer],
    labels: Any,
    groups: Sequence[Mapping[str, Any]],
    **defaults: Any,
) -> TorchOptimizer:
    """torch's parameter groups: ``optimizer([{'params': ..., **overrides}, ...], **defaults)``.

    Args:
      optimizer: a jaxnn optimizer factory, e.g. ``jaxnn.optim.AdamW``.
      labels: a pytree of ints shaped like the parameters (or a function of the
        parameters returning one): leaf ``i`` belongs to ``groups[labels_i]``.
        Labels must be Python ints, so they are static under ``jit``.
      groups: one dict of overrides per group (e.g. ``{'weight_decay': 0.0}``),
        in torch's param_groups order.
      **defaults: the optimizer's keyword arguments shared by all groups.

    Returns:
      One transformation: each leaf is updated with ``optimizer(**{**defaults,
      **groups[label]})``'s rule, exactly as torch updates that param group.
      Hyper-parameters are validated per group as torch does.

    Example:
      >>> no_decay = lambda p: jax.tree.map(lambda x: int(x.ndim == 1), p)   # 1-D leaves: group 1
      >>> tx = param_groups(jaxnn.optim.AdamW, no_decay, [{}, {"weight_decay": 0.0}], lr=1e-3)
      >>> [g["weight_decay"] for g in tx.param_groups]
      [0.01, 0.0]
    """
    if not groups:
        raise ValueError("optimizer got an empty parameter list")
    built = [optimizer(**{**defaults, **g}) for g in groups]
    if built[0].rule is None:  # LBFGS: one flat problem, no per-parameter rule
        if len(built) > 1:
            raise ValueError(f"{optimizer.__name__} doesn't support per-parameter options (parameter groups)")
        return built[0]
    constructor = optimizer(**defaults).param_groups[0]
    return build(built[0].rule, [b.param_groups[0] for b in built], labels, constructor)
