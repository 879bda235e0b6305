"""A griffe extension for two conventions of jaxnn's docstrings.

- Arguments that share a description are written together, as torch's
  documentation does: ``size_average, reduce: deprecated ...``. Google-style
  parsers take one name per entry, so the entry is repeated for each name.
- Examples are doctest blocks (``>>>`` lines and their output) without a
  section header; markdown would read ``>>>`` as nested quotes, so each block
  is fenced as ``pycon`` and highlighted.
- A paragraph ending in ``::`` introduces an indented literal block (reST);
  markdown shows the block as code already, so the colon is kept single.
- Cross-references are written as Sphinx roles (``:func:`jaxnn.functional.l1_loss```);
  markdown would print the role, so each becomes inline code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc):`~?([^`]+)`")
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)
_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Keyword Args|Keyword Arguments|Other Parameters):\s*$")
_GROUPED = re.compile(r"^(\s*)(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)+)(\s*(?:\([^)]*\))?\s*:.*)$")


def _split_grouped(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    in_args = False
    section_indent = 0
    while i < len(lines):
        line = lines[i]
        header = _SECTION.match(line)
        if header:
            in_args, section_indent = True, len(header.group(1))
            out.append(line)
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        if in_args and line.strip() and indent <= section_indent:
            in_args = False
        match = _GROUPED.match(line) if in_args else None
        if not match:
            out.append(line)
            i += 1
            continue
        lead, names, rest = match.groups()
        body = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(lead)):
            if not lines[i].strip() and (i + 1 >= len(lines) or not lines[i + 1].strip()):
                break
            body.append(lines[i])
            i += 1
        for name in (n.strip() for n in names.split(",")):
            out.append(f"{lead}{name}{rest}")
            out.extend(body)
    return out


def _fence_doctests(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if not stripped.startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(stripped)]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return out


class JaxnnDocstrings(griffe.Extension):
    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None or obj.is_alias:
            return
        lines = docstring.value.split("\n")
        text = "\n".join(_fence_doctests(_split_grouped(lines)))
        docstring.value = _LITERAL.sub(":", _ROLE.sub(r"`\1`", text))
