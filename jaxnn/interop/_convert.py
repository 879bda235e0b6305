"""The torch side of :func:`jaxnn.from_torch`: the leaf-layer table, the fx tracer
and the graph freezer. Imported on the first conversion (it needs torch)."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.fx
from flax import nnx

from .. import functional as F
from ..module import Module
from ..parameter import Buffer, Parameter
from ..state_dict import _as_numpy, _named_variables, load_state_dict
from . import _ops
from .from_torch import ConversionError, TracedModule, _child, _Graph, _List, _Node, _Ref, _Slice

__all__ = ["convert", "ARGUMENT_READERS"]


def convert(module: torch.nn.Module, example_inputs: Any, rngs: Optional[nnx.Rngs]) -> Module:
    """:func:`jaxnn.from_torch`'s body."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: module must be a torch.nn.Module, got {type(module).__name__}")
    rngs = rngs if rngs is not None else nnx.Rngs(0)
    example = example_inputs if isinstance(example_inputs, tuple) or example_inputs is None else (example_inputs,)
    concrete = None
    if example is not None and _needs_trace(module):
        names = [n for n in inspect.signature(module.forward).parameters][: len(example)]
        concrete = {n: v for n, v in zip(names, example) if not isinstance(v, torch.Tensor)} or None
    if concrete:
        converted = _trace(module, "", rngs, concrete_args=concrete)
    else:
        converted = _convert(module, "", rngs)
    with torch.no_grad():
        load_state_dict(converted, module.state_dict(), strict=True)
    for name, m in module.named_modules():
        target = _child(converted, name) if name else converted
        if isinstance(target, Module):
            target.train(m.training)
    if example is not None:
        _check_example(module, converted, example)
    return converted


def _activation(fn: Any) -> Any:
    """A transformer layer's activation as jaxnn takes it: torch stores F.relu / F.gelu
    (from 'relu' / 'gelu'), another F function, or a module."""
    import torch.nn.functional as TF

    if fn is TF.relu or fn is TF.gelu:
        return fn.__name__
    if getattr(fn, "__module__", "") in ("torch.nn.functional", "torch._C._nn") and hasattr(F, fn.__name__):
        return getattr(F, fn.__name__)
    if isinstance(fn, torch.nn.Module):
        from .from_torch import from_torch

        return from_torch(fn)
    raise ConversionError(f"a transformer layer's activation {fn!r} has no jaxnn counterpart")


def _layer_args(layer: Any) -> dict[str, Any]:
    """Arguments of a Transformer{Encoder,Decoder}Layer that torch keeps on its children.

    ``layer`` is a torch module, typed Any: torch types its submodules as
    ``Tensor | Module``, and these readers know which attribute is which."""
    return dict(
        d_model=layer.self_attn.embed_dim,
        nhead=layer.self_attn.num_heads,
        dim_feedforward=layer.linear1.out_features,
        dropout=layer.dropout.p,
        activation=_activation(layer.activation),
        layer_norm_eps=layer.norm1.eps,
        batch_first=layer.self_attn.batch_first,
        norm_first=layer.norm_first,
        bias=layer.linear1.bias is not None,
    )


# class name -> reader of the constructor arguments torch does not keep under
# the argument's own name. Every other argument is the attribute of that name.
ARGUMENT_READERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "MultiheadAttention": lambda m: dict(bias=m.in_proj_bias is not None, add_bias_kv=m.bias_k is not None),
    "TransformerEncoderLayer": _layer_args,
    "TransformerDecoderLayer": _layer_args,
    "TransformerEncoder": lambda m: dict(encoder_layer=m.layers[0], num_layers=len(m.layers)),
    "TransformerDecoder": lambda m: dict(decoder_layer=m.layers[0], num_layers=len(m.layers)),
    "Transformer": lambda m: dict(
        num_encoder_layers=len(m.encoder.layers),
        num_decoder_layers=len(m.decoder.layers),
        **{k: v for k, v in _layer_args(m.encoder.layers[0]).items() if k not in ("d_model", "nhead", "batch_first")},
    ),
}

_SKIPPED_ARGUMENTS = {"self", "device", "dtype"}


