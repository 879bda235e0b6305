"""mkdocs hooks that make the site from the repository as it is.

Nothing in the reference or the torch-to-jaxnn page is a hand list of names:

- the reference has one page per group of public names, read from each
  namespace's ``__all__`` (:data:`NAMESPACES`); each object is rendered once by
  mkdocstrings, where it is first met in that order, and every other namespace
  that re-exports it links there;
- the torch-to-jaxnn page is ``jaxnn._torch_map.rows()``, the table the
  coverage test uses, each counterpart linked to its reference entry;
- the first page is the README, its links rewritten for the site;
- the guide is every ``docs/*.md``: the known pages in :data:`GUIDE` order,
  then any other page by name, so a page added by a later branch is in the
  navigation without an edit here.

A public name without a docstring, or a reference that does not resolve, is a
warning, and ``mkdocs build --strict`` turns warnings into errors.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import sys
import types
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.plugins.jaxnn")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# The checkout being documented, not whichever jaxnn pip installed (mkdocstrings
# reads the sources from here too: mkdocs.yml `paths: [.]`).
# Imported here, while the checkout is first on sys.path: imported later (in
# on_config) it came from the pip-installed copy, so the assert guards that.
sys.path.insert(0, str(ROOT))
import jaxnn  # noqa: E402

assert Path(jaxnn.__file__).resolve().parent == ROOT / "jaxnn", jaxnn.__file__

# The guide's order and short navigation titles; docs/*.md pages not named
# here follow by file name, titled by their first heading.
GUIDE = {
    "layers.md": "Layers, init, state dicts",
    "modules.md": "Modules and nn.utils",
    "recurrent.md": "Recurrent layers",
    "losses-regression-probabilistic.md": "Losses: regression, probabilistic",
    "losses-classification.md": "Losses: classification",
    "losses-embedding-sequence.md": "Losses: embedding, sequence",
    "semantics.md": "Where jaxnn follows torch",
    "optim.md": "Optimizers and schedulers",
    "training.md": "Training cycle",
    "interop.md": "Interop",
    "benchmarks.md": "Benchmarks",
    "architecture.md": "Architecture and contributing",
    "reliability.md": "Reliability",
    "site.md": "How this site is made",
}

# (namespace, title). An object re-exported by several namespaces is rendered
# under the first one listed: functions under jaxnn.functional, layers and
# criterion classes under the top-level jaxnn (their torch.nn counterparts'
# home), optimizers under jaxnn.optim.
NAMESPACES = [
    ("jaxnn", "jaxnn"),
    ("jaxnn.functional", "jaxnn.functional"),
    ("jaxnn.init", "jaxnn.init"),
    ("jaxnn.nn", "jaxnn.nn"),
    ("jaxnn.nn.utils", "jaxnn.nn.utils"),
    ("jaxnn.nn.utils.rnn", "jaxnn.nn.utils.rnn"),
    ("jaxnn.nn.utils.parametrize", "jaxnn.nn.utils.parametrize"),
    ("jaxnn.nn.utils.parametrizations", "jaxnn.nn.utils.parametrizations"),
    ("jaxnn.optim", "jaxnn.optim"),
    ("jaxnn.optim.lr_scheduler", "jaxnn.optim.lr_scheduler"),
    ("jaxnn.optim.swa_utils", "jaxnn.optim.swa_utils"),
    ("jaxnn.training", "jaxnn.training"),
    ("jaxnn.training.metrics", "jaxnn.training.metrics"),
    ("jaxnn.training.parallel", "jaxnn.training.parallel"),
    ("jaxnn.interop", "jaxnn.interop"),
    ("jaxnn.checks", "jaxnn.checks"),
]

# The top-level jaxnn and jaxnn.functional are large: their pages are split by
# the module that defines each name (jaxnn.nn.conv -> "conv"), so a layer
# family or loss family is one page.
SPLIT = {"jaxnn", "jaxnn.functional"}

# Where the README's repository-relative links point on the site.
_README_LINKS = [
    (re.compile(r"\]\(docs/"), "]("),
    (re.compile(r"\]\(benchmarks/results/reference/"), "](plots/"),
]
_PLOTS = ROOT / "benchmarks" / "results" / "reference"


class _Reference:
    """The reference pages, and each public object's anchor on the site."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, str]] = {}  # src_uri -> (nav title, markdown)
        self.anchor: dict[int, str] = {}  # id(object) -> identifier rendered by mkdocstrings
        self.page_of: dict[str, str] = {}  # identifier -> src_uri
        self.sections: list[tuple[str, list[str]]] = []  # nav: (namespace, [src_uri])
        self.module_pages: dict[str, str] = {}  # namespace -> its first page
        self._build()

    def _build(self) -> None:
        from jaxnn import _torch_map

        # A namespace the torch map gains later is documented too, after the listed ones.
        listed = {namespace for namespace, _ in NAMESPACES}
        extra = [(ns, ns) for ns in _torch_map.NAMESPACES.values() if ns not in listed]
        for namespace, title in NAMESPACES + extra:
            try:
                module = importlib.import_module(namespace)
            except ImportError:
                if namespace in listed:
                    raise
                continue  # the torch map's counterpart() reports it absent as well
            names = list(getattr(module, "__all__", ()))
            items = []
            for name in names:
                obj = getattr(module, name)
                if isinstance(obj, types.ModuleType):
                    continue
                if not inspect.getdoc(obj):
                    log.warning("%s.%s has no docstring: the reference needs a one-line summary", namespace, name)
                identifier = f"{namespace}.{name}"
                first = id(obj) not in self.anchor
                if first:
                    self.anchor[id(obj)] = identifier
                items.append((name, obj, identifier, first))
            groups: dict[str, list] = {}
            for item in items:
                key = _group(namespace, item[1]) if namespace in SPLIT else ""
                groups.setdefault(key, []).append(item)
            uris = []
            stem = "reference/" + namespace.replace(".", "/")
            for key, group in sorted(groups.items(), key=lambda kv: _group_order(kv[0])):
                uri = f"{stem}/{key}.md" if key else f"{stem}.md"
                label = key.replace("layers-", "layers: ")
                heading = f"{title}: {label}" if key else title
                # A split page opens with its defining file's docstring (jaxnn/nn/conv.py's).
                source = importlib.import_module(group[0][1].__module__) if key not in ("", "core") else module
                self.pages[uri] = (label or title, self._page(heading, source, group))
                for _, _, identifier, first in group:
                    if first:
                        self.page_of[identifier] = uri
                uris.append(uri)
            self.sections.append((title, uris))
            self.module_pages[namespace] = uris[0]

    def _page(self, heading: str, module, group) -> str:
        summary = (inspect.getdoc(module) or "").split("\n\n")[0]
        out = [f"# {heading}", "", summary, "", "| name | summary |", "|---|---|"]
        for name, obj, identifier, _ in group:
            target = self.anchor[id(obj)]
            out.append(f"| [`{name}`][{target}] | {_one_line(obj)} |")
        out.append("")
        for name, obj, identifier, first in group:
            if first:
                out += [f"::: {identifier}", ""]
        return "\n".join(out)


