"""Interop with torch: state-dict files (``.safetensors``, ``.pt``), ``from_torch`` and ``compare``."""

from .compare import Report as Report
from .compare import compare as compare
from .from_torch import ConversionError as ConversionError
from .from_torch import TracedModule as TracedModule
from .from_torch import from_torch as from_torch
from .io import read_state_dict as read_state_dict
from .io import rename_keys as rename_keys
from .io import write_state_dict as write_state_dict

__all__ = [
    "read_state_dict",
    "write_state_dict",
    "rename_keys",
    "from_torch",
    "TracedModule",
    "ConversionError",
    "compare",
    "Report",
]
