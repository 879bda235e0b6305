"""torch.nn.functional's convolutions in torch's layouts: channels first, torch's weight shapes.

``conv{1,2,3}d`` weights are ``(out_channels, in_channels // groups, *kernel)``;
``conv_transpose{1,2,3}d`` weights are ``(in_channels, out_channels // groups, *kernel)``,
so torch checkpoints need no transposes. Both lower to
``lax.conv_general_dilated``: a transposed convolution is the gradient of a
convolution, computed as a convolution of the stride-dilated input with the
flipped, in/out-swapped kernel. Half-precision inputs accumulate in float32
(bias included), as torch's kernels do.

Lowering of ``conv{1,2,3}d`` (issue #20; measured in docs/benchmarks.md with
``python -m benchmarks.conv_ops``). XLA:CPU's convolution was 6-23x slower than
torch per op on 3x3x3 kernels, 60-150x (forward, input gradient) on 3x3 kernels
over 2x2 maps and up to 3x on 1x1 kernels, so :func:`_convolve` picks per shape,
``groups == 1`` only, first rule that applies:

1. 3-d: the ``kD`` depth-shifted slices of the input are stacked into channels
   and depth folded into the batch, leaving one 2-d convolution with
   ``kD * C_in`` channels, lowered by rules 2-3;
2. a 1x1 kernel, or at most 16 output pixels per image: im2col (the kernel
   taps as strided slices, stacked) and one ``dot_general``;
3. at most 25 (input channel, tap) pairs per output pixel (a first layer on
   one or two channels: 3x3 or 5x5 over a grey image): the same patches times
   the weight broadcast over the batch, one batched ``dot_general`` whose output
   is already ``(N, C_out, pixels)``. XLA:CPU runs its convolution channels-last,
   and the transposes around it cost more than the convolution on such shapes
   (the CNN row's step 11.2 -> 8.8 ms);
4. otherwise (and always with ``groups > 1``) ``lax.conv_general_dilated``;
   but inside the body of a jaxnn loop (:func:`_loop_body`, set by
   ``jaxnn.training.make_multi_step`` while it traces the step) on the CPU
   backend, rule 2's im2col: XLA:CPU leaves a loop body's convolutions on its
   generic emitter (the channels-first form and the weight gradient; jax#12868),
   12-15x slower than the same convolution outside a loop, while a dot is as
   fast there. The patches hold ``taps`` copies of the input.

``conv_transpose{1,2,3}d`` with kernel == stride, no padding, dilation 1 and
``groups == 1`` (rule 5, :func:`_transpose_as_matmul`; the lax form was up to
55x slower than torch) is one ``dot_general`` and a reshape; every other
transposed convolution is the lax convolution of the stride-dilated input.

A one-channel input was also written as a sum over the 9 taps: ~5x faster
alone, but slower inside the training step than rule 3 (docs/benchmarks.md).

All are the same sums of products as torch's in another order (equal within
float32 rounding); gradients are JAX's autodiff of the chosen form.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from typing import Any, Iterator, Optional, Union

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._shape_checks import as_array
from ._windows import IntOrTuple, floating, tuples

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "conv_tbc",
]

Padding = Union[str, IntOrTuple]


def _dimension_numbers(nd: int) -> tuple[str, str, str]:
    spatial = "DHW"[-nd:]
    return ("NC" + spatial, "OI" + spatial, "NC" + spatial)


def _accumulator(dtype) -> Any:
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else None


def _operands(name: str, nd: int, input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike]):
    """Input with a batch axis, weight and bias in one dtype (lax takes no mixed dtypes), checked."""
    x = floating(name, as_array(input, "input"))
    w = floating(name, as_array(weight, "weight"))
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, got shape {x.shape}")
    if w.ndim != nd + 2:
        raise ValueError(f"{name}: expected a {nd + 2}D weight, got shape {w.shape}")
    b = None if bias is None else as_array(bias, "bias")
    dtype = jnp.result_type(x, w) if b is None else jnp.result_type(x, w, b)
    unbatched = x.ndim == nd + 1
    x = x[None] if unbatched else x
    return x.astype(dtype), w.astype(dtype), b, unbatched


def _groups(name: str, groups: int) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
    return groups


def _check_bias(name: str, b: Optional[jax.Array], out_channels: int) -> None:
    if b is not None and b.shape != (out_channels,):
        raise ValueError(f"{name}: expected bias of shape ({out_channels},) (out_channels), got {b.shape}")


def _finish(y: jax.Array, b: Optional[jax.Array], nd: int, unbatched: bool, dtype) -> jax.Array:
    if b is not None:
        # Added at the accumulator's precision, so the bias gradient sums in float32 too.
        y = y + b.astype(y.dtype).reshape((-1,) + (1,) * nd)
    y = y.astype(dtype)
    return y[0] if unbatched else y


# Rule 2's bound on output pixels per image; above it XLA's convolution was as fast or
# faster (8x8 maps: 1.2x vs im2col's 1.6x of torch forward at 128 channels).
_IM2COL_MAX_PIXELS = 16
# Rule 3's bound on C_in * taps: measured faster than lax up to 25 (1-2 channels, 3x3 and 5x5;
# 1.6-3x on a conv+relu value and weight gradient), level at 27-36, 4x slower at 75 (3 ch, 5x5).
_BATCHED_MAX_DEPTH = 25
_forced: list[Optional[str]] = [None]
_in_loop: list[bool] = [False]


@contextlib.contextmanager
def _lowering(name: Optional[str]) -> Iterator[None]:
    """Traces convolutions with one lowering ('lax', 'im2col', 'batched', 'fold'), or the rules (None).

    For the tests and ``benchmarks.conv_ops``; read at trace time, so jit inside the block.
    """
    previous, _forced[0] = _forced[0], name
    try:
        yield
    finally:
        _forced[0] = previous


@contextlib.contextmanager
def _loop_body() -> Iterator[None]:
    """Traces convolutions as the body of an XLA loop: rule 4 becomes im2col on the CPU backend.

    Read at trace time: wrap the tracing of a ``lax.scan`` body, not the call of a
    compiled function. ``jaxnn.training``'s multi-step drivers do.
    """
    previous, _in_loop[0] = _in_loop[0], True
    try:
        yield
    finally:
        _in_loop[0] = previous


def _slices(x, kernel, stride, dilation, out) -> Iterator[tuple[tuple[int, ...], jax.Array]]:
    """``(tap, x[:, :, tap * dilation :: stride][:out])`` for every kernel tap of a padded input."""
    n, c = x.shape[:2]
    for tap in itertools.product(*(range(k) for k in kernel)):
        start = tuple(i * d for i, d in zip(tap, dilation))
        limit = tuple(b + (o - 1) * s + 1 for b, o, s in zip(start, out, stride))
        yield tap, jax.lax.slice(x, (0, 0) + start, (n, c) + limit, (1, 1) + tuple(stride))


def _patches(x, w_shape, stride, dilation, out) -> jax.Array:
    """``(N, C_in * taps, pixels)``: every kernel tap's strided slice of a padded input, channel-major."""
    patches = jnp.stack([s for _, s in _slices(x, w_shape[2:], stride, dilation, out)], axis=2)
    return patches.reshape(x.shape[0], w_shape[1] * math.prod(w_shape[2:]), math.prod(out))