def _group(namespace: str, obj) -> str:
    defined = getattr(obj, "__module__", "") or ""
    if namespace == "jaxnn":
        if defined.startswith("jaxnn.nn."):
            return "layers-" + defined.split(".")[2].lstrip("_")
        if defined == "jaxnn.losses":
            return "losses"
        return "core"
    return defined.rsplit(".", 1)[-1].lstrip("_")


def _group_order(key: str) -> tuple[int, str]:
    return ({"core": 0, "losses": 1}.get(key, 2), key)


def _one_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.split("\n\n")[0].replace("\n", " ").strip()
    # A table cell: pipes would split it; the full text is in the entry below.
    return first.replace("|", "\\|")


def _torch_page(reference: _Reference) -> str:
    from jaxnn import _torch_map

    out = [
        "# torch to jaxnn",
        "",
        "Every public name of the torch namespaces jaxnn covers, read from the installed torch, "
        "with its jaxnn counterpart or the reason there is none. This page and the coverage test "
        "(`tests/test_coverage.py`) are generated from one table, `jaxnn/_torch_map.py`.",
        "",
        "## What differs everywhere",
        "",
        "- **Randomness is explicit.** Layers that initialise parameters or draw at run time "
        "(Dropout, RReLU, ...) take `rngs=nnx.Rngs(...)` as a keyword; functions that draw take "
        "a `key`. torch's global generator has no counterpart, so torch's and jaxnn's random "
        "numbers differ while their distributions agree.",
        "- **Arrays are immutable.** A torch function that mutates its argument returns the "
        "new value in jaxnn. The trailing-underscore names keep torch's names and return "
        "the result: `jaxnn.init.normal_(key, shape)` returns a new array, "
        "`jaxnn.nn.utils.clip_grad_norm_(grads, max_norm)` the clipped gradients and their "
        "norm. Layers accept `inplace=` and ignore it; `F.relu_` and the other in-place-only "
        "functions are absent (listed below).",
        "- **Optimizers and schedulers are optax objects.** `jaxnn.optim.Adam(...)` is an "
        "`optax.GradientTransformation` with torch's numbers; its state is a pytree you pass "
        "in and get back; schedulers are functions of the step count.",
        "- **Modules are Flax NNX modules.** Parameters are `nnx.Param`, buffers "
        "`jaxnn.Buffer`; `nnx.split` / `nnx.merge` give the pure (pytree) form that `jax.jit` "
        "and `jax.grad` take. `state_dict` keys, layouts and initialisation are torch's.",
        "",
    ]
    current = None
    counts = {"ported": 0, "absent": 0}
    for namespace, name, counterpart, reason in _torch_map.rows():
        if namespace != current:
            current = namespace
            out += ["", f"## `{namespace}`", "", "| torch | jaxnn |", "|---|---|"]
        if counterpart is not None and counterpart in reference.module_pages:
            cell = f"[`{counterpart}`]({reference.module_pages[counterpart]})"
            counts["ported"] += 1
        elif counterpart is not None and isinstance(_resolve(counterpart), types.ModuleType):
            # A jaxnn submodule that happens to share the name (jaxnn.functional.embedding,
            # the embedding losses' file) is not torch's function.
            cell = "absent: not ported yet"
            counts["absent"] += 1
        elif counterpart is not None:
            obj = _resolve(counterpart)
            identifier = reference.anchor.get(id(obj))
            if identifier is None:
                log.warning("%s.%s -> %s: not in any namespace's __all__, so not in the reference",
                            namespace, name, counterpart)
                cell = f"`{counterpart}`"
            else:
                cell = f"[`{counterpart}`][{identifier}]"
            counts["ported"] += 1
        else:
            # tests/test_coverage.py fails on such a name; the page says so rather than
            # failing the build a second time.
            cell = f"absent: {reason or 'not ported yet'}".replace("|", "\\|")
            counts["absent"] += 1
        out.append(f"| `{name}` | {cell} |")
    out[2:2] = [f"{counts['ported']} names have a counterpart, {counts['absent']} have none.", ""]
    return "\n".join(out) + "\n"


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _readme() -> str:
    text = (ROOT / "README.md").read_text()
    for pattern, replacement in _README_LINKS:
        text = pattern.sub(replacement, text)
    return text


