"""``jaxnn.fit``: the training loop around the jitted step -- data, progress, evaluation, history, checkpoints.

``fit`` reads as the plot of a run; the parts it calls are small and named:
:mod:`.data` (batching, shuffling, prefetching), :class:`_Placement`
(sharding), :class:`_CheckpointPolicy` (save/resume), :class:`_NonFinitePolicy`,
:func:`_run_epoch` and :func:`_evaluate`.

Epochs are counted from 1 everywhere a user sees them: the console, the
``epoch`` of ``history.steps``/``history.epochs``, the plots, callbacks'
logs and :class:`NonFiniteLossError`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
import warnings
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from ..optim.plateau import ReduceLROnPlateauState, plateau_step
from ..optim.swa_utils import AveragedModel
from ..state_dict import _named_variables
from .callbacks import Callback
from .checkpoint import Checkpointer
from .data import Data, blocks, prefetch, samples
from .history import History
from .metrics import MetricFn, resolve_metrics
from .parallel import fsdp_shard, process_batch, replicate, shard_batch
from .precision import find_loss_scale
from .step import (
    StepOptions,
    _averaged_steps,
    _check_optimizer,
    _compiled,
    make_eval_step,
    make_multi_step,
    make_train_step,
    split_model,
)

__all__ = ["fit", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """The training loss (or its gradient) became nan or inf.

    ``step`` names the step (1-based, as ``history.steps`` counts), ``epoch``
    the epoch (1-based); the model holds the state from before it, and
    ``history`` the records up to it.
    """

    def __init__(self, step: int, epoch: int, loss: float, grad_norm: float, history: History):
        self.step, self.epoch, self.loss, self.grad_norm, self.history = step, epoch, loss, grad_norm, history
        what = f"training loss is {loss}" if not math.isfinite(loss) else f"gradient norm is {grad_norm} (loss {loss})"
        super().__init__(
            f"{what} at step {step} (epoch {epoch}); stopped, and the model holds "
            f"the last good state, from after step {step - 1}"
        )


@dataclasses.dataclass
class _State:
    """Everything a run carries from step to step, and what a checkpoint holds."""

    params: Any
    other: Any
    opt_state: Any
    key: jax.Array
    history: History
    step: int = 0  # steps done
    epoch: int = 0  # epochs completed
    batch: int = 0  # batches done in the epoch under way
    seed: int = 0
    averaged: tuple[Any, Any] | None = None  # an AveragedModel's (params, other state), when fit keeps one

    def arrays(self) -> dict[str, Any]:
        arrays = {"params": self.params, "other_state": self.other, "opt_state": self.opt_state, "rng": self.key}
        if self.averaged is not None:
            arrays["averaged"] = {"params": self.averaged[0], "other_state": self.averaged[1]}
        return arrays

    def carried(self) -> tuple[Any, ...]:
        """What a compiled step takes and returns: params, other state, optimizer state (, the average's two)."""
        return (self.params, self.other, self.opt_state) + (self.averaged or ())

    def carry(self, values: Sequence[Any]) -> None:
        self.params, self.other, self.opt_state = values[:3]
        self.averaged = tuple(values[3:]) or None


class _NonFinitePolicy:
    """A dynamic loss scaler skips overflowing steps itself; anything else non-finite stops training."""

    def __init__(self, opt_state: Any):
        self.dynamic = find_loss_scale(opt_state) is not None

    def check(self, step: int, epoch: int, loss: float, grad_norm: float, history: History) -> None:
        if not (math.isfinite(loss) and (math.isfinite(grad_norm) or self.dynamic)):
            raise NonFiniteLossError(step, epoch, loss, grad_norm, history)


class _CheckpointPolicy:
    """Where and when a run is saved: each epoch's end, every ``every`` steps, and from where it resumes."""

    def __init__(self, directory: Any, every: int | None, keep: int, resume: bool, mesh: Any = None):
        if every is not None and every < 1:
            raise ValueError(f"checkpoint_every must be >= 1 or None, got {every}")
        if resume and directory is None:
            raise ValueError("resume=True needs a checkpoint_dir")
        self.every, self.resume, self.saved_at = every, resume, -1
        if directory is not None and jax.process_count() > 1 and mesh is None:
            # Without a mesh each process trains its own model; one checkpoint cannot hold them all.
            raise ValueError(
                f"checkpoint_dir with {jax.process_count()} processes (jax.distributed) needs mesh= "
                "(jaxnn.training.parallel.data_mesh()): without it every process trains a separate model"
            )
        self.ckpt = None if directory is None else Checkpointer(directory, max_to_keep=keep)
        if self.ckpt is not None and self.ckpt.steps() and not resume:
            raise ValueError(
                f"checkpoint_dir {self.ckpt.directory} already holds checkpoints (steps {self.ckpt.steps()}); "
                "pass resume=True to continue from them, or use an empty directory"
            )

    def restore(self, state: _State) -> _State:
        """``state`` continued from the newest good checkpoint, if resuming and there is one."""
        if not self.resume or self.ckpt is None:
            return state
        restored = self.ckpt.restore_latest(state.arrays())
        if restored is None:
            return state
        arrays, meta = restored
        params, other, opt_state = jax.device_put((arrays["params"], arrays["other_state"], arrays["opt_state"]))
        averaged = None
        if "averaged" in arrays:
            averaged = jax.device_put((arrays["averaged"]["params"], arrays["averaged"]["other_state"]))
        history = History.from_dict(meta["history"])
        step = history.steps[-1]["step"] if history.steps else 0
        self.saved_at = step
        return _State(
            params, other, opt_state, arrays["rng"], history, step, meta["epoch"], meta["batch"], meta["seed"], averaged
        )

    def due(self, first: int, last: int) -> bool:
        """Whether steps ``first..last`` crossed a multiple of ``every``."""
        if not self.every:
            return False
        return last // self.every > (first - 1) // self.every

    def save(self, state: _State) -> None:
        if self.ckpt is None or self.saved_at == state.step:
            return
        meta = {
            "step": state.step,
            "epoch": state.epoch,
            "batch": state.batch,
            "seed": state.seed,
            "history": state.history.to_dict(),
        }
        self.ckpt.save(state.step, state.arrays(), meta)
        self.saved_at = state.step

    def close(self) -> None:
        if self.ckpt is not None:
            self.ckpt.close()


class _Placement:
    """Where batches and state go: as they are, or split/replicated over a device mesh."""

    def __init__(self, mesh: jax.sharding.Mesh | None, fsdp: bool):
        self.mesh, self.fsdp = mesh, fsdp

    def state(self, tree: Any) -> Any:
        if self.mesh is None:
            return tree
        return (fsdp_shard if self.fsdp else replicate)(tree, self.mesh)

    def out_shardings(self, carried: Any) -> Any:
        """The compiled steps' ``out_shardings``: the placed state where it is, the metrics replicated.

        Without them XLA picks the outputs' shardings (it split small FSDP leaves
        that were placed whole), and the second step compiled again for them.
        """
        if self.mesh is None:
            return None
        whole = NamedSharding(self.mesh, PartitionSpec())
        return (*jax.tree.map(lambda a: getattr(a, "sharding", whole), tuple(carried)), whole)

    def batch(self, batch: Any, axis: int = 0) -> Any:
        if self.mesh is None:
            return batch
        if jax.process_count() > 1:
            # Multi-process: each process feeds its own rows of the global batch.
            return process_batch(batch, self.mesh, axis)
        return shard_batch(batch, self.mesh, axis)

    def block(self, group: list[Any]) -> Any:
        """One batch, or a block of same-shaped batches stacked on a new leading axis."""
        if len(group) == 1:
            return self.batch(group[0])
        return self.batch(jax.tree.map(lambda *xs: np.stack(xs), *group), axis=1)


def _progress_enabled(progress: bool | None) -> bool:
    if progress is False:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        if progress:
            warnings.warn(
                "progress=True needs tqdm (pip install 'jaxnn[train]'); training without a progress bar", stacklevel=3
            )
        return False
    if progress is None:
        return sys.stderr.isatty() and not os.environ.get("CI")
    return True


class _Bar:
    """A tqdm bar when enabled, else a silent stand-in."""

    def __init__(self, enabled: bool, total: int | None, desc: str, initial: int):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, initial=initial, unit="step", dynamic_ncols=True, leave=True)

    def update(self, n: int, **postfix: Any) -> None:
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(postfix, refresh=False)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclasses.dataclass
class _Steps:
    """The compiled functions of a run."""

    single: Callable
    multi: Callable | None
    evaluate: Callable | None
    evaluate_averaged: Callable | None
    per_call: int

    def run(self, state: _State, placed: Any, n: int) -> dict[str, np.ndarray]:
        """Runs the block of ``n`` batches at step ``state.step + 1`` and advances ``state``; per-step metrics."""
        first = state.step + 1
        if n > 1:
            assert self.multi is not None  # built when steps_per_call > 1, the only way to n > 1
            rngs = jax.vmap(lambda s: jax.random.fold_in(state.key, s))(jnp.arange(first, first + n))
            *carried, out = self.multi(*state.carried(), placed, rngs)
        else:
            *carried, out = self.single(*state.carried(), placed, jax.random.fold_in(state.key, first))
            out = jax.tree.map(lambda v: v[None], out)
        state.carry(carried)
        return {k: np.asarray(v) for k, v in out.items()}