def _jaxnn_class(m: torch.nn.Module) -> Optional[type]:
    """jaxnn's class of the same name for a class defined in torch.nn, else None."""
    import jaxnn

    cls = type(m)
    if not cls.__module__.startswith("torch.nn.modules"):
        return None
    return getattr(jaxnn, cls.__name__, None)


def _param_dtype(m: torch.nn.Module) -> Optional[Any]:
    for tensor in list(m.parameters()) + list(m.buffers()):
        if tensor.is_floating_point():
            return _ops.to_jax_dtype(tensor.dtype)
    return None


def _argument_value(value: Any, default: Any, rngs: nnx.Rngs, path: str) -> Any:
    if isinstance(default, bool) and (value is None or isinstance(value, (torch.Tensor, torch.nn.Module))):
        return value is not None
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, torch.nn.Module):
        return _convert(value, path, rngs)
    if isinstance(value, torch.Tensor):
        raise ConversionError(f"from_torch: {path}: tensor-valued constructor argument")
    if callable(value) and getattr(value, "__module__", "") == "torch.nn.functional":
        return _ops.lookup_function(value) or value.__name__
    return value


def _leaf_kwargs(m: torch.nn.Module, cls: type, path: str, rngs: nnx.Rngs) -> dict[str, Any]:
    torch_params = inspect.signature(type(m).__init__).parameters
    jax_params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]  # the class's own __init__
    read = ARGUMENT_READERS.get(type(m).__name__, lambda _: {})(m)
    kwargs: dict[str, Any] = {}
    for name, p in torch_params.items():
        if name in _SKIPPED_ARGUMENTS or name.startswith("_") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in read:
            value = read[name]
        elif hasattr(m, name):
            value = getattr(m, name)
        elif p.default is inspect.Parameter.empty:
            raise ConversionError(
                f"from_torch: {path or type(m).__name__} ({type(m).__name__}): constructor argument "
                f"{name!r} is not kept on the torch module; add a reader to ARGUMENT_READERS"
            )
        else:
            continue
        from_tensor = isinstance(p.default, bool) and (value is None or isinstance(value, torch.Tensor))
        value = _argument_value(value, p.default, rngs, f"{path}.{name}" if path else name)
        if name not in jax_params:
            # A flag read off a tensor's presence (BatchNorm's bias with affine=False)
            # is checked by the strict state-dict load instead: a missing or extra
            # tensor is a key mismatch there.
            if value != p.default and not from_tensor:
                raise ConversionError(
                    f"from_torch: {path or type(m).__name__}: jaxnn.{cls.__name__} has no argument "
                    f"{name!r} (torch's value {value!r})"
                )
            continue
        kwargs[name] = value
    if "rngs" in jax_params:
        kwargs["rngs"] = rngs
    dtype = _param_dtype(m)
    if "dtype" in jax_params and dtype is not None:
        kwargs["dtype"] = dtype
    return kwargs


def _convert(m: torch.nn.Module, path: str, rngs: nnx.Rngs, inlined: bool = False) -> Any:
    """``m`` converted; ``inlined``: its forward is already part of a traced
    ancestor's graph, so a failure to trace it alone is deferred to a call of it alone."""
    import jaxnn

    where = path or "(root)"
    if isinstance(m, torch.fx.GraphModule):
        return _from_graph(m, m.graph, path, rngs)
    if type(m) is torch.nn.Sequential or (
        isinstance(m, torch.nn.Sequential) and type(m).forward is torch.nn.Sequential.forward
    ):
        return jaxnn.Sequential({k: _convert(c, _join(path, k), rngs, inlined) for k, c in m._modules.items()})
    if isinstance(m, torch.nn.ModuleList):
        return jaxnn.ModuleList([_convert(c, _join(path, k), rngs, inlined) for k, c in m._modules.items()])
    if isinstance(m, torch.nn.ModuleDict):
        return jaxnn.ModuleDict({k: _convert(c, _join(path, k), rngs, inlined) for k, c in m._modules.items()})
    cls = _jaxnn_class(m)
    if cls is not None:
        return _build_leaf(cls, _leaf_kwargs(m, cls, path, rngs), m)
    if type(m).__module__.startswith("torch.nn.modules"):
        raise ConversionError(f"from_torch: {where}: torch.nn.{type(m).__name__} has no jaxnn counterpart yet")
    try:
        return _trace(m, path, rngs)
    except ConversionError as error:
        if not inlined:
            raise
        # The parent's trace runs through this module's forward inline, so it
        # needs only its children and weights; calling it alone reports why not.
        return _untraced(m, path, rngs, str(error))


