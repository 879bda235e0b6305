"""Opt-in validation of array *values* that torch checks and jitted JAX cannot.

torch raises for a class index outside ``[0, C)`` (``IndexError: Target 5 is
out of bounds.``) and for a ``binary_cross_entropy`` probability outside
``[0, 1]``. Inside ``jax.jit`` values are unknown at trace time, so jaxnn's
losses cannot raise there. What they do instead, with checks **off** (the
default, eager and jitted alike, so both give the same numbers):

* an out-of-range class index (not equal to ``ignore_index``) makes that
  element's loss ``nan``, hence a ``nan`` 'mean' or 'sum' (negative indices do
  not wrap around as NumPy indexing would);
* a ``binary_cross_entropy`` input outside ``[0, 1]`` gives ``nan`` (the log of
  a negative number).

Turn checks **on** to get errors instead::

    import jaxnn.checks
    with jaxnn.checks.checking():          # or jaxnn.checks.enable()
        F.cross_entropy(logits, target)    # eager: raises ClassIndexError

With checks on, concrete (eager) values are inspected on the host and a
:class:`ClassIndexError` / ``ValueError`` names the first bad value and its
position. Traced values get a ``jax.experimental.checkify`` check, so wrap the
jitted function to collect it::

    from jax.experimental import checkify
    err, loss = checkify.checkify(jax.jit(f))(logits, target)
    err.throw()

The same holds for the other value checks jaxnn makes eagerly (a negative
``gaussian_nll_loss`` var, CTC lengths and labels, Embedding indices, a
non-positive margin): with checks off they are skipped under ``jax.jit``;
with checks on they become checkify checks (:func:`staged`).

A jitted function with checks on that is *not* wrapped in ``checkify`` fails at
trace time with JAX's "not functionalized" error. The switch is read when a
function is traced: a function jitted while checks were off keeps no checks
until it is traced again.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

__all__ = [
    "ClassIndexError",
    "enabled",
    "enable",
    "checking",
    "validate_class_indices",
    "validate_interval",
    "staged",
]

_enabled = False


class ClassIndexError(IndexError, ValueError):
    """A class index outside ``[0, C)``; an ``IndexError`` like torch's, and a ``ValueError``."""


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


def _check(values: jax.Array, bad: Callable, message: str, error: type[Exception]) -> None:
    """Raises ``error`` for the first element where ``bad`` holds, or stages a checkify check.

    ``message`` is formatted with ``value`` (the first bad element) and
    ``where`` (its position, known only eagerly).
    """
    if values.size == 0:
        return
    if isinstance(values, jax.core.Tracer):
        mask = jnp.ravel(bad(values))
        first = jnp.ravel(values)[jnp.argmax(mask)]
        checkify.check(~jnp.any(mask), message.replace("{where}", ""), value=first)
        return
    host = np.asarray(values)
    mask = np.asarray(bad(host))
    if mask.any():
        position = tuple(int(i) for i in np.argwhere(mask)[0])
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
    """Checks (when enabled) that every index of ``target`` lies in ``[low, num_classes)``.

    Elements equal to ``ignore_index`` are skipped. ``low`` is -1 for
    ``multilabel_margin_loss``, whose -1 ends a sample's target list. Does
    nothing when checks are off.

    Raises:
      ClassIndexError: eagerly, naming the first bad index and its position.
    """
    if not _enabled:
        return

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
    """Checks (when enabled) that every element of ``x`` lies in ``[low, high]``; nan fails.

    Raises:
      ValueError: eagerly, naming the first bad value and its position.
    """
    if not _enabled:
        return

    def bad(v):
        return ~((v >= low) & (v <= high))

    _check(
        x,
        bad,
        f"all elements of {name} should be between {low} and {high}; "
        f"found {{value}}{{where}}",
        ValueError,
    )
