"""torch's criterion classes: thin, immutable holders of options that call the functional form.

``jaxnn.MSELoss(reduction='sum')(input, target)`` is
``jaxnn.functional.mse_loss(input, target, reduction='sum')``. Each class keeps
torch's constructor signature; the deprecated ``size_average``/``reduce`` pair is
folded into ``reduction`` at construction, as torch's ``_Loss.__init__`` does.

Instances are :class:`jaxnn.Module` s (torch's criteria are ``nn.Module`` s): array
options (``weight``, ``pos_weight``) are buffers, so they are pytree leaves and
state_dict entries, and everything else is static; a criterion can be closed
over, kept as a model attribute, or passed straight into ``jax.jit``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax
from jax.typing import ArrayLike

from . import functional as F
from .functional._shape_checks import as_array
from .module import Module
from .parameter import Buffer
from .functional._reduction import REDUCTIONS, resolve

__all__ = [
    "L1Loss",
    "MSELoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "NLLLoss2d",
    "PoissonNLLLoss",
    "GaussianNLLLoss",
    "KLDivLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "MarginRankingLoss",
    "HingeEmbeddingLoss",
    "MultiLabelMarginLoss",
    "HuberLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "CosineEmbeddingLoss",
    "MultiMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "CTCLoss",
]


class _Loss(Module):
    """Base of the criterion classes.

    Subclasses set ``_function`` (the name in :mod:`jaxnn.functional`) and
    ``_arrays`` (option names holding arrays), and call ``_set(**options)`` from
    a constructor with torch's signature.

    A criterion is a :class:`jaxnn.Module`, as torch's is an ``nn.Module``: the
    array options (``weight``, ``pos_weight``) are buffers, as torch registers
    them, so ``criterion.state_dict()`` holds them and a model that keeps its
    criterion as an attribute (``self.loss_fn = CrossEntropyLoss(weight=w)``)
    has ``loss_fn.weight`` in its checkpoint. An option left ``None`` is no
    buffer, as torch's ``register_buffer(name, None)``. The options themselves
    cannot be reassigned (build a new criterion); buffers load in place.
    """

    _function: str = ""
    _arrays: tuple[str, ...] = ()
    _reductions: tuple[str, ...] = REDUCTIONS
    _options: tuple[str, ...]  # the option names, set on the instance by _set

    def _set(self, *, size_average=None, reduce=None, **options: Any) -> None:
        if "reduction" in options:
            options["reduction"] = resolve(
                options["reduction"], size_average, reduce, allowed=self._reductions
            )
        for name in self._arrays:
            if options.get(name) is not None:
                options[name] = Buffer(as_array(options[name], name))
        object.__setattr__(self, "_options", tuple(options))
        for name, value in options.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in getattr(self, "_options", ()):
            raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")
        super().__setattr__(name, value)

    @property
    def options(self) -> dict[str, Any]:
        """The keyword arguments passed to the functional form (buffers as arrays)."""
        return {
            name: value[...] if isinstance(value, Buffer) else value
            for name, value in ((n, getattr(self, n)) for n in self._options)
        }

    def __call__(self, *args: ArrayLike) -> jax.Array:
        return getattr(F, self._function)(*args, **self.options)


class L1Loss(_Loss):
    """Criterion for :func:`jaxnn.functional.l1_loss`."""

    _function = "l1_loss"

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        self._set(size_average=size_average, reduce=reduce, reduction=reduction)


class MSELoss(_Loss):
    """Criterion for :func:`jaxnn.functional.mse_loss`."""

    _function = "mse_loss"

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        self._set(size_average=size_average, reduce=reduce, reduction=reduction)


class CrossEntropyLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.cross_entropy`."""

    _function = "cross_entropy"
    _arrays = ("weight",)

    def __init__(
        self,
        weight: Optional[ArrayLike] = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        self._set(
            weight=weight,
            size_average=size_average,
            ignore_index=ignore_index,
            reduce=reduce,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )


class NLLLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.nll_loss`."""

    _function = "nll_loss"
    _arrays = ("weight",)

    def __init__(
        self,
        weight: Optional[ArrayLike] = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        self._set(
            weight=weight,
            size_average=size_average,
            ignore_index=ignore_index,
            reduce=reduce,
            reduction=reduction,
        )


class NLLLoss2d(NLLLoss):
    """torch's deprecated alias of :class:`NLLLoss` (which handles (N, C, H, W) itself)."""


class PoissonNLLLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.poisson_nll_loss`."""

    _function = "poisson_nll_loss"

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average=None,
        eps: float = 1e-8,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        self._set(
            log_input=log_input,
            full=full,
            size_average=size_average,
            eps=eps,
            reduce=reduce,
            reduction=reduction,
        )


class GaussianNLLLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.gaussian_nll_loss`; called as ``(input, target, var)``."""

    _function = "gaussian_nll_loss"

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        self._set(full=full, eps=eps, reduction=reduction)


class KLDivLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.kl_div`."""

    _function = "kl_div"
    _reductions = (*REDUCTIONS, "batchmean")

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        self._set(size_average=size_average, reduce=reduce, reduction=reduction, log_target=log_target)


class BCELoss(_Loss):
    """Criterion for :func:`jaxnn.functional.binary_cross_entropy`."""

    _function = "binary_cross_entropy"
    _arrays = ("weight",)

    def __init__(
        self, weight: Optional[ArrayLike] = None, size_average=None, reduce=None, reduction: str = "mean"
    ) -> None:
        self._set(weight=weight, size_average=size_average, reduce=reduce, reduction=reduction)


class BCEWithLogitsLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.binary_cross_entropy_with_logits`."""

    _function = "binary_cross_entropy_with_logits"
    _arrays = ("weight", "pos_weight")

    def __init__(
        self,
        weight: Optional[ArrayLike] = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Optional[ArrayLike] = None,
    ) -> None:
        self._set(
            weight=weight,
            size_average=size_average,
            reduce=reduce,
            reduction=reduction,
            pos_weight=pos_weight,
        )


class MarginRankingLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.margin_ranking_loss`; called as ``(input1, input2, target)``."""

    _function = "margin_ranking_loss"

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        self._set(margin=margin, size_average=size_average, reduce=reduce, reduction=reduction)


class HingeEmbeddingLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.hinge_embedding_loss`."""

    _function = "hinge_embedding_loss"

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        self._set(margin=margin, size_average=size_average, reduce=reduce, reduction=reduction)


class MultiLabelMarginLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.multilabel_margin_loss`."""

    _function = "multilabel_margin_loss"

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        self._set(size_average=size_average, reduce=reduce, reduction=reduction)


class HuberLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.huber_loss` (torch 2.13's class has no ``weight``)."""

    _function = "huber_loss"

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        if not isinstance(delta, (float, int)):
            raise TypeError(f"delta must be a float or int, got: {type(delta)}")
        self._set(reduction=reduction, delta=delta)


class SmoothL1Loss(_Loss):
    """Criterion for :func:`jaxnn.functional.smooth_l1_loss`."""

    _function = "smooth_l1_loss"

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0) -> None:
        self._set(size_average=size_average, reduce=reduce, reduction=reduction, beta=beta)


class SoftMarginLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.soft_margin_loss`."""

    _function = "soft_margin_loss"

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        self._set(size_average=size_average, reduce=reduce, reduction=reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.multilabel_soft_margin_loss`."""

    _function = "multilabel_soft_margin_loss"
    _arrays = ("weight",)

    def __init__(
        self, weight: Optional[ArrayLike] = None, size_average=None, reduce=None, reduction: str = "mean"
    ) -> None:
        self._set(weight=weight, size_average=size_average, reduce=reduce, reduction=reduction)


class CosineEmbeddingLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.cosine_embedding_loss`; called as ``(input1, input2, target)``."""

    _function = "cosine_embedding_loss"

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        self._set(margin=margin, size_average=size_average, reduce=reduce, reduction=reduction)


class MultiMarginLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.multi_margin_loss`."""

    _function = "multi_margin_loss"
    _arrays = ("weight",)

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Optional[ArrayLike] = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        if p not in (1, 2):
            raise ValueError(f"only p == 1 and p == 2 supported, got p={p!r}")
        self._set(
            p=p, margin=margin, weight=weight, size_average=size_average, reduce=reduce, reduction=reduction
        )


class TripletMarginLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.triplet_margin_loss`; called as ``(anchor, positive, negative)``."""

    _function = "triplet_margin_loss"

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        self._set(
            margin=margin, p=p, eps=eps, swap=swap, size_average=size_average, reduce=reduce, reduction=reduction
        )


class TripletMarginWithDistanceLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.triplet_margin_with_distance_loss`."""

    _function = "triplet_margin_with_distance_loss"

    def __init__(
        self,
        *,
        distance_function: Optional[Callable[[jax.Array, jax.Array], jax.Array]] = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        if margin <= 0:
            raise ValueError(
                f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead"
            )
        self._set(distance_function=distance_function, margin=margin, swap=swap, reduction=reduction)


class CTCLoss(_Loss):
    """Criterion for :func:`jaxnn.functional.ctc_loss`; called as
    ``(log_probs, targets, input_lengths, target_lengths)``."""

    _function = "ctc_loss"

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        self._set(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