def _run_epoch(
    state: _State,
    steps: _Steps,
    train: Data,
    place: _Placement,
    policy: _NonFinitePolicy,
    checkpoints: _CheckpointPolicy,
    callbacks: Sequence[Callback],
    bar: _Bar,
) -> bool:
    """One pass over ``train`` from ``state.batch`` on; returns whether a callback asked to stop."""
    epoch = state.epoch + 1
    batches = train.epoch(state.epoch, state.seed)
    for _ in range(state.batch):
        next(batches)
    t0, seen, stop = time.perf_counter(), 0, False
    for group, placed in prefetch(blocks(batches, steps.per_call), place.block):
        first = state.step + 1
        out = steps.run(state, placed, len(group))
        for i, batch in enumerate(group):
            loss, norm = float(out["loss"][i]), float(out["grad_norm"][i])
            policy.check(first + i, epoch, loss, norm, state.history)
            record = {"step": first + i, "epoch": epoch, "loss": loss, "grad_norm": norm, "samples": samples(batch)}
            state.history.steps.append(record)
            # A list, not a generator: every callback runs even after one asks to stop.
            stop = any([bool(cb.on_step_end(state.history, record)) for cb in callbacks]) or stop
        state.step, state.batch = first + len(group) - 1, state.batch + len(group)
        seen += sum(samples(b) for b in group)
        bar.update(len(group), loss=f"{out['loss'][-1]:.4g}", samples_s=f"{seen / (time.perf_counter() - t0):.0f}")
        if checkpoints.due(first, state.step):
            checkpoints.save(state)
        if stop:
            break
    return stop


