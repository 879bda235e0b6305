"""Per-sample classification metrics for evaluation, in torch's layout (classes on axis 1).

A metric is ``fn(output, target) -> per-sample values``; the eval step averages
them over a batch and :func:`jaxnn.fit` over the evaluation set, weighting each
batch by its number of samples, so the epoch value is the exact mean over all
samples whatever the last batch's size.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["accuracy", "top_k_accuracy", "resolve_metrics"]

MetricFn = Callable[[jax.Array, jax.Array], jax.Array]


def _class_target(output: jax.Array, target: jax.Array, name: str) -> jax.Array:
    if output.ndim < 2:
        raise ValueError(f"{name} needs logits of shape (N, C, ...), got output of shape {output.shape}")
    if target.shape == output.shape:
        # Probability or one-hot targets, as cross_entropy accepts them.
        return jnp.argmax(target, axis=1)
    if target.shape != output.shape[:1] + output.shape[2:]:
        raise ValueError(
            f"{name}: target of shape {target.shape} does not match output of shape {output.shape} "
            f"(expected {output.shape[:1] + output.shape[2:]} class indices or {output.shape} probabilities)"
        )
    return target


def accuracy(output: ArrayLike, target: ArrayLike) -> jax.Array:
    """1.0 where ``argmax(output, axis=1) == target``, else 0.0, per sample (and per position for (N, C, d...)).

    ``target`` holds class indices of shape (N, d...) or class probabilities of
    the output's shape (their argmax is the class). Ties in the output go to the
    lowest class index, as ``torch.argmax`` does.
    """
    output, target = jnp.asarray(output), jnp.asarray(target)
    target = _class_target(output, target, "accuracy")
    return (jnp.argmax(output, axis=1) == target).astype(jnp.float32)


def top_k_accuracy(k: int) -> MetricFn:
    """A metric: 1.0 where the target class is among the ``k`` largest outputs on axis 1."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")

    def metric(output: ArrayLike, target: ArrayLike) -> jax.Array:
        output, target = jnp.asarray(output), jnp.asarray(target)
        target = _class_target(output, target, f"top{k}_accuracy")
        if k > output.shape[1]:
            raise ValueError(f"top{k}_accuracy needs at least {k} classes, output has {output.shape[1]}")
        # Counting only strictly larger scores makes ties hits, so the result does
        # not hang on the arbitrary order topk gives equal values.
        target_score = jnp.take_along_axis(output, jnp.expand_dims(target, 1), axis=1)
        return (jnp.sum(output > target_score, axis=1) < k).astype(jnp.float32)

    metric.__name__ = f"top{k}_accuracy"
    return metric


_TOPK = re.compile(r"top_?(\d+)(_accuracy)?$")


def resolve_metrics(metrics: Iterable[str | MetricFn] | Mapping[str, MetricFn] | None) -> dict[str, MetricFn]:
    """Names or functions -> ``{name: fn}``. Names: ``'accuracy'``, ``'top5'`` / ``'top5_accuracy'``."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    if isinstance(metrics, str):
        metrics = [metrics]
    out: dict[str, MetricFn] = {}
    for m in metrics:
        if callable(m):
            out[getattr(m, "__name__", f"metric{len(out)}")] = m
        elif m == "accuracy":
            out["accuracy"] = accuracy
        elif isinstance(m, str) and (match := _TOPK.match(m)):
            out[f"top{match.group(1)}_accuracy"] = top_k_accuracy(int(match.group(1)))
        else:
            raise ValueError(
                f"unknown metric {m!r}: use 'accuracy', 'top<k>' or a function (output, target) -> per-sample values"
            )
    return out