def _im2col(x, w, stride, dilation, out, accumulator) -> jax.Array:
    """Rule 2: patches ``(N, C_in * taps, pixels)`` contracted with the weight ``(C_out, C_in * taps)``."""
    n, o = x.shape[0], w.shape[0]
    patches = _patches(x, w.shape, stride, dilation, out)
    y = jax.lax.dot_general(
        w.reshape(o, patches.shape[1]), patches, (((1,), (1,)), ((), ())), preferred_element_type=accumulator
    )  # (C_out, N, pixels)
    return jnp.swapaxes(y, 0, 1).reshape((n, o, *out))


def _im2col_batched(x, w, stride, dilation, out, accumulator) -> jax.Array:
    """Rule 3: ``y[n] = W @ patches[n]``, the ``(C_out, C_in * taps)`` weight broadcast over the batch.

    The batched product comes out as ``(N, C_out, pixels)``, channels first: no
    transpose of the output, where rule 2's plain product gives ``(C_out, N, pixels)``.
    """
    n, o = x.shape[0], w.shape[0]
    patches = _patches(x, w.shape, stride, dilation, out)
    wb = jnp.broadcast_to(w.reshape(1, o, patches.shape[1]), (n, o, patches.shape[1]))
    y = jax.lax.dot_general(wb, patches, (((2,), (1,)), ((0,), (0,))), preferred_element_type=accumulator)
    return y.reshape((n, o, *out))


