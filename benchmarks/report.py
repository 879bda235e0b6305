"""The run's outputs: a markdown table (stdout), a JSON file, and log-log PNG plots."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Optional

from .harness import Result

LOSS_CONTENDERS = ("jaxnn", "torch eager", "torch.compile", "optax")


def _t(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _x(ratio: Optional[float]) -> str:
    if ratio is None:
        return "-"
    if ratio >= 10:
        return f"{ratio:,.0f}x"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def _status(result: Result) -> str:
    return result.status.split(":", 1)[0]


def _noteworthy(result: Result) -> bool:
    """A contender that did not run for a reason the reader should see (not a deliberate quick-mode skip)."""
    return result.median_s is None and not result.status.startswith("skipped: torch.compile off")


def _cell(result: Optional[Result]) -> str:
    if result is None:
        return "-"
    if result.median_s is None:
        return _status(result)
    return f"{_t(result.median_s)} [{_t(result.min_s)} - {_t(result.max_s)}]"


def _by_name(group: dict[str, Any]) -> dict[str, Result]:
    return {r.contender: r for r in group.get("results", [])}


def _header(report: dict[str, Any]) -> list[str]:
    m, f = report["machine"], report["floor"]
    load = m.get("load_average")
    lines = [
        f"# jaxnn benchmarks, {m['date_utc']}",
        "",
        f"- command: `{m['command']}` ({report['mode']} mode)",
        f"- device: {m['device']}" + (f" ({m['gpu']})" if m.get("gpu") else ""),
        f"- CPU: {m['cpu']}, {m['cores']} cores, last-level cache {m.get('cache') or '?'}, "
        f"torch threads {m['torch_threads']}" + (f", load average at start {load[0]:.2f}" if load else ""),
        "- versions: " + ", ".join(f"{k} {m[k]}" for k in ("python", "jax", "jaxlib", "flax", "optax", "torch", "numpy", "jaxnn")),
        f"- floor: read {f['read_gbs']:.1f} GB/s, copy {f['copy_gbs']:.1f} GB/s (write {f['write_gbs']:.1f} GB/s) "
        f"on {f['array_mib']} MiB; float32 GEMM {f['gemm_gflops']:.0f} GFLOP/s at n={f['gemm_n']}",
        f"- allocator: {m.get('allocator', '?')}; writing into newly allocated memory "
        f"{f.get('fresh_write_gbs', f['write_gbs']):.1f} GB/s (first-touch page faults; "
        "the fresh-page floor, in parentheses after x floor, counts each gradient of 32 MiB or more at that rate)",
        f"- cells: median [min - max] of {report['timing']['rounds']} interleaved rounds, warm-up excluded; "
        "compile = first call minus one steady call; x peer = time / fastest other-library contender; "
        "x floor = time / the floor (memory traffic over DRAM bandwidth, or FLOPs over the GEMM rate; "
        "inputs that fit in the cache can beat a DRAM floor)",
    ]
    if load and load[0] > m["cores"]:
        lines.append(
            f"- WARNING: the load average ({load[0]:.1f}) exceeded the {m['cores']} cores when this run "
            "started; other processes shared the machine and the timings are unreliable"
        )
    return lines + [""]


def _floor_cell(jaxnn: Optional[Result], group: dict[str, Any]) -> str:
    """``x floor``, and ``(x fresh-page floor)`` where the group writes new arrays and the two differ."""
    if jaxnn is None or jaxnn.median_s is None:
        return "-"
    cell = _x(jaxnn.ratio_floor)
    fresh = group.get("floor_fresh_s")
    if fresh and group.get("floor_s") and fresh > 1.05 * group["floor_s"]:
        cell += f" ({_x(jaxnn.median_s / fresh)})"
    return cell


def _losses(groups: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Losses",
        "",
        "| loss | mode | elements | floor | " + " | ".join(LOSS_CONTENDERS) + " | jaxnn x peer | jaxnn x floor |",
        "|---|---|---:|---:|" + "---:|" * (len(LOSS_CONTENDERS) + 2),
    ]
    notes: dict[str, str] = {}
    missing = []
    for g in groups:
        if not g["results"]:
            missing.append(g["name"])
            continue
        by = _by_name(g)
        jaxnn = by.get("jaxnn")
        cells = [_cell(by.get(c)) for c in LOSS_CONTENDERS]
        lines.append(
            f"| {g['name']} | {g['mode']} | {g['elements']:.0e} | {_t(g['floor_s'])} | " + " | ".join(cells)
            + f" | {_x(jaxnn.ratio_best_peer if jaxnn else None)} | {_floor_cell(jaxnn, g)} |"
        )
        for r in g["results"]:
            if r.note:
                notes[f"optax for {g['name']}"] = r.note
            if _noteworthy(r):
                notes[f"{r.contender}, {g['name']}"] = r.status
    if missing:
        notes["not available in this build"] = ", ".join(sorted(set(missing)))
    lines += [""] + [f"- {k}: {v}" for k, v in notes.items()] + [""]
    return lines


def _long(groups: list[dict[str, Any]], title: str, per_step: bool) -> list[str]:
    unit = "steps/s" if per_step else "calls/s"
    lines = [
        f"## {title}",
        "",
        f"| config | contender | {unit} | time [min - max] | compile | x peer | floor | x floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for g in groups:
        for r in g["results"]:
            rate = f"{1 / r.median_s:,.0f}" if r.median_s else _status(r)
            lines.append(
                f"| {g['name']} | {r.contender} | {rate} | {_cell(r)} | {_t(r.compile_s)} | "
                f"{_x(r.ratio_best_peer)} | {_t(g.get('floor_s'))} | {_x(r.ratio_floor)} |"
            )
            if _noteworthy(r):
                notes.append(f"- {r.contender}, {g['name']}: {r.status}")
        notes += [f"- {g['name']}: {n}" for n in g.get("notes", [])]
    return lines + [""] + sorted(set(notes)) + [""]


def _memory(groups: list[dict[str, Any]]) -> list[str]:
    lines = []
    for g in groups:
        lines += [
            f"## Peak memory ({g['name']}, {g['steps']} steps, one process each)",
            "",
            "| contender | peak RSS | added by the contender | status |",
            "|---|---:|---:|---|",
        ]
        for row in g["rows"]:
            peak = f"{row['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in row else "-"
            added = f"{row['added_mib']:.0f} MiB" if "added_mib" in row else "-"
            lines.append(f"| {row['contender']} | {peak} | {added} | {row['status']} |")
        lines.append("")
    return lines


def _temp(groups: list[dict[str, Any]]) -> list[str]:
    """XLA's temporary memory per contender, for groups that record it (linear_cross_entropy)."""
    lines = []
    for g in groups:
        if g.get("temp_mib"):
            lines += [f"{g['name']}: XLA temporary memory " + ", ".join(
                f"{k} {v:,.1f} MiB" for k, v in g["temp_mib"].items()), ""]
    return lines


