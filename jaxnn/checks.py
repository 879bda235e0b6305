"""Validation of array *values* that torch checks: eager by default, opt-in under jit.

torch raises for a class index outside ``[0, C)`` (``IndexError: Target 5 is
out of bounds.``) and for a ``binary_cross_entropy`` probability outside
``[0, 1]``. jaxnn does the same whenever the values are concrete (an eager
call, not traced by ``jax.jit``/``grad``/``vmap``): a :class:`ClassIndexError`
(an ``IndexError``) or :class:`ValueRangeError` (a ``RuntimeError``) names the argument, the first bad value
and its position::

    F.cross_entropy(logits, jnp.array([0, 10]))   # 10 classes
    # ClassIndexError: target holds class index 10 at position (1,), outside [0, 10) ...

Inside ``jax.jit`` values are unknown at trace time, so nothing can raise
there. With the jit checks **off** (the default) a jitted call gives:

* for an out-of-range class index (not equal to ``ignore_index``): ``nan`` for
  that element, hence a ``nan`` 'mean' or 'sum' (negative indices do not wrap
  around as NumPy indexing would);
* for a ``binary_cross_entropy`` input outside ``[0, 1]``: ``nan`` (the log of a
  negative number); a target outside ``[0, 1]`` is not detected (a finite,
  wrong number).

Turn the jit checks **on** to have them staged as ``jax.experimental.checkify``
checks, collected by wrapping the jitted function::

    from jax.experimental import checkify
    with jaxnn.checks.checking():          # or jaxnn.checks.enable()
        err, loss = checkify.checkify(jax.jit(f))(logits, target)
    err.throw()

The same holds for the other value checks jaxnn makes eagerly (a negative
``gaussian_nll_loss`` var, CTC lengths and labels, Embedding indices, a
non-positive margin): skipped under ``jax.jit`` unless checks are on, then
checkify checks (:func:`staged`).

The eager class-index and probability checks cost a pass over the array and a
host round trip per call (figures in docs/reliability.md); :func:`eager` turns
them off (``jaxnn.checks.eager(False)``, for the process or as a ``with``
block), as does the environment variable ``JAXNN_EAGER_CHECKS=0`` read at
import. They stay on when the jit checks are on.

A jitted function with checks on that is *not* wrapped in ``checkify`` fails at
trace time with JAX's "not functionalized" error. The switches are read when a
function is traced: a function jitted while checks were off keeps no checks
until it is traced again.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

__all__ = [
    "ClassIndexError",
    "IndexRangeError",
    "ValueRangeError",
    "enabled",
    "enable",
    "checking",
    "eager",
    "eager_enabled",
    "validate_class_indices",
    "validate_interval",
    "staged",
]

_enabled = False
_eager = os.environ.get("JAXNN_EAGER_CHECKS", "1").strip().lower() not in ("0", "false", "off", "no")


class IndexRangeError(IndexError, ValueError):
    """An index outside its range (an Embedding row); an ``IndexError`` like torch's, and a ``ValueError``."""


class ClassIndexError(IndexRangeError):
    """A class index outside ``[0, C)``; an ``IndexError`` like torch's, and a ``ValueError``."""


class ValueRangeError(ValueError, RuntimeError):
    """A value outside its allowed interval (a probability above 1); torch's ``RuntimeError``, and a ``ValueError``."""


def enabled() -> bool:
    """Whether value checks are on (read at trace time)."""
    return _enabled


def enable(on: bool = True) -> None:
    """Turns value checks on (or off with ``enable(False)``) for the whole process."""
    global _enabled
    _enabled = bool(on)


@contextlib.contextmanager
def checking(on: bool = True) -> Iterator[None]:
    """Turns value checks on (or off) inside a ``with`` block, restoring the old setting after."""
    global _enabled
    previous, _enabled = _enabled, bool(on)
    try:
        yield
    finally:
        _enabled = previous


