"""``jaxnn.from_torch``: a torch ``nn.Module`` in, a native jaxnn module out.

Three kinds of torch module, three conversions:

* a torch.nn layer with a jaxnn counterpart of the same name (``nn.Conv2d`` ->
  ``jaxnn.Conv2d``) is rebuilt from its constructor arguments, read from the
  torch object's attributes of the same names (torch keeps them:
  ``in_channels``, ``eps``, ``negative_slope``); a tensor attribute standing
  for a boolean argument (``bias``) gives ``bias is not None``. The few
  arguments torch keeps elsewhere are read by ``ARGUMENT_READERS`` of
  :mod:`jaxnn.interop._convert`;
* ``nn.Sequential`` / ``nn.ModuleList`` / ``nn.ModuleDict`` become jaxnn's;
* anything else (a user's block, a torchvision model) is traced with
  ``torch.fx`` into a :class:`TracedModule` that holds the converted children,
  its own parameters and buffers under torch's names, and the graph, each node
  bound to its JAX op from the table of :mod:`jaxnn.interop._ops`.

Then torch's ``state_dict`` is loaded (strictly: every key, shape and value)
and each module's train/eval mode copied.

torch is needed to convert, not to run the result: this file imports no
torch, the converter (``_convert``) and op table (``_ops``) load on the first
``from_torch`` call, so ``import jaxnn`` works without torch installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Optional

from flax import nnx

from ..module import Module

if TYPE_CHECKING:
    import torch

__all__ = ["from_torch", "TracedModule", "ConversionError"]


class ConversionError(NotImplementedError, ValueError):
    """A torch module (or an op in its forward) that jaxnn cannot reproduce exactly."""


class _Ref(NamedTuple):
    """A reference to the value of an earlier graph node."""

    name: str


class _List(tuple):
    """A Python list argument (kept a list: ``x[[0, 2]]`` indexes, ``x[(0, 2)]`` does not)."""


class _Slice(NamedTuple):
    start: Any
    stop: Any
    step: Any


class _Node(NamedTuple):
    """One fx node: ``fn`` is the JAX op of a ``call_function`` / ``call_method``
    node, ``target`` the torch name (or a dotted module / attribute path)."""

    op: str
    name: str
    target: str
    fn: Optional[Callable]
    args: tuple
    kwargs: tuple


class _Graph:
    """The nodes, held opaquely: nnx stores any non-pytree attribute as static
    graphdef data (hashed and compared, never flattened into leaves)."""

    __slots__ = ("nodes",)

    def __init__(self, nodes: tuple = ()) -> None:
        self.nodes = nodes

    def __hash__(self) -> int:
        return hash(self.nodes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Graph) and other.nodes == self.nodes


def _thaw(value: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(value, _Ref):
        return env[value.name]
    if isinstance(value, _List):
        return [_thaw(v, env) for v in value]
    if isinstance(value, _Slice):
        return slice(_thaw(value.start, env), _thaw(value.stop, env), _thaw(value.step, env))
    if isinstance(value, tuple):
        return tuple(_thaw(v, env) for v in value)
    return value


def _child(root: Any, dotted: str) -> Any:
    node = root
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, nnx.List) else getattr(node, part)
    return node


class TracedModule(Module):
    """A torch module converted through its ``torch.fx`` graph.

    Holds the converted children and its own parameters/buffers under torch's
    attribute names, and the graph as static data: placeholders bind the call's
    arguments (by position, then name, then the forward's default),
    ``call_module`` nodes call a converted descendant by its dotted path,
    ``get_attr`` reads a parameter or buffer, ``call_function`` /
    ``call_method`` run the JAX op the table maps the torch op to. A child whose
    forward fx cannot trace alone (its parent's trace ran through it inline)
    keeps its weights and raises the trace error when called by itself.
    """

    _graph: _Graph = _Graph()
    _torch_class: str = ""
    _error: str = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._error:
            raise ConversionError(self._error)
        env: dict[str, Any] = {}
        position = 0
        for node in self._graph.nodes:
            args_ = _thaw(node.args, env)
            kwargs_ = dict(_thaw(node.kwargs, env))
            if node.op == "output":
                return args_[0]
            if node.op == "placeholder":
                name = node.target.lstrip("*")
                if position < len(args):
                    env[node.name] = args[position]
                    position += 1
                elif name in kwargs:
                    env[node.name] = kwargs[name]
                elif args_:
                    env[node.name] = args_[0]
                else:
                    raise TypeError(f"{self._torch_class}: missing argument {name!r}")
            elif node.op == "get_attr":
                env[node.name] = _child(self, node.target)[...]
            elif node.op == "call_module":
                env[node.name] = _child(self, node.target)(*args_, **kwargs_)
            else:
                env[node.name] = node.fn(*args_, **kwargs_)
        return None


def from_torch(
    module: torch.nn.Module,
    example_inputs: Any = None,
    *,
    rngs: Optional[nnx.Rngs] = None,
) -> Module:
    """A torch ``nn.Module`` as a native jaxnn module with torch's state dict and numbers.

    Args:
      module: any torch module: a torch.nn layer jaxnn has, a container, or a
        model whose ``forward`` ``torch.fx`` can trace.
      example_inputs: optional arguments of one forward call (a tuple, or a
        single value). Non-tensor entries are fixed while tracing (fx's
        ``concrete_args``: Python flags that steer control flow); tensor
        entries run both models once to check that the converted one returns
        the same structure and shapes.
      rngs: ``nnx.Rngs`` for layers that draw (Dropout in training mode);
        ``nnx.Rngs(0)`` when omitted.

    Returns:
      a :class:`jaxnn.Module`; ``jaxnn.state_dict(result)`` equals
      ``module.state_dict()`` in keys, shapes and values, and each submodule is
      in the train/eval mode of its torch counterpart.

    Raises:
      ConversionError: naming the module path and the op or layer with no
        exact jaxnn counterpart (never a silently different model).

    >>> import torch, jaxnn
    >>> net = jaxnn.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()))
    >>> sorted(jaxnn.state_dict(net))
    ['0.bias', '0.weight']
    """
    from . import _convert

    return _convert.convert(module, example_inputs, rngs)
