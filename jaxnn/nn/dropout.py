"""Dropout layers with torch's train/eval switch and an nnx rng stream held by the module.

Each layer calls its :mod:`jaxnn.functional.dropout` form with a key drawn from
its own stream, only when it drops (training mode, ``0 < p < 1``).
"""

from __future__ import annotations

from typing import Optional, Union

import jax
from flax import nnx
from jax.typing import ArrayLike

from .. import functional as F
from ..module import Module
from ._common import rng_stream

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the
    survivors by ``1 / (1 - p)``; the identity in eval mode (``model.eval()``).

    Args:
      p: drop probability in [0, 1].
      inplace: accepted for torch compatibility; JAX arrays are immutable.
      rngs: ``nnx.Rngs`` (its ``dropout`` stream, else ``default``) or an
        ``nnx.RngStream``; forked and kept, as flax's ``nnx.Dropout`` does, so each
        call draws a fresh mask and the stream's counter is module state that
        ``nnx.split`` returns with the buffers. Needed only to run in training
        mode with 0 < p < 1.

    The masks are JAX's random bits, not torch's: the distribution matches, the
    draws do not. The gradient is the mask times ``1 / (1 - p)``, as torch's.

    >>> y = Dropout(0.5, rngs=nnx.Rngs(0))(jnp.ones(8))
    >>> sorted(set(y.tolist()))  # each entry dropped (0) or kept and scaled by 1 / (1 - p)
    [0.0, 2.0]
    """

    _fn = "dropout"

    def __init__(
        self,
        p: float = 0.5,
        inplace: bool = False,
        *,
        rngs: Optional[Union[nnx.Rngs, nnx.RngStream]] = None,
    ) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace
        self.rngs = rng_stream(rngs, "dropout")

    def __call__(self, input: ArrayLike) -> jax.Array:
        key = None
        if self.training and 0.0 < self.p < 1.0:
            if self.rngs is None:
                raise ValueError(
                    f"{type(self).__name__} in training mode needs randomness: construct it with rngs=nnx.Rngs(seed)"
                )
            key = self.rngs()
        return getattr(F, self._fn)(input, self.p, self.training, key=key)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zeroes whole channels of ``(N, C, L)`` / ``(C, L)`` input (one draw per channel), scaling by ``1 / (1 - p)``."""

    _fn = "dropout1d"


class Dropout2d(Dropout):
    """Zeroes whole channels of ``(N, C, H, W)`` input; 3-D input is read as ``(N, C, L)`` with torch's warning."""

    _fn = "dropout2d"


class Dropout3d(Dropout):
    """Zeroes whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` input."""

    _fn = "dropout3d"


class AlphaDropout(Dropout):
    """Alpha dropout for SELU networks: keeps zero mean and unit variance (see ``F.alpha_dropout``)."""

    _fn = "alpha_dropout"


class FeatureAlphaDropout(Dropout):
    """Alpha dropout with one draw per channel ``(N, C)`` (see ``F.feature_alpha_dropout``)."""

    _fn = "feature_alpha_dropout"