class eager:
    """Turns the eager class-index and probability checks on or off; also a ``with`` block.

    ``jaxnn.checks.eager(False)`` switches them off for the process;
    ``with jaxnn.checks.eager(False): ...`` only inside the block, restoring
    the old setting after. They are on by default (unless the environment
    variable ``JAXNN_EAGER_CHECKS`` is ``0``).

    >>> import jax.numpy as jnp, jaxnn.functional as F
    >>> with jaxnn.checks.eager(False):
    ...     print(F.nll_loss(jnp.zeros((1, 3)), jnp.array([3])))
    nan
    """

    def __init__(self, on: bool = True) -> None:
        global _eager
        self._previous, _eager = _eager, bool(on)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        global _eager
        _eager = self._previous


def eager_enabled() -> bool:
    """Whether concrete class indices and probabilities are checked (see :class:`eager`)."""
    return _eager or _enabled


def _check(values: jax.Array, bad: Callable, message: str, error: type[Exception]) -> None:
    """Raises ``error`` for the first element where ``bad`` holds, or stages a checkify check.

    ``message`` is formatted with ``value`` (the first bad element) and
    ``where`` (its position, known only eagerly).
    """
    if values.size == 0:
        return
    if isinstance(values, jax.core.Tracer):
        if not _enabled:
            return
        mask = jnp.ravel(bad(values))
        first = jnp.ravel(values)[jnp.argmax(mask)]
        checkify.check(~jnp.any(mask), message.replace("{where}", ""), value=first)
        return
    if not eager_enabled():
        return
    on_host = not isinstance(values, jax.Array) or all(d.platform == "cpu" for d in values.devices())
    # On an accelerator only one bool crosses to the host unless something is wrong.
    if not on_host and not bool(jnp.any(bad(values))):
        return
    host = np.asarray(values)
    host_mask = np.asarray(bad(host))
    if host_mask.any():
        position = tuple(int(i) for i in np.argwhere(host_mask)[0])
        raise error(message.format(value=host[position], where=f" at position {position}"))


def staged(ok: jax.Array, message: str) -> None:
    """When checks are on and ``ok`` is traced: a checkify check that every element of ``ok`` holds.

    The path for the value checks jaxnn runs eagerly on concrete values (a
    negative ``var``, CTC lengths, Embedding indices, a non-positive margin):
    under ``jax.jit`` they are skipped unless checks are on, and then they are
    collected by ``checkify`` like the class-index checks. Does nothing for
    concrete ``ok`` (the eager check has already run) or with checks off.
    """
    if _enabled and isinstance(ok, jax.core.Tracer):
        checkify.check(jnp.all(ok), message.replace("{", "{{").replace("}", "}}"))


def validate_class_indices(
    target: jax.Array,
    num_classes: int,
    *,
    ignore_index: Optional[int] = None,
    low: int = 0,
    name: str = "target",
) -> None:
    """Checks that every index of ``target`` lies in ``[low, num_classes)``.

    Elements equal to ``ignore_index`` are skipped. ``low`` is -1 for
    ``multilabel_margin_loss``, whose -1 ends a sample's target list.
    Concrete values are checked unless :class:`eager` checks are off; traced
    ones get a checkify check when checks are on.

    Raises:
      ClassIndexError: eagerly, naming the first bad index and its position.
    """
    def bad(t):
        out = (t < low) | (t >= num_classes)
        return out if ignore_index is None else out & (t != ignore_index)

    ignored = "" if ignore_index is None else f" (ignore_index={ignore_index})"
    _check(
        target,
        bad,
        f"{name} holds class index {{value}}{{where}}, outside "
        f"[{low}, {num_classes}) for {num_classes} classes{ignored}",
        ClassIndexError,
    )


def validate_interval(x: jax.Array, low: float, high: float, name: str) -> None:
    """Checks that every element of ``x`` lies in ``[low, high]`` (as :func:`validate_class_indices`); nan fails.

    Raises:
      ValueError: eagerly, naming the first bad value and its position.
    """
    def bad(v):
        return ~((v >= low) & (v <= high))

    _check(
        x,
        bad,
        f"all elements of {name} should be between {low} and {high}; "
        f"found {{value}}{{where}}",
        ValueRangeError,
    )