def _epoch_logs(state: _State) -> dict[str, Any]:
    epoch = state.epoch + 1
    records = [r for r in state.history.steps if r["epoch"] == epoch]
    if not records:
        raise ValueError(f"train_data yielded no batches in epoch {epoch}")
    loss = sum(r["loss"] * r["samples"] for r in records) / sum(r["samples"] for r in records)
    return {"epoch": epoch, "step": state.step, "loss": loss}


def _evaluate(eval_step: Callable, params: Any, other: Any, data: Data, place: _Placement,
              suffix: str = "") -> dict[str, float]:
    sums: dict[str, float] = {}
    total = 0
    for batch in data.epoch(0, 0):
        n = samples(batch)
        for k, v in eval_step(params, other, place.batch(batch)).items():
            sums[k] = sums.get(k, 0.0) + float(v) * n
        total += n
    if total == 0:
        raise ValueError("eval_data yielded no batches")
    return {f"val_{k}{suffix}": v / total for k, v in sums.items()}


def _is_plateau(x: Any) -> bool:
    return isinstance(x, ReduceLROnPlateauState)


def _feed_plateau(state: _State, logs: dict[str, Any]) -> None:
    """torch's ``scheduler.step(val_loss)`` once per epoch, for each ``ReduceLROnPlateau`` in the optimizer.

    The metric is ``val_loss``, or the epoch's training loss without
    ``eval_data``; the new lr is logged as ``lr``.
    """
    if not any(_is_plateau(x) for x in jax.tree.leaves(state.opt_state, is_leaf=_is_plateau)):
        return
    state.opt_state = plateau_step(state.opt_state, logs.get("val_loss", logs["loss"]))
    found = [x for x in jax.tree.leaves(state.opt_state, is_leaf=_is_plateau) if _is_plateau(x)]
    logs["lr"] = float(found[0].lr)


