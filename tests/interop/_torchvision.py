"""torchvision's (and timm's) model definitions without torchvision's compiled ops.

PyPI's torchvision 0.28.0 wheel (the release that pairs with torch 2.13) is a
CUDA build: ``import torchvision`` loads ``_C.so`` and registers meta kernels for
``torchvision::nms``, which fails beside the CPU torch with "operator
torchvision::nms does not exist". The model definitions (``torchvision.models``)
are plain Python that never call those ops, so the package is entered here
without running its ``__init__``: an empty ``torchvision`` package pointing at
the installed files is put in ``sys.modules``, then ``torchvision.models`` is
imported normally.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def models() -> types.ModuleType:
    """``torchvision.models``; the test is skipped when torchvision is not installed."""
    import pytest

    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        if spec is None:
            pytest.skip("torchvision is not installed (it is in the project's test extra)")
        package = types.ModuleType("torchvision")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["torchvision"] = package
    return importlib.import_module("torchvision.models")


def timm() -> types.ModuleType:
    """``timm``, imported after :func:`models`: timm imports torchvision at import
    time, so the package entry above must be in place first. The test is skipped
    when timm is not installed."""
    import pytest

    models()
    return pytest.importorskip("timm")