def _build_leaf(cls: type, kwargs: dict[str, Any], m: torch.nn.Module) -> Any:
    """The jaxnn layer holding ``m``'s tensors.

    Built abstractly (``nnx.eval_shape``) and filled from torch's state dict:
    drawing the default init only to overwrite it compiles one XLA program per
    parameter shape, seconds per layer of a ResNet. A layer with state that
    torch's state dict does not fill (an rng stream) is built concretely.
    """
    state = m.state_dict()
    if not state:
        return cls(**kwargs)
    without_rngs = {k: v for k, v in kwargs.items() if k != "rngs"}
    if "rngs" in kwargs:
        layer = nnx.eval_shape(lambda: cls(**without_rngs, rngs=nnx.Rngs(0)))
    else:
        layer = nnx.eval_shape(lambda: cls(**without_rngs))
    variables = dict(_named_variables(layer))
    if set(variables) != set(state) or any(
        variables[k].value.shape != tuple(t.shape) for k, t in state.items()
    ):
        return cls(**kwargs)
    for key, variable in variables.items():
        variable.set_value(jnp.asarray(_as_numpy(state[key]), variable.value.dtype))
    leaves = jax.tree_util.tree_leaves(nnx.state(layer))
    if any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in leaves):
        return cls(**kwargs)
    return layer


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _LeafTracer(torch.fx.Tracer):
    """Keeps torch.nn layers jaxnn has as single calls; traces through everything else."""

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        if isinstance(m, (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)):
            return False
        return type(m).__module__.startswith("torch.nn.modules")


def _freeze(value: Any, where: str) -> Any:
    """An fx argument as hashable static data (the graph is part of the graphdef)."""
    if isinstance(value, torch.fx.Node):
        return _Ref(value.name)
    if isinstance(value, list):
        return _List(_freeze(v, where) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v, where) for v in value)
    if isinstance(value, slice):
        return _Slice(_freeze(value.start, where), _freeze(value.stop, where), _freeze(value.step, where))
    if isinstance(value, dict):
        return tuple((k, _freeze(v, where)) for k, v in value.items())
    if isinstance(value, torch.Size):
        return tuple(value)
    if value is None or isinstance(value, (bool, int, float, str, torch.dtype, torch.device)):
        return value
    raise ConversionError(f"from_torch: {where}: cannot carry a constant of type {type(value).__name__} in the graph")


def _check_inplace(node: torch.fx.Node, where: str, module: Optional[torch.nn.Module]) -> None:
    """An in-place torch op (``x.add_(y)``, ``ReLU(inplace=True)``) whose input is read
    again afterwards would see the mutation in torch and not in JAX: refuse it."""
    target = node.target  # a method name (str) for call_method nodes
    inplace = (
        node.op == "call_method" and isinstance(target, str) and target.endswith("_") and not target.startswith("__")
    ) or (
        module is not None and getattr(module, "inplace", False)
    )
    if not inplace or not node.args or not isinstance(node.args[0], torch.fx.Node):
        return
    later = [u for u in node.args[0].users if u is not node and _after(u, node)]
    if later:
        raise ConversionError(
            f"from_torch: {where}: in-place {node.target!r} overwrites {node.args[0].name!r}, which "
            f"{later[0].name!r} reads afterwards; JAX arrays are immutable"
        )


def _after(a: torch.fx.Node, b: torch.fx.Node) -> bool:
    node = b.next
    while node.op != "root":
        if node is a:
            return True
        node = node.next
    return False


def _variable(tensor: torch.Tensor, is_param: bool) -> Any:
    if is_param:
        return Parameter(tensor, requires_grad=tensor.requires_grad)
    return Buffer(tensor)


def _needs_trace(m: torch.nn.Module) -> bool:
    return _jaxnn_class(m) is None and not isinstance(m, (torch.nn.ModuleList, torch.nn.ModuleDict))