def _fold_depth(x, w, stride, pads, dilation, groups, accumulator) -> jax.Array:
    """Rule 1: a 3-d convolution as a 2-d one over ``(N * D_out, C_in * kD, H, W)``."""
    n, c, d = x.shape[:3]
    o, kd = w.shape[0], w.shape[2]
    x = jnp.pad(x, [(0, 0), (0, 0), pads[0], (0, 0), (0, 0)])
    d_out = (x.shape[2] - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    s = jnp.stack(
        [jax.lax.slice_in_dim(x, i * dilation[0], i * dilation[0] + (d_out - 1) * stride[0] + 1, stride[0], axis=2)
         for i in range(kd)],
        axis=3,
    )  # (N, C_in, D_out, kD, H, W): channel-major, so each group's channels stay contiguous
    s = jnp.moveaxis(s, 2, 1).reshape((n * d_out, c * kd) + x.shape[3:])
    y = _convolve(s, w.reshape((o, w.shape[1] * kd) + w.shape[3:]), stride[1:], pads[1:], dilation[1:], groups,
                  accumulator)
    return jnp.moveaxis(y.reshape((n, d_out, o) + y.shape[2:]), 1, 2)


def _rule(nd, w_shape, groups, out) -> str:
    if groups != 1:
        return "lax"
    if nd == 3:
        return "fold"
    kernel = w_shape[2:]
    if all(k == 1 for k in kernel) or math.prod(out) <= _IM2COL_MAX_PIXELS:
        return "im2col"
    if nd == 2 and w_shape[1] * math.prod(kernel) <= _BATCHED_MAX_DEPTH:
        return "batched"
    if _in_loop[0] and jax.default_backend() == "cpu":
        return "im2col"
    return "lax"


def _convolve(x, w, stride, pads, dilation, groups, accumulator) -> jax.Array:
    """``conv_general_dilated(x, w)`` in NC... / OI... layouts, lowered per :func:`_rule`."""
    nd = w.ndim - 2
    kernel = w.shape[2:]
    out = tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, (lo, hi), d, k, s in zip(x.shape[2:], pads, dilation, kernel, stride)
    )
    rule = _rule(nd, w.shape, groups, out) if _forced[0] is None or groups != 1 else _forced[0]
    if rule == "fold" and nd != 3:
        rule = "lax"
    if rule == "fold":
        return _fold_depth(x, w, stride, pads, dilation, groups, accumulator)
    if rule in ("im2col", "batched"):
        lower = _im2col if rule == "im2col" else _im2col_batched
        return lower(jnp.pad(x, [(0, 0), (0, 0), *pads]), w, stride, dilation, out, accumulator)
    return jax.lax.conv_general_dilated(
        x,
        w,
        window_strides=stride,
        padding=pads,
        rhs_dilation=dilation,
        dimension_numbers=_dimension_numbers(nd),
        feature_group_count=groups,
        preferred_element_type=accumulator,
    )