def _build_steps(
    model, criterion, optimizer, options: StepOptions, metric_fns, evaluation, per_call, averaged, out_shardings=None
) -> _Steps:
    if averaged is None:
        single = make_train_step(model, criterion, optimizer, options=options, jit=False)
        multi = make_multi_step(model, criterion, optimizer, options=options, jit=False) if per_call > 1 else None
        single = _compiled(single, True, True, out_shardings)
        multi = None if multi is None else _compiled(multi, True, True, out_shardings)
    else:
        single, multi = _averaged_steps(model, averaged, criterion, optimizer, options, out_shardings)
    evaluate = evaluate_averaged = None
    if evaluation is not None:
        evaluate = make_eval_step(model, criterion, metrics=metric_fns, compute_dtype=options.compute_dtype)
        if averaged is not None:
            evaluate_averaged = make_eval_step(
                averaged, criterion, metrics=metric_fns, compute_dtype=options.compute_dtype
            )
    return _Steps(single, multi, evaluate, evaluate_averaged, per_call)


def _check_averaged(averaged: Any, model: nnx.Module) -> None:
    """``averaged`` must be a jaxnn AveragedModel of a model shaped as ``model`` (torch pairs tensors by position)."""
    if not isinstance(averaged, AveragedModel):
        raise TypeError(
            "averaged_model must be a jaxnn.optim.swa_utils.AveragedModel built on the model, got "
            f"{type(averaged).__module__}.{type(averaged).__name__}"
        )
    mine = [(name, tuple(v[...].shape)) for name, v in _named_variables(averaged.module)]
    theirs = [(name, tuple(v[...].shape)) for name, v in _named_variables(model)]
    if mine == theirs:
        return
    differ = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))

    def show(tensors: list[tuple[str, tuple[int, ...]]]) -> str:
        return "absent" if differ >= len(tensors) else f"{tensors[differ][0]!r} of shape {tensors[differ][1]}"

    raise ValueError(
        f"averaged_model was built on another model: it averages a {type(averaged.module).__name__} with "
        f"{len(mine)} tensors, and model is a {type(model).__name__} with {len(theirs)}; tensor {differ} is "
        f"{show(mine)} in the average and {show(theirs)} in the model. Build it as AveragedModel(model, ...)"
    )


def _check_arguments(model: Any, optimizer: Any, epochs: int, batch_size: int, steps_per_call: int) -> None:
    if epochs < 1 or batch_size < 1 or steps_per_call < 1:
        raise ValueError(
            f"epochs, batch_size and steps_per_call must be >= 1, got {epochs}, {batch_size}, {steps_per_call}"
        )
    _check_optimizer(optimizer)
    if not isinstance(model, nnx.Module):
        hint = (
            " (a torch module: build its jaxnn twin and load its weights)" if "torch" in type(model).__module__ else ""
        )
        raise TypeError(f"model must be an nnx.Module such as a jaxnn layer, got {type(model).__name__}{hint}")


