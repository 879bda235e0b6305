"""State dicts from and to the files people have: ``.safetensors`` (what Hugging
Face ships) and torch's ``.pt`` / ``.pth`` / ``.bin`` (``torch.save``).

Reading a torch file goes through ``torch.load(weights_only=True)``, which
refuses pickled code: a checkpoint that needs arbitrary unpickling is rejected
rather than executed. ``safetensors`` and ``torch`` are optional: each is
imported only when a file of its kind is read or written.

>>> import jaxnn, tempfile, os
>>> from flax import nnx
>>> model = jaxnn.Linear(2, 3, rngs=nnx.Rngs(0))
>>> path = os.path.join(tempfile.mkdtemp(), "linear.safetensors")
>>> jaxnn.save_state_dict(model, path)
>>> sorted(read_state_dict(path))
['bias', 'weight']
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

__all__ = ["read_state_dict", "write_state_dict", "rename_keys"]

PathLike = Union[str, "os.PathLike[str]"]
_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


def _suffix(path: PathLike) -> str:
    return os.path.splitext(os.fspath(path))[1].lower()


def _require(package: str, extra: str) -> Any:
    try:
        return __import__(package)
    except ImportError as error:
        raise ImportError(
            f"reading or writing this file needs the '{package}' package: pip install {package} "
            f"(or jaxnn[{extra}])"
        ) from error


def read_state_dict(path: PathLike) -> dict[str, np.ndarray]:
    """``{key: numpy array}`` read from a ``.safetensors`` or torch (``.pt``/``.pth``/``.bin``) file.

    Raises:
      ValueError: an unknown suffix, or a torch file whose top level is not a
        ``{name: tensor}`` mapping (a training checkpoint ``{'model': ..., 'optimizer': ...}``:
        the message names its keys, pass the model's entry instead).
    """
    suffix = _suffix(path)
    if suffix == ".safetensors":
        _require("safetensors", "io")
        from safetensors.numpy import load_file

        return dict(load_file(os.fspath(path)))
    if suffix in _TORCH_SUFFIXES:
        torch = _require("torch", "test")
        loaded = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
            keys = list(loaded)[:8] if isinstance(loaded, Mapping) else type(loaded).__name__
            raise ValueError(
                f"{os.fspath(path)} does not hold a state dict ({{name: tensor}}); its top level is {keys}. "
                "For a training checkpoint load the model's entry: "
                "jaxnn.load_state_dict(model, torch.load(path, weights_only=True)['model'])"
            )
        return {k: v for k, v in loaded.items()}
    raise ValueError(
        f"cannot tell the format of {os.fspath(path)!r} from its suffix {suffix!r}: "
        f"expected .safetensors or one of {', '.join(_TORCH_SUFFIXES)}"
    )


def write_state_dict(
    state: Mapping[str, np.ndarray], path: PathLike, metadata: Optional[Mapping[str, str]] = None
) -> None:
    """Writes ``state`` to ``.safetensors`` (or, with torch installed, a torch ``.pt``/``.pth``/``.bin``)."""
    suffix = _suffix(path)
    if suffix == ".safetensors":
        _require("safetensors", "io")
        from safetensors.numpy import save_file

        save_file(
            {k: np.ascontiguousarray(v) for k, v in state.items()},
            os.fspath(path),
            metadata=dict(metadata or {}) or None,
        )
        return
    if suffix in _TORCH_SUFFIXES:
        torch = _require("torch", "test")
        torch.save({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, os.fspath(path))
        return
    raise ValueError(f"cannot write {os.fspath(path)!r}: use a .safetensors or .pt suffix")


def rename_keys(
    state: Mapping[str, Any],
    strip_prefix: Optional[str] = None,
    key_map: Union[Mapping[str, str], Callable[[str], str], None] = None,
) -> dict[str, Any]:
    """The keys of a checkpoint renamed for the model.

    Args:
      strip_prefix: removed from every key that starts with it (torch DDP and
        ``torch.compile`` save ``module.`` / ``_orig_mod.`` prefixes), as torch's
        ``consume_prefix_in_state_dict_if_present``; keys without it are kept.
      key_map: then ``{old: new}`` (unlisted keys kept) or a function of the key.
    """
    out = {}
    for key, value in state.items():
        if strip_prefix and key.startswith(strip_prefix):
            key = key[len(strip_prefix) :]
        if key_map is not None:
            key = key_map(key) if callable(key_map) else key_map.get(key, key)
        if key in out:
            raise ValueError(f"renaming the checkpoint's keys gives {key!r} twice")
        out[key] = value
    return out
