"""Interop with torch: state-dict files (``.safetensors``, ``.pt``)."""

from .io import read_state_dict as read_state_dict
from .io import rename_keys as rename_keys
from .io import write_state_dict as write_state_dict

__all__ = [
    "read_state_dict",
    "write_state_dict",
    "rename_keys",
]