def _guide_pages() -> list:
    present = sorted(p.name for p in DOCS.glob("*.md") if p.name != "index.md")
    known = [{GUIDE[p]: p} for p in GUIDE if p in present]
    return known + [p for p in present if p not in GUIDE]


_reference: _Reference | None = None


def on_config(config):
    global _reference
    _reference = _Reference()
    guide = [{"Tour": "index.md"}] + _guide_pages()
    reference = []
    for title, uris in _reference.sections:
        if len(uris) == 1:
            reference.append({title: uris[0]})
        else:
            reference.append({title: [{_reference.pages[u][0]: u} for u in uris]})
    config["nav"] = [
        {"Guide": guide},
        {"Reference": reference},
        {"torch to jaxnn": "torch-to-jaxnn.md"},
    ]
    return config


def on_files(files, config):
    assert _reference is not None
    files.append(File.generated(config, "index.md", content=_readme()))
    files.append(File.generated(config, "torch-to-jaxnn.md", content=_torch_page(_reference)))
    for uri, (_, content) in _reference.pages.items():
        files.append(File.generated(config, uri, content=content))
    # The committed reference run: plots, and the tables the README links.
    for path in sorted(_PLOTS.glob("*.png")) + sorted(_PLOTS.glob("*.md")):
        files.append(File.generated(config, f"plots/{path.name}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    # Guide pages link the committed plots as GitHub shows them (../benchmarks/...).
    return markdown.replace("](../benchmarks/results/reference/", "](plots/")


# The docstrings name other objects with Sphinx roles (:func:`x`, :class:`X`), which
# mkdocstrings' Google-style rendering leaves as text before the code span.
_ROLE = re.compile(r":(?:func|class|meth|data|attr|mod|obj|exc):(?=<(?:code|a)\b)")


def on_post_page(output, page, config):
    return _ROLE.sub("", output)
