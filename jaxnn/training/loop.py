"""``jaxnn.fit``: the training loop around the jitted step -- data, progress, evaluation, history, checkpoints."""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from typing import Any, Callable, Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .callbacks import Callback
from .checkpoint import Checkpointer
from .history import History
from .metrics import MetricFn, resolve_metrics
from .parallel import fsdp_shard, replicate, shard_batch
from .precision import DynamicLossScale
from .step import make_eval_step, make_multi_step, make_train_step, split_model

__all__ = ["fit", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """The training loss (or its gradient) became nan or inf.

    ``step`` names the step (1-based, as ``history.steps`` counts); the model
    holds the state from before it, and ``history`` the records up to it.
    """

    def __init__(self, step: int, epoch: int, loss: float, grad_norm: float, history: History):
        self.step, self.epoch, self.loss, self.grad_norm, self.history = step, epoch, loss, grad_norm, history
        what = f"training loss is {loss}" if not math.isfinite(loss) else f"gradient norm is {grad_norm} (loss {loss})"
        super().__init__(
            f"{what} at step {step} (epoch {epoch + 1}); stopped, and the model holds "
            f"the last good state, from after step {step - 1}"
        )


def _to_host(a: Any) -> Any:
    if hasattr(a, "detach") and hasattr(a, "numpy"):
        return a.detach().cpu().numpy()
    return a


def _as_batch(item: Any) -> tuple[Any, Any]:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise TypeError(f"each batch must be a pair (inputs, target), got {type(item).__name__}")
    return jax.tree.map(_to_host, (item[0], item[1]))


def _is_array_dataset(data: Any) -> bool:
    if not isinstance(data, tuple) or len(data) != 2:
        return False
    leaves = jax.tree.leaves(jax.tree.map(_to_host, data))
    return bool(leaves) and all(getattr(a, "ndim", 0) >= 1 for a in leaves)


class _Data:
    """A dataset as ``(inputs, target)`` arrays (batched here, reshuffled each epoch) or an iterable of batches."""

    def __init__(self, data: Any, batch_size: int, shuffle: bool, name: str):
        self.name, self.batch_size, self.shuffle = name, batch_size, shuffle
        if _is_array_dataset(data):
            self.arrays = jax.tree.map(_to_host, data)
            sizes = {a.shape[0] for a in jax.tree.leaves(self.arrays)}
            if len(sizes) != 1:
                raise ValueError(f"{name}: inputs and target must have the same length on axis 0, got sizes {sorted(sizes)}")
            self.size = sizes.pop()
            if self.size == 0:
                raise ValueError(f"{name} is empty")
        elif isinstance(data, Iterable):
            self.arrays, self.iterable = None, data
        else:
            raise TypeError(f"{name} must be a tuple (inputs, target) of arrays or an iterable of batches, got {type(data).__name__}")

    def __len__(self) -> int:
        if self.arrays is not None:
            return -(-self.size // self.batch_size)
        return len(self.iterable)  # type: ignore[arg-type]

    def has_len(self) -> bool:
        return self.arrays is not None or hasattr(self.iterable, "__len__")

    def epoch(self, epoch: int, seed: int) -> Iterator[tuple[Any, Any]]:
        if self.arrays is None:
            if epoch > 0 and iter(self.iterable) is self.iterable:
                raise ValueError(
                    f"{self.name} is a one-shot iterator (a generator?), exhausted after one epoch; "
                    "pass a re-iterable (a list, a DataLoader) or arrays for epochs > 1"
                )
            yield from (_as_batch(b) for b in self.iterable)
            return
        # The order depends only on (seed, epoch), so a resumed run sees the same batches.
        order = np.random.default_rng([seed, epoch]).permutation(self.size) if self.shuffle else np.arange(self.size)
        for start in range(0, self.size, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield jax.tree.map(lambda a: a[idx], self.arrays)


def _samples(batch: Any) -> int:
    return int(jax.tree.leaves(batch[1])[0].shape[0])


def _signature(batch: Any) -> Any:
    return jax.tree.map(lambda a: (np.shape(a), np.result_type(a).str), batch)


def _groups(batches: Iterator[Any], n: int) -> Iterator[list[Any]]:
    """Consecutive same-shaped batches in blocks of ``n``; the others one by one (lists of length 1)."""
    buf: list[Any] = []
    for b in batches:
        if buf and _signature(b) != _signature(buf[0]):
            yield from ([x] for x in buf)
            buf = []
        buf.append(b)
        if len(buf) == n:
            yield buf
            buf = []
    yield from ([x] for x in buf)


def _progress_enabled(progress: bool | None) -> bool:
    if progress is False:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        if progress:
            warnings.warn("progress=True needs tqdm (pip install 'jaxnn[train]'); training without a progress bar", stacklevel=3)
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


def _evaluate(eval_step, params, other, data: _Data, place) -> dict[str, float]:
    sums: dict[str, float] = {}
    total = 0
    for batch in data.epoch(0, 0):
        n = _samples(batch)
        for k, v in eval_step(params, other, place(batch)).items():
            sums[k] = sums.get(k, 0.0) + float(v) * n
        total += n
    if total == 0:
        raise ValueError("eval_data yielded no batches")
    return {f"val_{k}": v / total for k, v in sums.items()}


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
) -> History:
    """Trains ``model`` in place and returns the :class:`History`.

    Args:
      model: an nnx module (e.g. a ``jaxnn.Module``); trained in training mode,
        evaluated in evaluation mode, its own mode left as it was. Its
        parameters and state are replaced by the trained ones at the end (also
        when training stops on an error).
      criterion: ``criterion(output, target) -> scalar`` (mean over the batch for
        the epoch averages to be exact sample means).
      optimizer: any optax transformation (chain clipping in front of it).
      train_data: ``(inputs, target)`` arrays (numpy, jax or torch; batched here
        by ``batch_size``, reshuffled each epoch from ``seed`` when ``shuffle``,
        last batch short as torch's ``drop_last=False``), or an iterable of
        ``(inputs, target)`` batches, e.g. a list, a generator (one epoch
        only) or a torch ``DataLoader`` (tensors are converted).
      epochs: passes over ``train_data``.
      eval_data: same forms; evaluated after each epoch (``val_loss`` and
        ``val_<metric>``, exact means over its samples).
      metrics: ``'accuracy'``, ``'top5'`` or functions ``(output, target) ->
        per-sample values``; see :mod:`jaxnn.training.metrics`.
      callbacks: :class:`~jaxnn.training.Callback` objects, e.g.
        :class:`~jaxnn.training.EarlyStopping`.
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
      accumulate_steps, compute_dtype, loss_scale: as in
        :func:`~jaxnn.training.make_train_step`.
      mesh: a device mesh (:func:`~jaxnn.training.data_mesh`): batches are split
        across its first axis, state replicated -- or, with ``fsdp``, sharded.

    Raises:
      NonFiniteLossError: the loss or the gradient norm became nan/inf (the
        loss only with a ``dynamic_loss_scale`` optimizer, which skips
        overflowing steps itself); it names the step, the model keeps the
        state from before that step.
    """
    if epochs < 1 or batch_size < 1 or steps_per_call < 1:
        raise ValueError(f"epochs, batch_size and steps_per_call must be >= 1, got {epochs}, {batch_size}, {steps_per_call}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1 or None, got {checkpoint_every}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs a checkpoint_dir")
    train = _Data(train_data, batch_size, shuffle, "train_data")
    evaluation = None if eval_data is None else _Data(eval_data, batch_size, False, "eval_data")
    metric_fns = resolve_metrics(metrics)

    _, params, other = split_model(model)
    opt_state = optimizer.init(params)
    key = jax.random.key(seed)
    history = History()
    epoch0, batch0 = 0, 0

    ckpt = None
    if checkpoint_dir is not None:
        ckpt = Checkpointer(checkpoint_dir, max_to_keep=keep_checkpoints)
        if ckpt.steps() and not resume:
            raise ValueError(
                f"checkpoint_dir {ckpt.directory} already holds checkpoints (steps {ckpt.steps()}); "
                "pass resume=True to continue from them, or use an empty directory"
            )
        if resume:
            template = {"params": params, "other_state": other, "opt_state": opt_state, "rng": key}
            restored = ckpt.restore_latest(template)
            if restored is not None:
                state, meta = restored
                params, other, opt_state, key = (state[k] for k in ("params", "other_state", "opt_state", "rng"))
                params, other, opt_state = jax.device_put((params, other, opt_state))
                epoch0, batch0, seed = meta["epoch"], meta["batch"], meta["seed"]
                history = History.from_dict(meta["history"])

    if mesh is not None:
        params, other, opt_state = (fsdp_shard if fsdp else replicate)((params, other, opt_state), mesh)
        place = lambda b, axis=0: shard_batch(b, mesh, axis)  # noqa: E731
    else:
        place = lambda b, axis=0: b  # noqa: E731

    options = dict(accumulate_steps=accumulate_steps, compute_dtype=compute_dtype, loss_scale=loss_scale, skip_nonfinite=True)
    step_fn = make_train_step(model, criterion, optimizer, **options)
    multi_fn = make_multi_step(model, criterion, optimizer, **options) if steps_per_call > 1 else None
    eval_fn = make_eval_step(model, criterion, metrics=metric_fns, compute_dtype=compute_dtype) if evaluation else None
    show = _progress_enabled(progress)
    # A dynamic loss scaler skips overflowing steps itself; anything else non-finite stops training.
    dynamic = isinstance(optimizer, DynamicLossScale)
    step = history.steps[-1]["step"] if history.steps else 0
    saved_at = step if resume else -1

    def save(epoch: int, batch: int) -> None:
        nonlocal saved_at
        if ckpt is not None and saved_at != step:
            meta = {"step": step, "epoch": epoch, "batch": batch, "seed": seed, "history": history.to_dict()}
            ckpt.save(step, {"params": params, "other_state": other, "opt_state": opt_state, "rng": key}, meta)
            saved_at = step

    try:
        for epoch in range(epoch0, epochs):
            skip = batch0 if epoch == epoch0 else 0
            bar = _Bar(show, len(train) if train.has_len() else None, f"epoch {epoch + 1}/{epochs}", skip)
            batches = train.epoch(epoch, seed)
            for _ in range(skip):
                next(batches)
            done, t0, seen, stop = skip, time.perf_counter(), 0, False
            for group in _groups(batches, steps_per_call):
                first = step + 1
                if len(group) > 1:
                    placed = place(jax.tree.map(lambda *xs: np.stack(xs), *group), axis=1)
                    rngs = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(first, first + len(group)))
                    params, other, opt_state, out = multi_fn(params, other, opt_state, placed, rngs)
                else:
                    out = step_fn(params, other, opt_state, place(group[0]), jax.random.fold_in(key, first))
                    params, other, opt_state, out = out[0], out[1], out[2], jax.tree.map(lambda v: v[None], out[3])
                losses, norms = np.asarray(out["loss"]), np.asarray(out["grad_norm"])
                for i, batch in enumerate(group):
                    if not (math.isfinite(losses[i]) and (math.isfinite(norms[i]) or dynamic)):
                        raise NonFiniteLossError(first + i, epoch, float(losses[i]), float(norms[i]), history)
                    record = {"step": first + i, "epoch": epoch, "loss": float(losses[i]),
                              "grad_norm": float(norms[i]), "samples": _samples(batch)}
                    history.steps.append(record)
                    stop = any([bool(cb.on_step_end(history, record)) for cb in callbacks]) or stop
                step = first + len(group) - 1
                done += len(group)
                seen += sum(_samples(b) for b in group)
                bar.update(len(group), loss=f"{losses[-1]:.4g}", samples_s=f"{seen / (time.perf_counter() - t0):.0f}")
                if checkpoint_every and (step // checkpoint_every) > ((first - 1) // checkpoint_every):
                    save(epoch, done)
                if stop:
                    break
            bar.close()
            records = [r for r in history.steps if r["epoch"] == epoch]
            if not records:
                raise ValueError(f"train_data yielded no batches in epoch {epoch + 1}")
            logs = {"epoch": epoch, "step": step,
                    "loss": sum(r["loss"] * r["samples"] for r in records) / sum(r["samples"] for r in records)}
            if evaluation is not None:
                logs.update(_evaluate(eval_fn, params, other, evaluation, place))
            history.epochs.append(logs)
            if verbose:
                bar.write(f"epoch {epoch + 1}/{epochs}  " + "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k not in ("epoch", "step")))
            stop = any([bool(cb.on_epoch_end(history, logs)) for cb in callbacks]) or stop
            save(epoch + 1, 0)
            if stop:
                break
    finally:
        nnx.update(model, params, other)
        if ckpt is not None:
            ckpt.close()
    return history
