"""AdaptiveLogSoftmaxWithLoss: torch's adaptive softmax (Grave et al., 2016)."""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module
from .container import ModuleList, Sequential
from .linear import Linear

__all__ = ["AdaptiveLogSoftmaxWithLoss"]


class _ASMoutput(NamedTuple):
    """torch's ``(output, loss)`` named tuple."""

    output: jax.Array
    loss: jax.Array


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax, torch's ``nn.AdaptiveLogSoftmaxWithLoss``.

    Classes ``[0, cutoffs[0])`` are the head's shortlist; each cluster
    ``[cutoffs[i], cutoffs[i+1])`` (the last ends at ``n_classes``) is one extra
    head logit. ``log p(y) = log p_head(y)`` in the shortlist, else
    ``log p_head(cluster) + log p_cluster(y)``, with the cluster's logits from
    ``tail[i] = Sequential(Linear(in, in // div_value**(i+1), bias=False),
    Linear(that, cluster size, bias=False))``.

    Args (torch's): ``in_features, n_classes, cutoffs, div_value=4.0,
    head_bias=False``; ``rngs``. Keys: ``head.weight`` (``head.bias``),
    ``tail.{i}.0.weight``, ``tail.{i}.1.weight``; ``Linear``'s initialisation.

    ``model(input, target)`` with input ``(N, in_features)`` and target ``(N,)``
    (or ``(in_features,)`` and ``()``) returns ``(output, loss)``: the target
    log-probabilities and their negated mean. A target outside
    ``[0, n_classes)`` raises when the target is concrete; under ``jit`` its
    output is nan. ``log_prob(input)`` gives ``(N, n_classes)``; ``predict(input)``
    the most likely class.

    Every cluster is evaluated for every row (JAX needs static shapes; torch
    evaluates only the rows that need it); the values and gradients are the same.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        cutoffs: Sequence[int],
        div_value: float = 4.0,
        head_bias: bool = False,
        *,
        rngs: Optional[nnx.Rngs] = None,
        dtype: Any = None,
    ) -> None:
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (
            cutoffs != sorted(cutoffs)
            or min(cutoffs) <= 0
            or max(cutoffs) > n_classes - 1
            or len(set(cutoffs)) != len(cutoffs)
            or any(int(c) != c for c in cutoffs)
        ):
            raise ValueError(
                "cutoffs should be a sequence of unique, positive integers sorted in an increasing order, where "
                f"each value is between 1 and n_classes-1, got {cutoffs} with n_classes={n_classes}"
            )
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, rngs=rngs, dtype=dtype)
        tail = []
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            tail.append(
                Sequential(
                    Linear(in_features, hsz, bias=False, rngs=rngs, dtype=dtype),
                    Linear(hsz, osz, bias=False, rngs=rngs, dtype=dtype),
                )
            )
        self.tail = ModuleList(tail)

    def __call__(self, input_: ArrayLike, target_: ArrayLike) -> _ASMoutput:
        x, t = jnp.asarray(input_), jnp.asarray(target_)
        if t.ndim == 1:
            if x.ndim != 2:
                raise ValueError(f"1D target tensor expects 2D input tensors, but found inputs with size {x.shape}")
            if x.shape[0] != t.shape[0]:
                raise ValueError(
                    f"Input and target should have the same size in the batch dimension, got input {x.shape} "
                    f"and target {t.shape}"
                )
        elif t.ndim == 0:
            if x.ndim != 1:
                raise ValueError(f"0D target tensor expects 1D input tensors, but found inputs with size {x.shape}")
        else:
            raise ValueError(f"0D or 1D target tensor expected, multi-target not supported, got target {t.shape}")
        batched = t.ndim > 0
        if not batched:
            x, t = x[None], t[None]
        if not isinstance(t, jax.core.Tracer) and t.size and (int(t.min()) < 0 or int(t.max()) >= self.n_classes):
            raise ValueError(
                f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                f"[{int(t.min())}, {int(t.max())}] were found."
            )
        head_logprob = F.log_softmax(self.head(x), dim=1)
        gather = jnp.where(t < self.shortlist_size, t, 0)
        output = jnp.zeros(t.shape, head_logprob.dtype)
        for i, (low, high) in enumerate(itertools.pairwise(self.cutoffs)):
            in_cluster = (t >= low) & (t < high)
            cluster_logprob = F.log_softmax(self.tail[i](x), dim=1)
            rel = jnp.clip(t - low, 0, high - low - 1)
            local = jnp.take_along_axis(cluster_logprob, rel[:, None], axis=1)[:, 0]
            output = jnp.where(in_cluster, local, output)
            gather = jnp.where(in_cluster, self.shortlist_size + i, gather)
        output = output + jnp.take_along_axis(head_logprob, gather[:, None], axis=1)[:, 0]
        output = jnp.where((t >= 0) & (t < self.n_classes), output, jnp.nan)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output[0], loss)

    def _full_log_prob(self, x: jax.Array, head_output: jax.Array) -> jax.Array:
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, : self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = F.log_softmax(self.tail[i](x), dim=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i][:, None])
        return jnp.concatenate(parts, axis=1)

    def log_prob(self, input: ArrayLike) -> jax.Array:
        """``(N, n_classes)`` log-probabilities of every class."""
        x = jnp.asarray(input)
        return self._full_log_prob(x, self.head(x))

    def predict(self, input: ArrayLike) -> jax.Array:
        """The most likely class of each row, ``(N,)``: the head's argmax when it
        falls in the shortlist, else the argmax of the full log-probabilities."""
        x = jnp.asarray(input)
        head_output = self.head(x)
        output = jnp.argmax(head_output, axis=1)
        full = jnp.argmax(self._full_log_prob(x, head_output), axis=1)
        return jnp.where(output >= self.shortlist_size, full, output)
