"""torch.nn.functional's dropout family with an explicit random key.

torch draws masks from a global RNG; JAX has none, so every function here takes
a keyword-only ``key`` (a ``jax.random`` key), needed only when it actually
drops (``training`` and ``0 < p < 1``). The signatures are otherwise torch's:
``dropout(input, p=0.5, training=True, inplace=False, *, key=None)``.
``alpha_dropout`` and ``feature_alpha_dropout`` default to ``training=False``
as in torch. ``inplace`` is accepted and ignored (JAX arrays are immutable).

The masks are JAX's draws, not torch's bits: the distribution matches torch's
and the gradient is the applied mask times its scale, as torch's. An empty
input, ``p == 0`` or eval mode return the input unchanged; ``p == 1`` gives
``input * 0`` (nan and inf become nan, as torch).

Feature ("channel-wise") forms draw one Bernoulli per ``(N, C)`` and broadcast
it over the remaining (spatial) dimensions.
"""

from __future__ import annotations

import math
import warnings
from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._shape_checks import as_array

__all__ = ["dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d"]

# SELU's scale * alpha: the value a dropped unit takes (negated) in alpha dropout.
_ALPHA = 1.7580993408473766


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(
    x: jax.Array, p: float, training: bool, key: Optional[jax.Array], *, feature: bool, alpha: bool, name: str
) -> jax.Array:
    """torch's ``_dropout_impl``: the shared body of the six functions."""
    if feature and x.ndim < 2:
        raise ValueError(
            f"{name}: Feature dropout requires at least 2 dimensions in the input, got shape {tuple(x.shape)}"
        )
    if not training or p == 0.0 or x.size == 0:
        return x
    if p == 1.0:
        return x * jnp.zeros((), x.dtype)
    if key is None:
        raise ValueError(f"{name}: training with 0 < p < 1 draws a random mask; pass key=jax.random.key(seed)")
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
    keep = jax.random.bernoulli(key, 1.0 - p, shape)
    if not alpha:
        return x * jnp.where(keep, 1.0 / (1.0 - p), 0.0).astype(x.dtype)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    noise = keep.astype(x.dtype)
    # torch: b = (noise - 1) * alpha * a + alpha * a * p, output = x * (noise * a) + b
    b = (noise - 1) * (_ALPHA * a) + _ALPHA * a * p
    return x * (noise * a) + b


def dropout(
    input: ArrayLike, p: float = 0.5, training: bool = True, inplace: bool = False, *, key: Optional[jax.Array] = None
) -> jax.Array:
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``.

    Args:
      input: any shape.
      p: the drop probability in [0, 1].
      training: ``False`` returns ``input`` unchanged.
      key: ``jax.random`` key; needed when ``training`` and ``0 < p < 1``.

    >>> y = dropout(jnp.ones(8), 0.5, key=jax.random.key(0))
    >>> sorted(set(y.tolist()))  # each entry dropped (0) or kept and scaled by 1 / (1 - p)
    [0.0, 2.0]

    Raises:
      ValueError: ``p`` outside [0, 1]; a missing ``key`` where one is needed.
    """
    _check_p(p)
    return _dropout(as_array(input, "input"), p, training, key, feature=False, alpha=False, name="dropout")


def alpha_dropout(
    input: ArrayLike, p: float = 0.5, training: bool = False, inplace: bool = False, *, key: Optional[jax.Array] = None
) -> jax.Array:
    """Alpha dropout (Klambauer et al., for SELU networks): keeps zero mean and unit variance.

    A dropped element becomes ``-alpha'`` (alpha' = 1.7580993408473766, SELU's
    scale * alpha) and the whole is mapped affinely by ``a = 1 / sqrt((alpha'^2 p + 1)(1 - p))``,
    ``b = alpha' a p``: kept ``a x + b``, dropped ``a (-alpha') + b``.
    Note torch's default is ``training=False``.

    Raises:
      ValueError: ``p`` outside [0, 1]; a missing ``key`` where one is needed.
    """
    _check_p(p)
    return _dropout(as_array(input, "input"), p, training, key, feature=False, alpha=True, name="alpha_dropout")


def feature_alpha_dropout(
    input: ArrayLike, p: float = 0.5, training: bool = False, inplace: bool = False, *, key: Optional[jax.Array] = None
) -> jax.Array:
    """:func:`alpha_dropout` with one draw per channel ``(N, C)``, constant over the other dimensions.

    Args:
      input: ``(N, C, *)``, at least 2-D.

    Raises:
      ValueError: ``p`` outside [0, 1]; input with fewer than 2 dimensions; a missing ``key``.
    """
    _check_p(p)
    x = as_array(input, "input")
    return _dropout(x, p, training, key, feature=True, alpha=True, name="feature_alpha_dropout")


def dropout1d(
    input: ArrayLike, p: float = 0.5, training: bool = True, inplace: bool = False, *, key: Optional[jax.Array] = None
) -> jax.Array:
    """Zeroes whole channels of ``(N, C, L)`` or unbatched ``(C, L)`` input, scaling the rest by ``1 / (1 - p)``.

    Raises:
      ValueError: ``p`` outside [0, 1]; input that is not 2-D or 3-D (torch: RuntimeError).
    """
    _check_p(p)
    x = as_array(input, "input")
    if x.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input of shape {tuple(x.shape)}. "
            "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
            "a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs)."
        )
    if x.ndim == 2:
        return _dropout(x[None], p, training, key, feature=True, alpha=False, name="dropout1d")[0]
    return _dropout(x, p, training, key, feature=True, alpha=False, name="dropout1d")


def dropout2d(
    input: ArrayLike, p: float = 0.5, training: bool = True, inplace: bool = False, *, key: Optional[jax.Array] = None
) -> jax.Array:
    """Zeroes whole channels of ``(N, C, H, W)`` input, scaling the rest by ``1 / (1 - p)``.

    torch's historical behaviour is kept: a 3-D input is read as ``(N, C, L)``
    (channel-wise 1-D dropout) with torch's warning, and other ranks (>= 2) warn
    and drop per ``(dim 0, dim 1)`` pair.

    Raises:
      ValueError: ``p`` outside [0, 1]; input with fewer than 2 dimensions.
    """
    _check_p(p)
    x = as_array(input, "input")
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated and will result in an "
            "error in a future release. To retain the behavior and silence this warning, please use dropout "
            "instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial "
            "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            UserWarning,
            stacklevel=2,
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
            "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
            "will change in a future release to interpret the input as one without a batch dimension, i.e. "
            "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
            "dropout1d instead.",
            UserWarning,
            stacklevel=2,
        )
    return _dropout(x, p, training, key, feature=True, alpha=False, name="dropout2d")


def dropout3d(
    input: ArrayLike, p: float = 0.5, training: bool = True, inplace: bool = False, *, key: Optional[jax.Array] = None
) -> jax.Array:
    """Zeroes whole channels of ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` input.

    Any rank other than 5 is treated as unbatched (a batch axis is added and
    removed), with torch's deprecation warning for ranks other than 4 and 5.

    Raises:
      ValueError: ``p`` outside [0, 1]; input with fewer than 1 dimension.
    """
    _check_p(p)
    x = as_array(input, "input")
    if x.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {x.ndim}-D input to dropout3d, which is deprecated and will result in an "
            "error in a future release. To retain the behavior and silence this warning, please use dropout "
            "instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial "
            "dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            UserWarning,
            stacklevel=2,
        )
    if x.ndim != 5:
        return _dropout(x[None], p, training, key, feature=True, alpha=False, name="dropout3d")[0]
    return _dropout(x, p, training, key, feature=True, alpha=False, name="dropout3d")