def fit(
    model: nnx.Module,
    criterion: Callable[[Any, Any], jax.Array],
    optimizer: optax.GradientTransformation,
    train_data: Any,
    *,
    epochs: int = 1,
    eval_data: Any = None,
    metrics: Sequence[str | MetricFn] | dict[str, MetricFn] | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    keep_checkpoints: int = 3,
    resume: bool = False,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    progress: bool | None = None,
    verbose: bool = True,
    steps_per_call: int = 1,
    accumulate_steps: int = 1,
    compute_dtype: Any = None,
    loss_scale: float | None = None,
    mesh: jax.sharding.Mesh | None = None,
    fsdp: bool = False,
    averaged_model: AveragedModel | None = None,
) -> History:
    """Trains ``model`` in place and returns the :class:`History`.

    Args:
      model: an nnx module (e.g. a ``jaxnn.Module``); trained in training mode,
        evaluated in evaluation mode, its own mode left as it was. Its
        parameters and state are replaced by the trained ones at the end (also
        when training stops on an error).
      criterion: ``criterion(output, target) -> scalar`` (mean over the batch for
        the epoch averages to be exact sample means).
      optimizer: an optax transformation built without parameters, e.g.
        ``jaxnn.optim.Adam(lr=1e-3)`` or ``optax.adam(1e-3)`` (chain clipping
        in front of it); a torch optimizer is refused with that advice.
      train_data: ``(inputs, target)`` arrays (numpy, jax or torch; batched here
        by ``batch_size``, reshuffled each epoch from ``seed`` when ``shuffle``,
        last batch short as torch's ``drop_last=False``), or an iterable of
        ``(inputs, target)`` batches, e.g. a list, a generator (one epoch
        only) or a torch ``DataLoader`` (tensors are converted). The next
        batches are sliced and copied to the device on a background thread
        while the current step runs.
      epochs: passes over ``train_data``; counted from 1 in the console, the
        history, the plots and the callbacks' logs.
      eval_data: same forms; evaluated after each epoch (``val_loss`` and
        ``val_<metric>``, exact means over its samples).
      metrics: ``'accuracy'``, ``'top5'`` or functions ``(output, target) ->
        per-sample values``; see :mod:`jaxnn.training.metrics`. They are
        computed on ``eval_data``: without it they would compute nothing, and
        ``fit`` warns.
        An optimizer chained with ``jaxnn.optim.lr_scheduler.ReduceLROnPlateau``
        is stepped after each epoch with ``val_loss`` (the epoch's training
        loss without ``eval_data``), torch's ``scheduler.step(val_loss)``;
        the epoch's logs then hold the new ``lr``.
      callbacks: :class:`~jaxnn.training.Callback` objects, e.g.
        :class:`~jaxnn.training.EarlyStopping` or
        :class:`~jaxnn.training.CSVLogger`.
      checkpoint_dir: save params, other state, optimizer state, rng, position
        and history there with orbax, at the end of each epoch, every
        ``checkpoint_every`` steps if given, and at the end.
      keep_checkpoints: how many checkpoints to keep.
      resume: continue from the newest good checkpoint in ``checkpoint_dir``
        (damaged ones are skipped with a warning); the result is bit-identical
        to an uninterrupted run. Without it, a ``checkpoint_dir`` that already
        holds checkpoints is an error.
      progress: a tqdm bar per epoch with loss and samples/s; ``None`` shows it
        only on a terminal outside CI (``$CI`` unset).
      verbose: print one summary line per epoch.
      steps_per_call: run this many steps per compiled call (a ``lax.scan``
        over stacked batches; the same numbers as single steps). Checkpoints,
        callbacks' step hooks and the nan check then happen per block.
      accumulate_steps, compute_dtype, loss_scale: the
        :class:`~jaxnn.training.StepOptions` of the steps.
      mesh: a device mesh (:func:`jaxnn.training.parallel.data_mesh`): batches
        are split across its first axis, state replicated -- or, with
        ``fsdp``, sharded.
      averaged_model: a :class:`~jaxnn.optim.swa_utils.AveragedModel` built on
        ``model`` (an EMA or SWA of its weights), updated after every
        optimizer step inside the compiled step, torch's ``optimizer.step()``
        then ``averaged_model.update_parameters(model)`` (its first update
        copies; ``n_averaged`` counts the steps). With ``eval_data`` it is
        evaluated too, logged as ``val_loss_averaged`` and
        ``val_<metric>_averaged``; it is saved in checkpoints and restored on
        ``resume``, and holds the final average at the end (as the model its
        final weights). One built on another model is refused.

    Raises:
      NonFiniteLossError: the loss or the gradient norm became nan/inf (the
        loss only with a ``dynamic_loss_scale`` optimizer, which skips
        overflowing steps itself); it names the step, the model keeps the
        state from before that step.

    >>> import jax.numpy as jnp, jaxnn
    >>> from flax import nnx
    >>> model = jaxnn.Linear(2, 1, rngs=nnx.Rngs(0))
    >>> x, y = jnp.ones((8, 2)), jnp.zeros((8, 1))
    >>> history = fit(model, jaxnn.MSELoss(), jaxnn.optim.SGD(lr=0.1), (x, y), epochs=2, batch_size=4, verbose=False)
    >>> [e["epoch"] for e in history.epochs], len(history.steps)
    ([1, 2], 4)
    """
    _check_arguments(model, optimizer, epochs, batch_size, steps_per_call)
    if averaged_model is not None:
        _check_averaged(averaged_model, model)
    train = Data(train_data, batch_size, shuffle, "train_data")
    evaluation = None if eval_data is None else Data(eval_data, batch_size, False, "eval_data")
    metric_fns = resolve_metrics(metrics)
    if metric_fns and evaluation is None:
        warnings.warn(
            f"metrics {sorted(metric_fns)} are computed on eval_data, and no eval_data was given: "
            "pass eval_data=(inputs, target) to get val_<metric> per epoch",
            stacklevel=2,
        )
    checkpoints = _CheckpointPolicy(checkpoint_dir, checkpoint_every, keep_checkpoints, resume, mesh)
    _, params, other = split_model(model)
    opt_state = optimizer.init(params)
    averaged = None
    if averaged_model is not None:
        split = split_model(averaged_model)
        averaged = (split.params, split.rest)
    state = checkpoints.restore(
        _State(params, other, opt_state, jax.random.key(seed), History(), seed=seed, averaged=averaged)
    )
    place = _Placement(mesh, fsdp)
    state.carry(place.state(state.carried()))
    options = StepOptions(accumulate_steps, compute_dtype, loss_scale, skip_nonfinite=True)
    steps = _build_steps(model, criterion, optimizer, options, metric_fns, evaluation, steps_per_call, averaged_model,
                         place.out_shardings(state.carried()))
    policy, show = _NonFinitePolicy(opt_state), _progress_enabled(progress)
    try:
        while state.epoch < epochs:
            bar = _Bar(show, len(train) if train.has_len() else None, f"epoch {state.epoch + 1}/{epochs}", state.batch)
            stop = _run_epoch(state, steps, train, place, policy, checkpoints, callbacks, bar)
            bar.close()
            logs = _epoch_logs(state)
            if steps.evaluate is not None and evaluation is not None:
                logs.update(_evaluate(steps.evaluate, state.params, state.other, evaluation, place))
            if steps.evaluate_averaged is not None and evaluation is not None:
                assert state.averaged is not None  # fit keeps it whenever it built evaluate_averaged
                logs.update(_evaluate(steps.evaluate_averaged, *state.averaged, evaluation, place, "_averaged"))
            _feed_plateau(state, logs)
            state.history.epochs.append(logs)
            if verbose:
                shown = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k not in ("epoch", "step"))
                bar.write(f"epoch {logs['epoch']}/{epochs}  {shown}")
            stop = any([bool(cb.on_epoch_end(state.history, logs)) for cb in callbacks]) or stop
            state.epoch, state.batch = state.epoch + 1, 0
            checkpoints.save(state)
            if stop:
                break
    finally:
        nnx.update(model, state.params, state.other)
        if averaged_model is not None and state.averaged is not None:
            nnx.update(averaged_model, *state.averaged)
        checkpoints.close()
    return state.history
