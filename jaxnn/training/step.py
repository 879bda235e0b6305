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

import zlib
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from .precision import DynamicLossScale

__all__ = [
    "make_train_step",
    "make_eval_step",
    "make_multi_step",
    "split_model",
    "mode_graphdef",
]

Batch = Any
Metrics = dict[str, jax.Array]
MetricFn = Callable[[jax.Array, jax.Array], jax.Array]


class SplitModel(NamedTuple):
    graphdef: nnx.GraphDef
    params: nnx.State
    rest: nnx.State


def split_model(model: nnx.Module) -> SplitModel:
    """``nnx.split(model, nnx.Param, ...)`` as a named triple (graphdef, params, rest).

    The two states are copies: the steps donate their inputs, and ``nnx.split``
    alone would hand them the model's own arrays, leaving the model holding
    deleted buffers after the first step. Write results back with
    ``nnx.update(model, params, rest)``.
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return SplitModel(graphdef, *jax.tree.map(jnp.copy, (params, rest)))


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
            f"model_or_graphdef must be an nnx.Module or an nnx.GraphDef, got {type(model_or_graphdef).__name__}"
        )
    twin = nnx.merge(*nnx.split(model_or_graphdef))
    twin.train() if training else twin.eval()
    return nnx.graphdef(twin)


def _reseed(model: nnx.Module, rng: jax.Array) -> None:
    # Each stream gets a key that depends on the step key and the stream's name
    # only, so adding a stream to a model does not change the others' masks.
    names = {node.tag for _, node in nnx.iter_graph(model) if isinstance(node, nnx.RngStream)}
    if names:
        nnx.reseed(model, **{n: jax.random.fold_in(rng, zlib.crc32(n.encode())) for n in names})


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


def _forward(graphdef, params, rest, inputs, rng, compute_dtype):
    """Runs the model; returns its output, the new other-state, and the parameters to step from.

    A forward pass that writes a parameter -- Embedding's ``max_norm``
    renormalisation, which torch does in place under ``no_grad`` -- changes the
    value torch's optimizer then steps from. Such leaves come back written
    (gradient-free, in the parameter's dtype); every other leaf comes back as
    the very array that went in, which is how the two are told apart.
    """
    used = _cast_floats(params, compute_dtype)
    model = nnx.merge(graphdef, used, rest, copy=True)
    if rng is not None:
        _reseed(model, rng)
    inputs = _cast_floats(inputs, compute_dtype)
    output = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
    _, after, new_rest = nnx.split(model, nnx.Param, ...)
    written = jax.tree.map(
        lambda a, u, p: p if a is u else jax.lax.stop_gradient(a).astype(p.dtype), after, used, params
    )
    # torch's autocast runs losses in float32; so do we.
    return _cast_floats(output, jnp.float32 if compute_dtype is not None else None), new_rest, written


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


def _core_train_step(
    graphdef: nnx.GraphDef,
    criterion: Callable[[Any, Any], jax.Array],
    optimizer: optax.GradientTransformation,
    *,
    accumulate_steps: int = 1,
    compute_dtype: Any = None,
    loss_scale: float | None = None,
    skip_nonfinite: bool = False,
):
    if accumulate_steps < 1:
        raise ValueError(f"accumulate_steps must be >= 1, got {accumulate_steps}")
    if loss_scale is not None and not loss_scale > 0:
        raise ValueError(f"loss_scale must be a positive number, got {loss_scale}")
    dynamic = isinstance(optimizer, DynamicLossScale)
    if dynamic and loss_scale is not None:
        raise ValueError("loss_scale must be None when the optimizer is a dynamic_loss_scale wrapper, which holds the scale")

    def loss_fn(params, rest, batch, rng, scale):
        inputs, target = _unpack(batch)
        output, new_rest, written = _forward(graphdef, params, rest, inputs, rng, compute_dtype)
        loss = jnp.asarray(criterion(output, target), jnp.float32)
        return loss * scale, (loss, new_rest, written)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def gradients(params, rest, batch, rng, scale):
        """Loss, new other-state, gradient, and the parameters the update applies to (see ``_forward``)."""
        if accumulate_steps == 1:
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
        xs = (jnp.arange(accumulate_steps), _micro_batches(batch, accumulate_steps))
        (grad_sum, rest, loss_sum, written), _ = jax.lax.scan(micro, (zeros, rest, jnp.float32(0), params), xs)
        # Mean of equal-sized micro-batch means == the mean over the whole batch,
        # as torch's ``(loss / k).backward()`` accumulation computes it.
        return loss_sum / accumulate_steps, rest, jax.tree.map(lambda g: g / accumulate_steps, grad_sum), written

    def step(params, rest, opt_state, batch, rng=None):
        scale = opt_state.scale if dynamic else jnp.float32(1.0 if loss_scale is None else loss_scale)
        loss, new_rest, grads, written = gradients(params, rest, batch, rng, scale)
        if dynamic or loss_scale is not None:
            grads = jax.tree.map(lambda g: g / scale, grads)
        grad_norm = optax.tree.norm(grads)
        updates, new_opt_state = optimizer.update(grads, opt_state, written)
        new_params = optax.apply_updates(written, updates)
        # Under dynamic scaling an overflowing gradient is the scaler's business:
        # its state (the shrunken scale) must be kept, not rolled back.
        ok = jnp.isfinite(loss) & (dynamic | jnp.isfinite(grad_norm))
        if skip_nonfinite:
            new_params, new_rest, new_opt_state = _select(
                ok, (new_params, new_rest, new_opt_state), (params, rest, opt_state)
            )
        return new_params, new_rest, new_opt_state, {"loss": loss, "grad_norm": grad_norm}, ok

    return step


def make_train_step(
    model_or_graphdef: nnx.Module | nnx.GraphDef,
    criterion: Callable[[Any, Any], jax.Array],
    optimizer: optax.GradientTransformation,
    *,
    accumulate_steps: int = 1,
    compute_dtype: Any = None,
    loss_scale: float | None = None,
    skip_nonfinite: bool = False,
    jit: bool = True,
    donate: bool = True,
) -> Callable[..., tuple[nnx.State, nnx.State, optax.OptState, Metrics]]:
    """Builds ``step(params, other_state, opt_state, batch, rng=None) -> (params, other_state, opt_state, metrics)``.

    Args:
      model_or_graphdef: the model (its training-mode graphdef is used; the model
        itself is not changed) or the static half of ``nnx.split(model,
        nnx.Param, ...)`` (used as is, in whatever mode it was split).
      criterion: ``criterion(output, target) -> scalar``, e.g. ``jaxnn.MSELoss()``.
      optimizer: any optax transformation, e.g. ``optax.adam(1e-3)``. Gradient
        clipping is a transformation chained in front of it, e.g.
        ``optax.chain(optax.clip_by_global_norm(1.0), opt)``: it then sees the
        (accumulated, unscaled) gradient, as torch's ``clip_grad_norm_`` between
        ``backward()`` and ``step()`` does.
      accumulate_steps: split each batch into this many equal micro-batches
        along axis 0, run forward/backward on each in turn (a ``lax.scan``, so
        peak activation memory is one micro-batch's) and average the gradients
        before one optimizer update: torch's ``(loss / k).backward()`` loop.
        Buffers (BatchNorm statistics) are updated once per micro-batch, as in
        that loop.
      compute_dtype: e.g. ``jnp.bfloat16``: parameters and floating inputs are cast
        to it for the forward and backward pass; the float32 parameters stay the
        master copy the optimizer updates, and the model output is cast back to
        float32 before the criterion (torch autocast's choice for losses).
      loss_scale: multiply the loss by this before differentiating and divide the
        gradient by it after (static loss scaling, for float16 compute, whose
        small gradients underflow otherwise). Combine with ``skip_nonfinite`` so
        an overflowing step is skipped. For torch's ``GradScaler`` behaviour
        wrap the optimizer instead: ``dynamic_loss_scale(optax.adam(1e-3))``
        (see :mod:`jaxnn.training.precision`; it must be the outermost
        transformation, and ``loss_scale`` stays ``None``).
      skip_nonfinite: if the loss or the gradient norm is nan/inf (the loss only,
        under dynamic loss scaling), return the input state unchanged (the step becomes a no-op) -- the buffers are
        donated, so this is how the last good state survives a bad step.
      jit: compile the step with ``jax.jit``.
      donate: donate the parameter, other-state and optimizer buffers.

    Returns:
      ``step``. ``batch`` is ``(inputs, target)``, ``inputs`` an array or a tuple
      of positional model inputs. ``rng`` (a ``jax.random.key``) reseeds every
      ``nnx.Rngs`` stream in the model for this step (dropout masks then depend
      only on the key); with ``rng=None`` the streams advance from their counters
      in ``other_state``. ``metrics`` holds ``loss`` (float32, before the
      update, like torch's ``loss.item()``) and ``grad_norm`` (global L2 norm of
      the gradient given to the optimizer, what ``clip_grad_norm_`` returns).
    """
    core = _core_train_step(
        mode_graphdef(model_or_graphdef, True),
        criterion,
        optimizer,
        accumulate_steps=accumulate_steps,
        compute_dtype=compute_dtype,
        loss_scale=loss_scale,
        skip_nonfinite=skip_nonfinite,
    )

    def step(params, other_state, opt_state, batch, rng=None):
        return core(params, other_state, opt_state, batch, rng)[:4]

    return _compiled(step, jit, donate)


def _compiled(fn: Callable, jit: bool, donate: bool) -> Callable:
    return jax.jit(fn, donate_argnums=(0, 1, 2) if donate else ()) if jit else fn


def make_multi_step(
    model_or_graphdef: nnx.Module | nnx.GraphDef,
    criterion: Callable[[Any, Any], jax.Array],
    optimizer: optax.GradientTransformation,
    *,
    jit: bool = True,
    donate: bool = True,
    unroll: int | bool = 1,
    **options: Any,
) -> Callable[..., tuple[nnx.State, nnx.State, optax.OptState, Metrics]]:
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
    (``True``: all ``n``, no loop left). XLA:CPU runs convolutions inside a
    loop body markedly slower than at the top level (half the speed for the
    benchmarks' small CNN), and ``unroll=True`` recovers it at the cost of
    compile time growing with ``n``; dense models gain little from it.

    ``options`` are :func:`make_train_step`'s (``accumulate_steps``,
    ``compute_dtype``, ``loss_scale``, ``skip_nonfinite``).
    """
    core = _core_train_step(mode_graphdef(model_or_graphdef, True), criterion, optimizer, **options)
    skip_nonfinite = options.get("skip_nonfinite", False)

    def run(params, other_state, opt_state, batches, rngs=None):
        def body(carry, xs):
            state, healthy = carry
            batch, rng = xs
            *new_state, metrics, ok = core(*state, batch, rng)
            if skip_nonfinite:
                healthy = healthy & ok
                new_state = _select(healthy, tuple(new_state), state)
            return (tuple(new_state), healthy), metrics

        carry = ((params, other_state, opt_state), jnp.bool_(True))
        ((params, other_state, opt_state), _), metrics = jax.lax.scan(body, carry, (batches, rngs), unroll=unroll)
        return params, other_state, opt_state, metrics

    return _compiled(run, jit, donate)


def make_eval_step(
    model_or_graphdef: nnx.Module | nnx.GraphDef,
    criterion: Callable[[Any, Any], jax.Array],
    *,
    metrics: Mapping[str, MetricFn] | None = None,
    compute_dtype: Any = None,
    jit: bool = True,
) -> Callable[[nnx.State, nnx.State, Batch], Metrics]:
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
        inputs, target = _unpack(batch)
        output, _, _ = _forward(graphdef, params, other_state, inputs, None, compute_dtype)
        out = {"loss": jnp.asarray(criterion(output, target), jnp.float32)}
        for name, fn in metric_fns.items():
            out[name] = jnp.mean(jnp.asarray(fn(output, target), jnp.float32))
        return out

    return jax.jit(eval_step) if jit else eval_step
