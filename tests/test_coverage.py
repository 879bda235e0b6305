"""Every public name of torch.nn, torch.nn.functional, torch.nn.utils, torch.optim,
its lr_scheduler and swa_utils (read from the installed torch) has a jaxnn
counterpart of the same name, or is listed in ``jaxnn._torch_map.ABSENT`` with the
reason. A name a new torch adds fails here until it is ported or listed."""

import pytest

from jaxnn import _torch_map

ROWS = list(_torch_map.rows())


def test_enumeration_finds_torch_names():
    # guards the discovery: with nothing found the checks below would pass vacuously
    found = {(ns, name) for ns, name, _, _ in ROWS}
    assert {("torch.nn", "Linear"), ("torch.nn.functional", "cross_entropy"), ("torch.optim", "SGD")} <= found
    assert sum(ns == "torch.nn" for ns, *_ in ROWS) >= 160
    assert sum(ns == "torch.nn.functional" for ns, *_ in ROWS) >= 130


@pytest.mark.parametrize("namespace", list(_torch_map.NAMESPACES))
def test_every_torch_name_is_ported_or_explained(namespace):
    missing = [name for ns, name, got, why in ROWS if ns == namespace and got is None and why is None]
    assert not missing, f"{namespace}: no jaxnn counterpart and no reason in ABSENT: {missing}"


def test_absent_names_are_real_and_really_absent():
    known = {f"{ns}.{name}": got for ns, name, got, _ in ROWS}
    stale = [key for key in _torch_map.ABSENT if key not in known]
    assert not stale, f"ABSENT lists names torch does not have: {stale}"
    ported = [key for key in _torch_map.ABSENT if known[key] is not None]
    assert not ported, f"ABSENT lists names jaxnn has: {ported}"


def test_reasons_are_sentences():
    assert all(len(reason) > 20 for reason in _torch_map.ABSENT.values())
