"""``jaxnn.compare``: where does a port of a torch model stop agreeing with it?

Both models run on the same inputs. torch's module outputs are captured with
forward hooks; jaxnn's by wrapping, while one jitted run is traced, the
``__call__`` of every module class in the jaxnn tree (no cooperation from the
modules needed, so hand ports are compared like converted ones) and returning
the captured values from the jitted function. Modules are
matched by their dotted state-dict names ("layer1.0.conv1", "" for the whole
model), so a port whose attribute names follow torch's is matched module by
module. Rows come in the order torch's modules *finish* (children before their
parent), so the first failing row is the innermost module where the numbers
first part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..state_dict import state_dict as jaxnn_state_dict

__all__ = ["compare", "Report", "Row"]


@dataclass(frozen=True)
class Row:
    """One compared array: a module's output (``kind="output"``), a parameter or
    buffer after loading (``"param"``), or a parameter's gradient (``"grad"``)."""

    name: str
    kind: str
    shape: tuple
    max_abs: float
    max_rel: float
    ok: bool
    note: str = ""


@dataclass
class Report:
    """The outcome of :func:`compare`.

    Attributes:
      rows: every compared array, parameters first, then module outputs in
        torch's completion order, then gradients.
      first_divergence: the name of the first module whose output is not
        within tolerance (``None`` when all agree); ``"(model)"`` is the whole model.
      unmatched: torch modules with no jaxnn module of the same name, and the
        reverse (``"jaxnn:<name>"``): not compared.
      rtol, atol: the tolerances used (``|jax - torch| <= atol + rtol * |torch|``).
    """

    rows: list[Row] = field(default_factory=list)
    first_divergence: Optional[str] = None
    unmatched: list[str] = field(default_factory=list)
    rtol: float = 0.0
    atol: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every parameter, output and gradient is within tolerance."""
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if not row.ok]

    def __str__(self) -> str:
        header = f"{'kind':6} {'name':40} {'shape':18} {'max_abs':>10} {'max_rel':>10}  ok"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            lines.append(
                f"{r.kind:6} {r.name:40} {str(r.shape):18} {r.max_abs:10.3g} {r.max_rel:10.3g}  "
                f"{'yes' if r.ok else 'NO'}{'  ' + r.note if r.note else ''}"
            )
        verdict = (
            "all within tolerance"
            if self.ok
            else f"first diverging module: {self.first_divergence}" if self.first_divergence else "mismatch"
        )
        lines.append(f"rtol={self.rtol:g} atol={self.atol:g}: {verdict}")
        if self.unmatched:
            lines.append("unmatched: " + ", ".join(self.unmatched))
        return "\n".join(lines)

    __repr__ = __str__


def _display(name: str) -> str:
    return name or "(model)"


def _numpy(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        # A copy: an in-place op after the hook (ReLU(inplace=True)) would
        # otherwise rewrite the captured output through the shared storage.
        return value.numpy().copy()
    return np.asarray(value)


def _row(name: str, kind: str, got: Any, expected: Any, rtol: float, atol: float) -> Row:
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape != e.shape:
        return Row(name, kind, tuple(e.shape), float("inf"), float("inf"), False, f"jaxnn shape {g.shape}")
    if g.size == 0:
        return Row(name, kind, tuple(e.shape), 0.0, 0.0, True)
    g64, e64 = g.astype(np.float64), e.astype(np.float64)
    diff = np.abs(g64 - e64)
    both_nan = np.isnan(g64) & np.isnan(e64)
    diff = np.where(both_nan | (g64 == e64), 0.0, diff)
    max_abs = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
    scale = float(np.max(np.abs(np.where(np.isfinite(e64), e64, 0.0))))
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    ok = bool(np.all(diff <= atol + rtol * np.abs(np.where(np.isfinite(e64), e64, 0.0))))
    return Row(name, kind, tuple(e.shape), max_abs, max_rel, ok)


def _leaves(value: Any) -> list[Any]:
    """Array leaves of an output (tensors or arrays in tuples/lists/dicts); None dropped."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return []
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _leaves(value[k])]
    if hasattr(value, "_fields"):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _capture_torch(module: Any, args: tuple, kwargs: dict) -> tuple[Any, dict[str, list], list[str]]:
    import torch

    outputs: dict[str, list] = {}
    order: list[str] = []
    names = {id(m): name for name, m in module.named_modules(remove_duplicate=False)}

    def hook(m: Any, _inputs: Any, output: Any) -> None:
        name = names[id(m)]
        if name not in outputs:
            order.append(name)
        outputs.setdefault(name, []).append([_numpy(t) for t in _leaves(output)])

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        with torch.no_grad():
            result = module(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return result, outputs, order


def _module_names(model: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    for path, m in nnx.iter_modules(model):
        names.setdefault(id(m), ".".join(str(p) for p in path))
    return names


def _capture_jax(model: Any, args: tuple, kwargs: dict) -> dict[str, list]:
    """Every module's outputs, keyed by name, from one jitted run of ``model``
    (one XLA compile instead of one per op of an eager run). The models's state
    is not changed (BatchNorm statistics of a training-mode run are dropped)."""
    graphdef, state = nnx.split(model)

    def run(state: Any, args: tuple, kwargs: dict) -> dict[str, list]:
        module = nnx.merge(graphdef, state)
        names = _module_names(module)
        outputs: dict[str, list] = {}
        active: set[int] = set()

        def wrap(original: Callable) -> Callable:
            def __call__(self: Any, *a: Any, **k: Any) -> Any:
                # A subclass and its base may both be wrapped: record the outermost call only.
                if id(self) in active or id(self) not in names:
                    return original(self, *a, **k)
                active.add(id(self))
                try:
                    out = original(self, *a, **k)
                finally:
                    active.discard(id(self))
                outputs.setdefault(names[id(self)], []).append(_leaves(out))
                return out

            return __call__

        classes = {
            type(m) for _, m in nnx.iter_modules(module) if any("__call__" in vars(k) for k in type(m).__mro__[:-1])
        }
        patched: list[tuple[type, Any]] = []
        try:
            for cls in classes:
                patched.append((cls, cls.__dict__.get("__call__")))
                cls.__call__ = wrap(cls.__call__)  # type: ignore[method-assign]  # undone in the finally
            module(*args, **kwargs)
        finally:
            for cls, own in reversed(patched):
                if own is None:
                    del cls.__call__
                else:
                    cls.__call__ = own
        return outputs

    outputs = _jit_call(lambda state, a, k: run(state, a, k), state, args, kwargs)
    return {name: [[np.asarray(t) for t in call] for call in calls] for name, calls in outputs.items()}


def _jit_call(fn: Callable, state: Any, args: tuple, kwargs: dict) -> Any:
    """``jax.jit(fn)(state, args, kwargs)`` with only the array arguments traced:
    Python values (``need_weights=False``, a flag) stay Python values."""
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    is_array = [isinstance(leaf, (jax.Array, np.ndarray)) for leaf in leaves]

    def call(state: Any, arrays: list) -> Any:
        it = iter(arrays)
        a, k = jax.tree_util.tree_unflatten(treedef, [next(it) if arr else leaf for leaf, arr in zip(leaves, is_array)])
        return fn(state, a, k)

    return jax.jit(call)(state, [leaf for leaf, arr in zip(leaves, is_array) if arr])


def _to_jax(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return jnp.asarray(_numpy(value))
    if isinstance(value, (tuple, list)):
        return type(value)(_to_jax(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_jax(v) for k, v in value.items()}
    return value


def _gradients(torch_module: Any, jaxnn_module: Any, args: tuple, kwargs: dict, loss_fn: Optional[Callable]):
    import torch

    named = dict(torch_module.named_parameters())
    for p in named.values():
        p.grad = None
    with torch.enable_grad():
        out = torch_module(*args, **kwargs)
        loss = loss_fn(out) if loss_fn else sum(t.sum() for t in _leaves(out) if t.is_floating_point())
        loss.backward()
    torch_grads = {k: _numpy(p.grad) for k, p in named.items() if p.grad is not None}

    graphdef, params, rest = nnx.split(jaxnn_module, nnx.Param, ...)  # type: ignore[misc]  # as in training.step
    jargs, jkwargs = _to_jax(args), _to_jax(kwargs)

    def objective(params: Any, args: tuple, kwargs: dict) -> jax.Array:
        out = nnx.merge(graphdef, params, rest)(*args, **kwargs)
        if loss_fn:
            return loss_fn(out)
        # int 0 only without floating outputs, which have no gradient to compare anyway
        return sum(jnp.sum(t) for t in _leaves(out) if jnp.issubdtype(t.dtype, jnp.floating))  # type: ignore[return-value]

    grads = _jit_call(jax.grad(objective), params, jargs, jkwargs)
    jax_grads = {
        ".".join(str(p) for p in path): np.asarray(v.get_value() if hasattr(v, "get_value") else v[...])
        for path, v in nnx.to_flat_state(grads)
    }
    return torch_grads, jax_grads


def compare(
    torch_module: Any,
    jaxnn_module: Any,
    *args: Any,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    grads: bool = False,
    loss_fn: Optional[Callable] = None,
    **kwargs: Any,
) -> Report:
    """Runs a torch module and its jaxnn port on the same inputs, module by module.

    Args:
      torch_module: the reference ``torch.nn.Module``.
      jaxnn_module: the port (``jaxnn.from_torch``'s result or a hand port whose
        attribute names follow torch's, so state-dict names match).
      *args, **kwargs: the forward's arguments, torch tensors (given to jaxnn as
        JAX arrays) or plain Python values.
      rtol, atol: an array agrees when ``|jax - torch| <= atol + rtol * |torch|``
        everywhere (``numpy.allclose``'s rule).
      grads: also compare each parameter's gradient of the sum of the float
        outputs (or of ``loss_fn(output)``, written so it runs on both a torch
        output and a JAX one).
      loss_fn: see ``grads``.

    Returns:
      a :class:`Report`: per parameter (torch's ``state_dict`` against
      ``jaxnn.state_dict``: missing, misshapen and differing entries), per
      module output (max abs and relative difference), per gradient, and
      ``first_divergence``, the first module (in the order torch's modules
      finish) whose output is off. ``print(report)`` shows the table;
      ``report.ok`` is the verdict.

    The models run in whatever train/eval mode they are in; put both in eval
    mode to compare Dropout/BatchNorm models deterministically.

    >>> import torch, jaxnn
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    >>> jaxnn.compare(net, jaxnn.from_torch(net), torch.randn(4, 3)).ok
    True
    """
    report = Report(rtol=rtol, atol=atol)
    torch_state = torch_module.state_dict()
    jax_state = jaxnn_state_dict(jaxnn_module)
    for key, tensor in torch_state.items():
        if key not in jax_state:
            inf = float("inf")
            report.rows.append(Row(key, "param", tuple(tensor.shape), inf, inf, False, "missing in jaxnn"))
        else:
            report.rows.append(_row(key, "param", jax_state[key], _numpy(tensor), rtol, atol))
    for key in jax_state:
        if key not in torch_state:
            report.rows.append(
                Row(key, "param", tuple(np.shape(jax_state[key])), float("inf"), float("inf"), False, "not in torch")
            )

    _, torch_outputs, order = _capture_torch(torch_module, args, kwargs)
    jax_outputs = _capture_jax(jaxnn_module, _to_jax(args), _to_jax(kwargs))
    for name in order:
        if name not in jax_outputs:
            report.unmatched.append(_display(name))
            continue
        for call, (expected, got) in enumerate(zip(torch_outputs[name], jax_outputs[name])):
            label = _display(name) + (f" (call {call})" if len(torch_outputs[name]) > 1 else "")
            if len(expected) != len(got):
                row = Row(
                    label,
                    "output",
                    (),
                    float("inf"),
                    float("inf"),
                    False,
                    f"torch returns {len(expected)} arrays, jaxnn {len(got)}",
                )
                report.rows.append(row)
            for i, (e, g) in enumerate(zip(expected, got)):
                suffix = f"[{i}]" if len(expected) > 1 else ""
                report.rows.append(_row(label + suffix, "output", g, e, rtol, atol))
            if report.first_divergence is None and not all(r.ok for r in report.rows if r.kind == "output"):
                report.first_divergence = _display(name)
    report.unmatched += [f"jaxnn:{_display(n)}" for n in jax_outputs if n not in torch_outputs]

    if grads:
        torch_grads, jax_grads = _gradients(torch_module, jaxnn_module, args, kwargs, loss_fn)
        for key, g in torch_grads.items():
            if key in jax_grads:
                report.rows.append(_row(key, "grad", jax_grads[key], g, rtol, atol))
            else:
                report.rows.append(
                    Row(key, "grad", tuple(g.shape), float("inf"), float("inf"), False, "no jaxnn gradient")
                )
    return report
