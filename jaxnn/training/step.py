"""The forward -> loss -> backward -> step cycle as one pure, jitted function.

The model is split once into a static ``graphdef`` and two pytrees: the
learnable parameters (``nnx.Param``) and the rest (buffers, frozen parameters,
BatchNorm statistics, rng stream counters). A step merges them, runs forward and
the criterion, differentiates with ``jax.value_and_grad`` with respect to the
parameters only, and applies an optax update. The rest comes back as the
forward pass left it, so running statistics and rng counters are threaded
through the loop as explicit state. Parameters, rest and optimizer state are
donated, so XLA updates them in place.

Training mode is static module data in nnx (it lives in the graphdef), so the
train step is built from a graphdef in training mode and the eval step from one
in evaluation mode; given a model, both are derived from it without touching
the caller's model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import zlib
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from ..functional import conv as _conv
from .precision import find_loss_scale

__all__ = [
    "StepOptions",
    "make_train_step",
    "make_eval_step",
    "make_multi_step",
    "split_model",
    "mode_graphdef",
]

Batch = Any
Metrics = dict[str, jax.Array]
MetricFn = Callable[[jax.Array, jax.Array], jax.Array]
PureState = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class StepOptions:
    """What a train step does besides forward, backward and update; one value from ``fit`` to the builders.

    Attributes:
      accumulate_steps: split each batch into this many equal micro-batches
        along axis 0, run forward/backward on each in turn (a ``lax.scan``, so
        peak activation memory is one micro-batch's) and average the gradients
        before one optimizer update: torch's ``(loss / k).backward()`` loop.
        Buffers (BatchNorm statistics) are updated once per micro-batch, as in
        that loop.
      compute_dtype: e.g. ``jnp.bfloat16``: parameters and floating inputs are
        cast to it for the forward and backward pass; the parameters as given
        stay the master copy the optimizer updates (never rounded through the
        compute dtype), and the model output is cast to float32 before the
        criterion (torch autocast's choice for losses).
      loss_scale: multiply the loss by this before differentiating and divide
        the gradient by it after (static loss scaling, for float16 compute).
        For torch's ``GradScaler`` wrap the optimizer with
        :func:`~jaxnn.training.dynamic_loss_scale` instead (anywhere in an
        ``optax.chain``: the step finds its state); ``loss_scale`` then stays
        ``None``.
      skip_nonfinite: if the loss or the gradient norm is nan/inf (the loss
        only, under dynamic loss scaling), return the input state unchanged --
        the buffers are donated, so this is how the last good state survives.
      grad_norm: put the gradient's global L2 norm into the metrics (what
        torch's ``clip_grad_norm_`` returns). ``False`` leaves metrics with the
        loss only: one reduction over every gradient and one output array less
        per call, about 2 us of a 15 us step on a tiny model (the norm is still
        computed, not returned, when ``skip_nonfinite`` needs it). ``fit``
        always records it.

    >>> StepOptions(accumulate_steps=2).replace(skip_nonfinite=True)
    StepOptions(accumulate_steps=2, compute_dtype=None, loss_scale=None, skip_nonfinite=True, grad_norm=True)
    """

    accumulate_steps: int = 1
    compute_dtype: Any = None
    loss_scale: float | None = None
    skip_nonfinite: bool = False
    grad_norm: bool = True

    def __post_init__(self) -> None:
        if self.accumulate_steps < 1:
            raise ValueError(f"accumulate_steps must be >= 1, got {self.accumulate_steps}")
        if self.loss_scale is not None and not self.loss_scale > 0:
            raise ValueError(f"loss_scale must be a positive number, got {self.loss_scale}")

    def replace(self, **changes: Any) -> StepOptions:
        """A copy with ``changes`` (field names only; unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)


def _options(options: StepOptions | None, changes: dict[str, Any]) -> StepOptions:
    options = StepOptions() if options is None else options
    if not isinstance(options, StepOptions):
        raise TypeError(f"options must be a StepOptions, got {type(options).__name__}")
    fields = {f.name for f in dataclasses.fields(StepOptions)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise TypeError(f"unknown step option(s) {unknown}; StepOptions has {sorted(fields)}")
    return options.replace(**changes) if changes else options


def _is_state(x: Any) -> bool:
    return isinstance(x, nnx.State)


def to_pure(tree: Any) -> Any:
    """``tree`` with every ``nnx.State`` in it (at any depth, e.g. optimizer moments) as a plain nested dict.

    Plain dicts of arrays cross ``jax.jit``'s boundary in its C++ fast path;
    ``nnx.State`` and ``nnx.Variable`` flatten through Python callbacks on every
    call, which is most of a small model's per-step time.
    """
    return jax.tree.map(lambda s: nnx.to_pure_dict(s) if _is_state(s) else s, tree, is_leaf=_is_state)


class SplitModel(NamedTuple):
    graphdef: nnx.GraphDef
    params: PureState
    rest: PureState


def split_model(model: nnx.Module) -> SplitModel:
    """``nnx.split(model, nnx.Param, ...)`` as a named triple (graphdef, params, rest) of plain dicts.

    ``params`` and ``rest`` are nested dicts of arrays (``nnx.to_pure_dict``),
    the form the steps take and return, and copies: the steps donate their
    inputs, and ``nnx.split`` alone would hand them the model's own arrays,
    leaving the model holding deleted buffers after the first step. The model
    does not see the steps' results until they are written back with
    ``nnx.update(model, params, rest)``; ``nnx.merge(graphdef, params, rest)``
    builds a new model from them.

    >>> import jaxnn
    >>> from flax import nnx
    >>> graphdef, params, rest = split_model(jaxnn.Linear(3, 2, rngs=nnx.Rngs(0)))
    >>> sorted(params), params["weight"].shape
    (['bias', 'weight'], (2, 3))
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]  # flax types split's result as variadic; two filters give three parts
    return SplitModel(graphdef, *jax.tree.map(jnp.copy, to_pure((params, rest))))


def mode_graphdef(model_or_graphdef: nnx.Module | nnx.GraphDef, training: bool) -> nnx.GraphDef:
    """The graphdef of ``model`` switched to training (``True``) or evaluation mode.

    A graphdef is returned unchanged: its mode was fixed when it was split. The
    caller's model is left in the mode it had: the switch happens on a shallow
    copy that shares the (immutable) arrays.
    """
    if isinstance(model_or_graphdef, nnx.GraphDef):
        return model_or_graphdef
    if not isinstance(model_or_graphdef, nnx.Module):
        raise TypeError(
            "model_or_graphdef must be an nnx.Module or an nnx.GraphDef, got "
            f"{type(model_or_graphdef).__name__}" + _torch_hint(model_or_graphdef)
        )
    twin = nnx.merge(*nnx.split(model_or_graphdef))
    twin.train() if training else twin.eval()
    return nnx.graphdef(twin)


def _torch_hint(obj: Any) -> str:
    if type(obj).__module__.startswith("torch"):
        return "; this is a torch object: build the jaxnn twin (jaxnn.nn has the same classes) and load its weights"
    return ""


def _reseed(model: nnx.Module, rng: jax.Array) -> None:
    # Each stream gets a key that depends on the step key and the stream's name
    # only, so adding a stream to a model does not change the others' masks.
    names = {node.tag for _, node in nnx.iter_graph(model) if isinstance(node, nnx.RngStream)}
    if names:
        keys = {n: jax.random.fold_in(rng, zlib.crc32(n.encode())) for n in names}
        nnx.reseed(model, **keys)  # type: ignore[arg-type]  # stream names, not reseed's own options


def _unpack(batch: Batch) -> tuple[Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            f"batch must be a pair (inputs, target), got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    return batch[0], batch[1]


def _cast_floats(tree: Any, dtype: Any) -> Any:
    if dtype is None:
        return tree
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a, tree
    )


def _run_model(graphdef, params, rest, inputs, rng):
    """The model merged from ``params`` and ``rest`` applied to ``inputs``: (output, params after, rest after)."""
    model = nnx.merge(graphdef, params, rest, copy=True)
    if rng is not None:
        _reseed(model, rng)
    output = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
    _, after, new_rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]  # flax types split's result as variadic; two filters give three parts
    return output, nnx.to_pure_dict(after), nnx.to_pure_dict(new_rest)


def _forwarded(fn: Callable, params: Any) -> list[bool]:
    """For each leaf of ``params``: does ``fn(params)`` hand it back untouched (a jaxpr pass-through)?

    Read off the traced program's structure -- an output variable that is an
    input variable -- so it does not rely on flax keeping Python array identity
    through ``merge``/``split``.
    """
    jaxpr = jax.make_jaxpr(fn)(params).jaxpr
    invars = jaxpr.invars[: len(jax.tree.leaves(params))]
    return [any(o is i for i in invars) for o in jaxpr.outvars]


def _merge_written(after: jax.Array, copy: jax.Array, master: jax.Array) -> jax.Array:
    """A written leaf: the written elements in the master's dtype, the master wherever the forward left the copy.

    Embedding's renorm writes only the rows it looked up; the others keep
    their master values instead of coming back rounded through the compute dtype.
    """
    after = jax.lax.stop_gradient(after)
    return jnp.where(after == copy, master, after.astype(master.dtype))


def _forward(graphdef, params, rest, inputs, rng, compute_dtype):
    """Runs the model; returns its output, the new other-state, and the parameters to step from.

    A forward pass that writes a parameter -- Embedding's ``max_norm``
    renormalisation, which torch does in place under ``no_grad`` -- changes the
    value torch's optimizer then steps from. Such leaves come back written
    (gradient-free, in the parameter's dtype); the others are the parameters as
    given. Under a ``compute_dtype`` the model sees cast copies, and an
    unwritten leaf must come back as its master, never as the rounded copy:
    which leaves the forward wrote is read from the program's structure.
    """
    inputs = _cast_floats(inputs, compute_dtype)
    if compute_dtype is None:
        output, after, new_rest = _run_model(graphdef, params, rest, inputs, rng)
        written = jax.tree.map(jax.lax.stop_gradient, after)
        return output, new_rest, written
    used = _cast_floats(params, compute_dtype)
    output, after, new_rest = _run_model(graphdef, used, rest, inputs, rng)
    untouched = _forwarded(lambda u: _run_model(graphdef, u, rest, inputs, rng)[1], used)
    treedef: Any  # Any: jaxlib ships no stub for PyTreeDef's methods
    leaves, treedef = jax.tree.flatten(after)
    masters, copies = treedef.flatten_up_to(params), treedef.flatten_up_to(used)
    written = treedef.unflatten(
        [p if same else _merge_written(a, u, p) for a, u, p, same in zip(leaves, copies, masters, untouched)]
    )
    # torch's autocast runs losses in float32; so do we.
    return _cast_floats(output, jnp.float32), new_rest, written


def _micro_batches(batch: Batch, k: int) -> Batch:
    def split(a):
        a = jnp.asarray(a)
        if a.ndim == 0 or a.shape[0] % k:
            raise ValueError(
                f"accumulate_steps={k} must divide the batch size, got a batch leaf of shape {a.shape}"
            )
        return a.reshape(k, a.shape[0] // k, *a.shape[1:])

    return jax.tree.map(split, batch)


def _select(ok: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)


def _gradient_fn(graphdef, criterion, options: StepOptions):
    """``gradients(params, rest, batch, rng, scale) -> (loss, rest, grads, written)``, accumulated if asked."""
    k = options.accumulate_steps

    def loss_fn(params, rest, batch, rng, scale):
        inputs, target = _unpack(batch)
        output, new_rest, written = _forward(graphdef, params, rest, inputs, rng, options.compute_dtype)
        loss = jnp.asarray(criterion(output, target), jnp.float32)
        return loss * scale, (loss, new_rest, written)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def gradients(params, rest, batch, rng, scale):
        if k == 1:
            (_, (loss, rest, written)), grads = grad_fn(params, rest, batch, rng, scale)
            return loss, rest, grads, written

        def micro(carry, xs):
            grad_sum, rest, loss_sum, base = carry
            i, mb = xs
            key = None if rng is None else jax.random.fold_in(rng, i)
            # Each micro-batch sees the parameters the previous one's forward wrote, as in torch's loop.
            (_, (loss, rest, base)), grads = grad_fn(base, rest, mb, key, scale)
            grad_sum = jax.tree.map(jnp.add, grad_sum, grads)
            return (grad_sum, rest, loss_sum + loss, base), None

        zeros = jax.tree.map(jnp.zeros_like, params)
        xs = (jnp.arange(k), _micro_batches(batch, k))
        with _conv._loop_body():  # as in _scan_steps: XLA:CPU's loop-body convolutions are slow
            (grad_sum, rest, loss_sum, written), _ = jax.lax.scan(micro, (zeros, rest, jnp.float32(0), params), xs)
        # Mean of equal-sized micro-batch means == the mean over the whole batch,
        # as torch's ``(loss / k).backward()`` accumulation computes it.
        return loss_sum / k, rest, jax.tree.map(lambda g: g / k, grad_sum), written

    return gradients


def _core_train_step(graphdef: nnx.GraphDef, criterion: Callable[[Any, Any], jax.Array],
                     optimizer: optax.GradientTransformation, options: StepOptions):
    """``step(params, rest, opt_state, batch, rng) -> (params, rest, opt_state, metrics, ok)`` over plain dicts."""
    _check_optimizer(optimizer)
    gradients = _gradient_fn(graphdef, criterion, options)

    def step(params, rest, opt_state, batch, rng=None):
        params, rest, opt_state = to_pure((params, rest, opt_state))
        dynamic = find_loss_scale(opt_state)
        if dynamic is not None and options.loss_scale is not None:
            raise ValueError(
                "loss_scale must be None when the optimizer holds a dynamic_loss_scale, which keeps the scale"
            )
        static = 1.0 if options.loss_scale is None else options.loss_scale
        scale = dynamic.scale if dynamic is not None else jnp.float32(static)
        loss, new_rest, grads, written = gradients(params, rest, batch, rng, scale)
        if dynamic is not None or options.loss_scale is not None:
            grads = jax.tree.map(lambda g: g / scale, grads)
        grad_norm = optax.tree.norm(grads)
        updates, new_opt_state = optimizer.update(grads, opt_state, written)
        new_params = optax.apply_updates(written, updates)
        # Under dynamic scaling an overflowing gradient is the scaler's business:
        # its state (the shrunken scale) must be kept, not rolled back.
        ok = jnp.isfinite(loss) & ((dynamic is not None) | jnp.isfinite(grad_norm))
        if options.skip_nonfinite:
            new_params, new_rest, new_opt_state = _select(
                ok, (new_params, new_rest, new_opt_state), (params, rest, opt_state)
            )
        # Without grad_norm (and skip_nonfinite) XLA drops the unused norm from the program.
        metrics = {"loss": loss, "grad_norm": grad_norm} if options.grad_norm else {"loss": loss}
        return new_params, new_rest, new_opt_state, metrics, ok

    return step


def _check_optimizer(optimizer: Any) -> None:
    if callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None)):
        return
    if type(optimizer).__module__.startswith("torch"):
        name = type(optimizer).__name__
        raise TypeError(
            f"optimizer is a torch optimizer ({type(optimizer).__module__}.{name}); jaxnn steps take an optax "
            f"transformation built without parameters, e.g. jaxnn.optim.{name}(lr=...) or optax.adam(1e-3)"
        )
    raise TypeError(
        "optimizer must be an optax.GradientTransformation (init and update), e.g. jaxnn.optim.SGD(lr=0.1) or "
        f"optax.adam(1e-3); got {type(optimizer).__name__}"
    )


_DONATED = "has been deleted or donated"


def _compiled(fn: Callable, jit: bool, donate: bool, out_shardings: Any = None) -> Callable:
    """``jax.jit(fn)`` donating the three state arguments, behind a fixed-signature wrapper.

    ``out_shardings`` (``fit`` on a mesh: the placed state's shardings, then the
    metrics') keeps the returned state where it was given, so the second call
    does not compile again for shardings XLA picked for the outputs.
    """
    if not jit:
        return fn
    sharded = {} if out_shardings is None else {"out_shardings": out_shardings}
    compiled = jax.jit(fn, donate_argnums=(0, 1, 2) if donate else (), **sharded)

    # A fixed signature: forwarding *args/**kwargs costs a few microseconds a call on a small model.
    def call(params, other_state, opt_state, batch, rng=None):
        try:
            return compiled(params, other_state, opt_state, batch, rng)
        except (RuntimeError, ValueError) as e:
            if _DONATED not in str(e):
                raise
            raise ValueError(
                "the step was given state whose buffers an earlier step already donated (consumed): pass the "
                "params/other_state/opt_state that step returned, not the ones it was given; after a hand-written "
                "loop write the last ones back with nnx.update(model, params, other_state)"
            ) from e

    call.lower = compiled.lower  # type: ignore[attr-defined]
    return call


def make_train_step(
    model_or_graphdef: nnx.Module | nnx.GraphDef,
    criterion: Callable[[Any, Any], jax.Array],
    optimizer: optax.GradientTransformation,
    *,
    options: StepOptions | None = None,
    jit: bool = True,
    donate: bool = True,
    **option_changes: Any,
) -> Callable[..., tuple[PureState, PureState, optax.OptState, Metrics]]:
    """Builds ``step(params, other_state, opt_state, batch, rng=None) -> (params, other_state, opt_state, metrics)``.

    ``params`` and ``other_state`` are the plain nested dicts of
    :func:`split_model` (``nnx.State`` is accepted too; what comes back is
    always plain dicts, as is an optimizer state initialised from them).

    Args:
      model_or_graphdef: the model (its training-mode graphdef is used; the model
        itself is not changed) or the static half of ``nnx.split(model,
        nnx.Param, ...)`` (used as is, in whatever mode it was split).
      criterion: ``criterion(output, target) -> scalar``, e.g. ``jaxnn.MSELoss()``.
      optimizer: any optax transformation, e.g. ``optax.adam(1e-3)`` or
        ``jaxnn.optim.AdamW(lr=1e-3)``. Gradient clipping is a transformation
        chained in front of it, e.g. ``optax.chain(optax.clip_by_global_norm(1.0),
        opt)``: it then sees the (accumulated, unscaled) gradient, as torch's
        ``clip_grad_norm_`` between ``backward()`` and ``step()`` does.
      options: a :class:`StepOptions`; its fields can also be given as keywords
        (``accumulate_steps=4``, ``compute_dtype=jnp.bfloat16``, ``loss_scale``,
        ``skip_nonfinite``), which override it.
      jit: compile the step with ``jax.jit``.
      donate: donate the parameter, other-state and optimizer buffers (XLA then
        updates them in place; the arrays passed in are deleted).

    Returns:
      ``step``. ``batch`` is ``(inputs, target)``, ``inputs`` an array or a tuple
      of positional model inputs. ``rng`` (a ``jax.random.key``) reseeds every
      ``nnx.Rngs`` stream in the model for this step (dropout masks then depend
      only on the key); with ``rng=None`` the streams advance from their counters
      in ``other_state``. ``metrics`` holds ``loss`` (float32, before the
      update, like torch's ``loss.item()``) and ``grad_norm`` (global L2 norm of
      the gradient given to the optimizer, what ``clip_grad_norm_`` returns;
      not there with ``grad_norm=False``).

    >>> import jax.numpy as jnp, jaxnn
    >>> from flax import nnx
    >>> model = jaxnn.Linear(2, 1, rngs=nnx.Rngs(0))
    >>> graphdef, params, rest = split_model(model)
    >>> opt = jaxnn.optim.SGD(lr=0.1)
    >>> step = make_train_step(graphdef, jaxnn.MSELoss(), opt)
    >>> params, rest, opt_state, metrics = step(params, rest, opt.init(params), (jnp.ones((4, 2)), jnp.zeros((4, 1))))
    >>> nnx.update(model, params, rest)  # the model sees the result only now
    """
    options = _options(options, option_changes)
    core = _core_train_step(mode_graphdef(model_or_graphdef, True), criterion, optimizer, options)

    def step(params, other_state, opt_state, batch, rng=None):
        return core(params, other_state, opt_state, batch, rng)[:4]

    return _compiled(step, jit, donate)


def make_multi_step(
    model_or_graphdef: nnx.Module | nnx.GraphDef,
    criterion: Callable[[Any, Any], jax.Array],
    optimizer: optax.GradientTransformation,
    *,
    options: StepOptions | None = None,
    jit: bool = True,
    donate: bool = True,
    unroll: int | bool = 1,
    **option_changes: Any,
) -> Callable[..., tuple[PureState, PureState, optax.OptState, Metrics]]:
    """Builds ``run(params, other_state, opt_state, batches, rngs=None)``: many steps in one ``lax.scan``.

    ``batches`` is a batch whose every leaf has an extra leading axis of length
    ``n`` (``n`` batches stacked); ``rngs`` is ``None`` or ``n`` stacked keys
    (``jax.random.split(key, n)``). One call runs the same step as
    :func:`make_train_step` ``n`` times on device and returns the final state
    and the metrics stacked along axis 0, so a small model pays the host's
    per-call dispatch once per ``n`` steps.

    With ``skip_nonfinite`` the skip is sticky within a call: after the first
    non-finite step the state stays as it was before that step, so the returned
    state is the last good one and ``metrics['loss']`` names the bad step (its
    first non-finite entry).

    ``unroll`` is ``lax.scan``'s: how many steps one loop iteration holds
    (``True``: all ``n``, no loop left). XLA:CPU leaves a loop body's
    convolutions on its generic emitter, 12-15x slower than at the top level
    (jax#12868), so on the CPU backend the loop body traces them as im2col dots
    (``taps`` copies of each input in memory): the benchmarks' small CNN went
    from 5x to ~1.2x the single step's time per step. ``unroll=True`` keeps
    XLA's convolutions at the cost of compile time growing with ``n``; dense
    models gain little from it.

    ``options`` and keyword changes to it are :func:`make_train_step`'s.
    """
    options = _options(options, option_changes)
    core = _core_train_step(mode_graphdef(model_or_graphdef, True), criterion, optimizer, options)
    scan = _scan_steps(core, options.skip_nonfinite, unroll)

    def run(params, other_state, opt_state, batches, rngs=None):
        return scan((params, other_state, opt_state), batches, rngs)

    return _compiled(run, jit, donate)


def _scan_steps(core: Callable, skip_nonfinite: bool, unroll: int | bool) -> Callable:
    """``run(state, batches, rngs) -> (*state, metrics)``: ``core`` over stacked batches in one ``lax.scan``.

    ``core(*state, batch, rng) -> (*state, metrics, ok)`` for a state tuple of
    any length (the train step's three, or five with an average of the weights).
    """

    def run(state, batches, rngs):
        def body(carry, xs):
            state, healthy = carry
            batch, rng = xs
            *new_state, metrics, ok = core(*state, batch, rng)
            if skip_nonfinite:
                healthy = healthy & ok
                new_state = _select(healthy, tuple(new_state), state)
            return (tuple(new_state), healthy), metrics

        carry = (to_pure(tuple(state)), jnp.bool_(True))
        # XLA:CPU runs a loop body's convolutions 12-15x slower: im2col there (unroll=True leaves no loop)
        with contextlib.nullcontext() if unroll is True else _conv._loop_body():
            (state, _), metrics = jax.lax.scan(body, carry, (batches, rngs), unroll=unroll)
        return (*state, metrics)

    return run


def _with_average(core: Callable, graphdef: nnx.GraphDef, averaged: nnx.Module, skip_nonfinite: bool) -> Callable:
    """``core`` followed by ``averaged.update_parameters(model)``, torch's order: ``opt.step()`` then the average.

    The state grows by the average's plain dicts ``(avg_params, avg_rest)``
    (:func:`split_model` of the ``AveragedModel``: its module's parameters,
    then its buffers and ``n_averaged``). The model and the average are merged
    from the traced arrays and the average's own ``update_parameters`` runs on
    them, so the jitted step computes exactly what the eager method does. A
    step that ``skip_nonfinite`` rolls back leaves the average as it was too.
    """
    averaged_graphdef = nnx.graphdef(averaged)

    def step(params, rest, opt_state, avg_params, avg_rest, batch, rng=None):
        params, rest, opt_state, metrics, ok = core(params, rest, opt_state, batch, rng)
        average = nnx.merge(averaged_graphdef, avg_params, avg_rest, copy=True)
        average.update_parameters(nnx.merge(graphdef, params, rest, copy=True))
        _, new_params, new_rest = nnx.split(average, nnx.Param, ...)  # type: ignore[misc]  # flax types split's result as variadic; two filters give three parts
        new_avg = to_pure((new_params, new_rest))
        if skip_nonfinite:
            new_avg = _select(ok, new_avg, to_pure((avg_params, avg_rest)))
        return (params, rest, opt_state, *new_avg, metrics, ok)

    return step


def _averaged_steps(
    model: nnx.Module,
    averaged: nnx.Module,
    criterion: Callable[[Any, Any], jax.Array],
    optimizer: optax.GradientTransformation,
    options: StepOptions,
    out_shardings: Any = None,
) -> tuple[Callable, Callable]:
    """``fit``'s jitted single step and multi step when it keeps ``averaged`` (an ``AveragedModel``) up to date.

    ``step(params, rest, opt_state, avg_params, avg_rest, batch, rng)`` and
    ``run(..., batches, rngs)`` return the five state parts and the metrics,
    all five donated (``out_shardings`` as in :func:`_compiled`).
    """
    graphdef = mode_graphdef(model, True)
    core = _with_average(_core_train_step(graphdef, criterion, optimizer, options), graphdef, averaged,
                         options.skip_nonfinite)
    scan = _scan_steps(core, options.skip_nonfinite, 1)

    def single(params, rest, opt_state, avg_params, avg_rest, batch, rng):
        return core(params, rest, opt_state, avg_params, avg_rest, batch, rng)[:6]

    def multi(params, rest, opt_state, avg_params, avg_rest, batches, rngs):
        return scan((params, rest, opt_state, avg_params, avg_rest), batches, rngs)

    donated = (0, 1, 2, 3, 4)
    sharded = {} if out_shardings is None else {"out_shardings": out_shardings}
    return (jax.jit(single, donate_argnums=donated, **sharded), jax.jit(multi, donate_argnums=donated, **sharded))


def make_eval_step(
    model_or_graphdef: nnx.Module | nnx.GraphDef,
    criterion: Callable[[Any, Any], jax.Array],
    *,
    metrics: Mapping[str, MetricFn] | None = None,
    compute_dtype: Any = None,
    jit: bool = True,
) -> Callable[[PureState, PureState, Batch], Metrics]:
    """Builds ``eval_step(params, other_state, batch) -> metrics`` in evaluation mode.

    Given a model, the step runs its evaluation-mode graphdef (Dropout off,
    BatchNorm on running statistics), as torch's ``model.eval()`` with
    ``torch.no_grad()``; ``other_state`` is read, never updated. ``metrics``
    maps names to ``fn(output, target) -> per-sample values`` (see
    :mod:`jaxnn.training.metrics`); the result holds ``loss`` (the criterion on
    the batch) and each metric's mean over the batch.
    """
    graphdef = mode_graphdef(model_or_graphdef, False)
    metric_fns = dict(metrics or {})

    def eval_step(params, other_state, batch):
        params, other_state = to_pure((params, other_state))
        inputs, target = _unpack(batch)
        output, _, _ = _forward(graphdef, params, other_state, inputs, None, compute_dtype)
        out = {"loss": jnp.asarray(criterion(output, target), jnp.float32)}
        for name, fn in metric_fns.items():
            out[name] = jnp.mean(jnp.asarray(fn(output, target), jnp.float32))
        return out

    return jax.jit(eval_step) if jit else eval_step