def _conv(name, nd, input, weight, bias, stride, padding, dilation, groups) -> jax.Array:
    x, w, b, unbatched = _operands(name, nd, input, weight, bias)
    groups = _groups(name, groups)
    stride, dilation = tuples(name, nd, stride=stride, dilation=dilation)
    if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation):
        raise ValueError(f"{name}: stride {stride} and dilation {dilation} must be positive")
    out_channels, in_per_group = w.shape[:2]
    if out_channels % groups:
        raise ValueError(
            f"{name}: weight of shape {w.shape} has {out_channels} output channels, not divisible by groups={groups}"
        )
    if x.shape[1] != in_per_group * groups:
        raise ValueError(
            f"{name}: given groups={groups}, weight of size {list(w.shape)}, expected input {list(jnp.shape(input))} "
            f"to have {in_per_group * groups} channels, but got {x.shape[1]} channels instead"
        )
    _check_bias(name, b, out_channels)
    kernel = w.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions (stride {stride})")
            # torch puts the odd pad of an even effective kernel on the right.
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = [(t // 2, t - t // 2) for t in totals]
        else:
            raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
    else:
        (padding,) = tuples(name, nd, padding=padding)
        if any(p < 0 for p in padding):
            raise ValueError(f"{name}: negative padding is not supported, got {padding}")
        pads = [(p, p) for p in padding]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
    window = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if any(p < w_ for p, w_ in zip(padded, window)):
        raise ValueError(
            f"{name}: padded input size per channel {padded} is smaller than the (dilated) kernel size "
            f"{window} (input shape {jnp.shape(input)}, weight shape {w.shape})"
        )
    y = _convolve(x, w, stride, pads, dilation, groups, _accumulator(x.dtype))
    return _finish(y, b, nd, unbatched, x.dtype)


def conv1d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> jax.Array:
    """torch.nn.functional.conv1d: cross-correlation of ``(N, C_in, L)`` (or ``(C_in, L)``) with
    ``weight`` ``(C_out, C_in // groups, k)``, plus ``bias`` ``(C_out,)``.

    ``y[n, o, i] = bias[o]
    + sum_{c, j} x[n, g(o) * C_in/groups + c, i * stride + j * dilation - padding] * weight[o, c, j]``
    with zero padding; ``padding`` is an int, 'valid' (0) or 'same' (output length
    equals input length, stride 1 only; an odd total pad puts the extra on the right).
    Output length ``floor((L + 2 * padding - dilation * (k - 1) - 1) / stride) + 1``.

    >>> conv1d(jnp.ones((1, 2, 5)), jnp.ones((3, 2, 3))).shape
    (1, 3, 3)
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> jax.Array:
    """torch.nn.functional.conv2d over ``(N, C_in, H, W)`` or ``(C_in, H, W)`` with ``weight``
    ``(C_out, C_in // groups, kH, kW)``; see :func:`conv1d`.

    >>> conv2d(jnp.ones((1, 2, 5, 5)), jnp.ones((4, 1, 3, 3)), groups=2, padding="same").shape
    (1, 4, 5, 5)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> jax.Array:
    """torch.nn.functional.conv3d over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` with ``weight``
    ``(C_out, C_in // groups, kD, kH, kW)``; see :func:`conv1d`.

    >>> conv3d(jnp.ones((1, 2, 4, 5, 5)), jnp.ones((3, 2, 2, 3, 3)), stride=2).shape
    (1, 3, 2, 2, 2)
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _transpose_as_matmul(kernel, stride, padding, output_padding, dilation, groups) -> bool:
    """Rule 4: a transposed convolution whose kernel equals its stride (a U-Net's 2x2 stride-2 up),
    unpadded, undilated, ``groups == 1``: each input pixel writes its own ``kernel`` block."""
    if _forced[0] == "lax" or groups != 1:
        return False
    return (all(k == s for k, s in zip(kernel, stride)) and not any(padding) and not any(output_padding)
            and all(d == 1 for d in dilation))


def _unpool_matmul(x, w, accumulator) -> jax.Array:
    """``y[n, o, i * k + a] = sum_c x[n, c, i] * w[c, o, a]``: one ``dot_general``, then the blocks interleaved."""
    n, c = x.shape[:2]
    spatial, (o, *kernel) = x.shape[2:], w.shape[1:]
    nd = len(spatial)
    y = jax.lax.dot_general(
        x, w.reshape(c, o * math.prod(kernel)), (((1,), (0,)), ((), ())), preferred_element_type=accumulator
    )  # (N, *spatial, C_out * prod(kernel))
    y = y.reshape((n, *spatial, o, *kernel))
    # (N, *spatial, O, *kernel) -> (N, O, spatial_0, kernel_0, spatial_1, kernel_1, ...)
    order = (0, nd + 1) + tuple(a for i in range(nd) for a in (1 + i, nd + 2 + i))
    return jnp.transpose(y, order).reshape((n, o, *(s * k for s, k in zip(spatial, kernel))))


def _conv_transpose(name, nd, input, weight, bias, stride, padding, output_padding, groups, dilation) -> jax.Array:
    x, w, b, unbatched = _operands(name, nd, input, weight, bias)
    groups = _groups(name, groups)
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
    stride, padding, output_padding, dilation = tuples(
        name, nd, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )
    if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation):
        raise ValueError(f"{name}: stride {stride} and dilation {dilation} must be positive")
    if any(p < 0 for p in padding) or any(p < 0 for p in output_padding):
        raise ValueError(f"{name}: negative padding {padding} / output_padding {output_padding} is not supported")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(
                f"{name}: output padding {output_padding} must be smaller than either stride {stride} "
                f"or dilation {dilation}"
            )
    in_channels, out_per_group = w.shape[:2]
    if in_channels % groups:
        raise ValueError(
            f"{name}: weight of shape {w.shape} has {in_channels} input channels, not divisible by groups={groups}"
        )
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{name}: given transposed=1, weight of size {list(w.shape)}, expected input {list(jnp.shape(input))} "
            f"to have {in_channels} channels, but got {x.shape[1]} channels instead"
        )
    out_channels, kernel = out_per_group * groups, w.shape[2:]
    _check_bias(name, b, out_channels)
    outs = [
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, s, p, d, k, op in zip(x.shape[2:], stride, padding, dilation, kernel, output_padding)
    ]
    if any(o < 1 for o in outs):
        raise ValueError(
            f"{name}: output size {outs} is too small (input shape {jnp.shape(input)}, weight shape {w.shape})"
        )
    if _transpose_as_matmul(kernel, stride, padding, output_padding, dilation, groups):
        return _finish(_unpool_matmul(x, w, _accumulator(x.dtype)), b, nd, unbatched, x.dtype)
    # (in, out/g, *k) -> (out, in/g, *k), spatially flipped: the kernel of the equivalent convolution.
    w = w.reshape((groups, in_channels // groups, out_per_group) + kernel)
    w = jnp.swapaxes(w, 1, 2).reshape((out_channels, in_channels // groups) + kernel)
    w = jnp.flip(w, axis=tuple(range(2, 2 + nd)))
    pads = [(d * (k - 1) - p, d * (k - 1) - p + op) for d, k, p, op in zip(dilation, kernel, padding, output_padding)]
    y = jax.lax.conv_general_dilated(
        x,
        w,
        window_strides=(1,) * nd,
        padding=pads,
        lhs_dilation=stride,
        rhs_dilation=dilation,
        dimension_numbers=_dimension_numbers(nd),
        feature_group_count=groups,
        preferred_element_type=_accumulator(x.dtype),
    )
    return _finish(y, b, nd, unbatched, x.dtype)


def conv_transpose1d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> jax.Array:
    """torch.nn.functional.conv_transpose1d: the gradient of conv1d with respect to its input.

    ``input`` ``(N, C_in, L)`` or ``(C_in, L)``; ``weight`` ``(C_in, C_out // groups, k)``;
    ``bias`` ``(C_out,)``. Output length
    ``(L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``;
    ``output_padding`` (added on the right) must be smaller than stride or dilation.

    >>> conv_transpose1d(jnp.ones((1, 2, 3)), jnp.ones((2, 4, 3)), stride=2).shape
    (1, 4, 7)
    """
    return _conv_transpose(
        "conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> jax.Array:
    """torch.nn.functional.conv_transpose2d over ``(N, C_in, H, W)`` or ``(C_in, H, W)``, ``weight``
    ``(C_in, C_out // groups, kH, kW)``; see :func:`conv_transpose1d`.

    >>> conv_transpose2d(jnp.ones((1, 2, 3, 3)), jnp.ones((2, 4, 2, 2)), stride=2).shape
    (1, 4, 6, 6)
    """
    return _conv_transpose(
        "conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> jax.Array:
    """torch.nn.functional.conv_transpose3d over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``,
    ``weight`` ``(C_in, C_out // groups, kD, kH, kW)``; see :func:`conv_transpose1d`.

    >>> conv_transpose3d(jnp.ones((1, 2, 2, 3, 3)), jnp.ones((2, 4, 2, 2, 2)), stride=2).shape
    (1, 4, 4, 6, 6)
    """
    return _conv_transpose(
        "conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_tbc(input: ArrayLike, weight: ArrayLike, bias: ArrayLike, pad: int = 0) -> jax.Array:
    """torch.conv_tbc: a 1-d convolution in time-batch-channel layout.

    ``input`` ``(T, B, C_in)``, ``weight`` ``(k, C_in, C_out)``, ``bias`` ``(C_out,)``
    (required, as torch); zero padding ``pad`` on both ends of the time axis.
    Returns ``(T + 2 * pad - k + 1, B, C_out)``:
    ``y[t, b, o] = bias[o] + sum_{j, c} x[t + j - pad, b, c] * weight[j, c, o]``.

    >>> conv_tbc(jnp.ones((5, 2, 3)), jnp.ones((3, 3, 4)), jnp.zeros(4), pad=1).shape
    (5, 2, 4)
    """
    x = floating("conv_tbc", as_array(input, "input"))
    w = floating("conv_tbc", as_array(weight, "weight"))
    b = as_array(bias, "bias")
    if x.ndim != 3:
        raise ValueError(f"conv_tbc: input must have 3 dims (time, batch, in_channel), got shape {x.shape}")
    if w.ndim != 3:
        raise ValueError(
            f"conv_tbc: weight must have 3 dims (kernel_width, in_channel, out_channel), got shape {w.shape}"
        )
    if b.shape != (w.shape[2],):
        raise ValueError(f"conv_tbc: bias must have shape ({w.shape[2]},) (out_channel), got {b.shape}")
    if x.shape[2] != w.shape[1]:
        raise ValueError(f"conv_tbc: input {x.shape} has {x.shape[2]} channels, weight {w.shape} expects {w.shape[1]}")
    y = _conv(
        "conv_tbc", 1, jnp.transpose(x, (1, 2, 0)), jnp.transpose(w, (2, 1, 0)), b, 1, int(pad), 1, 1
    )
    return jnp.transpose(y, (2, 0, 1))