def _check_example(module: torch.nn.Module, converted: Module, example: Sequence[Any]) -> None:
    def to_jax(v: Any) -> Any:
        return jnp.asarray(v.detach().cpu().numpy()) if isinstance(v, torch.Tensor) else v

    with torch.no_grad():
        expected = module(*example)
    got = converted(*[to_jax(v) for v in example])
    expected_leaves, expected_tree = jax.tree_util.tree_flatten(
        jax.tree_util.tree_map(lambda t: tuple(t.shape) if isinstance(t, torch.Tensor) else t, expected,
                               is_leaf=lambda t: isinstance(t, torch.Tensor))
    )
    got_shapes = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)) if isinstance(a, jax.Array) else a, got)
    if jax.tree_util.tree_flatten(got_shapes) != (expected_leaves, expected_tree):
        raise ConversionError(
            f"from_torch: on example_inputs torch returns {expected_tree}/{expected_leaves} but the "
            f"converted module {jax.tree_util.tree_structure(got_shapes)}/{jax.tree_util.tree_leaves(got_shapes)}"
        )


def _trace(m: torch.nn.Module, path: str, rngs: nnx.Rngs, concrete_args: Optional[dict] = None) -> TracedModule:
    where = path or "(root)"
    try:
        graph = _LeafTracer().trace(m, concrete_args=concrete_args)
    except Exception as error:
        raise ConversionError(
            f"from_torch: {where} ({type(m).__name__}): torch.fx cannot trace its forward "
            f"(data-dependent Python control flow?): {type(error).__name__}: {error}"
        ) from error
    return _from_graph(m, graph, path, rngs)


def _untraced(m: torch.nn.Module, path: str, rngs: nnx.Rngs, error: str) -> TracedModule:
    self = TracedModule()
    self._torch_class, self._error = type(m).__name__, error
    _hold(self, m, path, rngs)
    return self


def _from_graph(m: torch.nn.Module, graph: torch.fx.Graph, path: str, rngs: nnx.Rngs) -> TracedModule:
    self = TracedModule()
    self._torch_class = type(m).__name__
    persistent = _hold(self, m, path, rngs)
    nodes = []
    for node in graph.nodes:
        where = f"{path or '(root)'} ({type(m).__name__}), node {node.name!r}"
        target, fn = node.target, None
        if node.op == "call_module":
            _check_inplace(node, where, m.get_submodule(target))
        elif node.op == "call_method":
            _check_inplace(node, where, None)
            fn = _ops.METHODS.get(target)
            if fn is None:
                raise ConversionError(f"from_torch: {where}: Tensor.{target} is not in jaxnn's op table")
        elif node.op == "call_function":
            target, fn = _ops.torch_name(node.target), _ops.lookup_function(node.target)
            if fn is None:
                raise ConversionError(f"from_torch: {where}: {target} is not in jaxnn's op table")
        elif node.op == "get_attr" and target not in persistent:
            raise ConversionError(
                f"from_torch: {where}: get_attr {target!r} is not a parameter or persistent buffer "
                "(a tensor constant made in forward?)"
            )
        nodes.append(_Node(node.op, node.name, target, fn, _freeze(node.args, where), _freeze(node.kwargs, where)))
    self._graph = _Graph(tuple(nodes))
    return self


def _hold(self: TracedModule, m: torch.nn.Module, path: str, rngs: nnx.Rngs) -> set[str]:
    """Converts the children and copies the own parameters and buffers; returns
    the state-dict keys of ``m`` (the tensors a ``get_attr`` may read)."""
    persistent = set(m.state_dict(keep_vars=True).keys())
    for name, child in m._modules.items():
        if child is not None:
            setattr(self, name, _convert(child, _join(path, name), rngs, inlined=True))
    for name, p in m._parameters.items():
        if p is not None:
            setattr(self, name, _variable(p, True))
    for name, b in m._buffers.items():
        if b is not None:
            if name not in persistent:
                raise ConversionError(
                    f"from_torch: {_join(path, name)}: non-persistent buffers are not in the state dict "
                    "jaxnn's modules mirror; register it persistent or compute it in forward"
                )
            setattr(self, name, _variable(b, False))
    return persistent