def markdown(report: dict[str, Any]) -> str:
    suites = report["suites"]
    lines = _header(report)
    if suites.get("losses"):
        lines += _losses(suites["losses"])
    if suites.get("training"):
        lines += _long(suites["training"], "Training steps", per_step=True)
    if suites.get("dispatch"):
        lines += _long(suites["dispatch"], "Dispatch: per-call overhead", per_step=False)
    if suites.get("memory"):
        lines += _memory(suites["memory"])
    for suite, title in (("transformer", "Transformer"), ("recurrent", "Recurrent training steps"),
                         ("spatial", "Spatial blocks, forward + backward")):
        if suites.get(suite):
            lines += _long(suites[suite], title, per_step=True) + _temp(suites[suite])
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> str:
    def default(value):
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)
        raise TypeError(f"cannot serialise {type(value).__name__}")

    return json.dumps(report, indent=1, default=default)


def plots(report: dict[str, Any], out_dir: str, suffix: str = "") -> list[str]:
    """Time against size per contender, log-log: one panel per loss, and one for training.

    ``suffix`` is appended to each file name (``losses_fwd-tcmalloc.png``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    losses = [g for g in report["suites"].get("losses", []) if g["results"]]
    for mode in ("fwd", "fwd+bwd"):
        groups = [g for g in losses if g["mode"] == mode]
        names = list(dict.fromkeys(g["name"] for g in groups))
        if not names:
            continue
        cols = min(5, len(names))
        rows = -(-len(names) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(max(6.0, 3.2 * cols), 2.6 * rows + 0.6), squeeze=False)
        for ax, name in zip(axes.flat, names):
            series = sorted((g for g in groups if g["name"] == name), key=lambda g: g["elements"])
            sizes = [g["elements"] for g in series]
            for contender in LOSS_CONTENDERS:
                points = [(n, _by_name(g).get(contender)) for n, g in zip(sizes, series)]
                points = [(n, r.median_s) for n, r in points if r is not None and r.median_s]
                if points:
                    ax.plot(*zip(*points), marker="o", label=contender)
            ax.plot(sizes, [g["floor_s"] for g in series], "k--", marker="x", label="memory floor")
            ax.set(xscale="log", yscale="log", title=name, xlabel="elements", ylabel="seconds")
            ax.title.set_fontsize(8)
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=6)
        fig.suptitle(f"losses {mode}, median per call ({report['machine']['device']})")
        fig.tight_layout()
        path = os.path.join(out_dir, f"losses_{mode.replace('+', '_')}{suffix}.png")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)

    training = sorted(report["suites"].get("training", []), key=lambda g: g["flops"])
    if training:
        fig, ax = plt.subplots(figsize=(7, 5))
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        contenders = list(dict.fromkeys(r.contender for g in training for r in g["results"]))
        models = list(dict.fromkeys(g["model"] for g in training))
        # One line per (contender, model): batch sizes of one model join up,
        # different models sit apart as points.
        for colour, contender in zip(colours, contenders):
            label = contender
            for model in models:
                points = [(g["flops"], _by_name(g).get(contender)) for g in training if g["model"] == model]
                points = [(f, r.median_s) for f, r in points if r is not None and r.median_s]
                if points:
                    ax.plot(*zip(*points), marker="o", color=colour, label=label)
                    label = None
        for i, model in enumerate(models):
            series = [g for g in training if g["model"] == model]
            ax.plot([g["flops"] for g in series], [g["floor_s"] for g in series], "k--", marker="x",
                    label="floor" if i == 0 else None)
        for g in training:
            ax.annotate(g["name"], (g["flops"], g["floor_s"]), fontsize=7)
        ax.set(xscale="log", yscale="log", xlabel="FLOPs per training step", ylabel="seconds per step",
               title=f"training steps ({report['machine']['device']})")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, f"training{suffix}.png")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written
