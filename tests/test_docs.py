"""The README tour and every ```python block of docs/*.md run, so the docs cannot go stale (issue 21).

Blocks of one page run in order in one namespace (a page builds its example up
block by block). A fragment that uses names the page only describes (``params``,
``model``) gets them from a hidden setup comment right before it,
``<!-- doc-setup`` + code + ``-->``, run first and invisible on the rendered
page. A block preceded by ``<!-- no-run: reason -->`` is skipped; the reason
is required and kept for readers of the page source. Also: the generated
bad-input section of docs/reliability.md is current.
"""

from __future__ import annotations

import pathlib
import re
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"(?:<!--\s*no-run:(?P<reason>[^>]*?)-->\s*\n)?(?:<!-- doc-setup\n(?P<setup>.*?)-->\s*\n)?```python\n(?P<code>.*?)```",
    re.S,
)


def blocks(page: pathlib.Path) -> list[tuple[int, str, str]]:
    """``(line, setup + code, no-run reason or '')`` of each ```python block of ``page``."""
    text = page.read_text()
    return [
        (
            text.count("\n", 0, m.start("code")) + 1,
            (m.group("setup") or "") + m.group("code"),
            "" if m.group("reason") is None else m.group("reason").strip() or "-",
        )
        for m in BLOCK.finditer(text)
    ]


RUNNABLE = [p for p in PAGES if any(not reason for _, _, reason in blocks(p))]


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_page_snippets_run(page: pathlib.Path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # snippets that save files write here
    namespace: dict = {"__name__": "__docs__"}
    for line, code, reason in blocks(page):
        if reason:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
            except Exception as e:
                raise AssertionError(f"{page.relative_to(ROOT)}, block at line {line} fails: {e!r}") from e


def test_no_run_marks_give_a_reason():
    for page in PAGES:
        for line, _, reason in blocks(page):
            assert reason != "-", f"{page.name}:{line}: a no-run mark needs a reason"


def test_reliability_table_is_current():
    from tests import reliability_table

    page = reliability_table.DOC.read_text()
    assert reliability_table.updated(page) == page, "docs/reliability.md is stale: run python -m tests.reliability_table"
