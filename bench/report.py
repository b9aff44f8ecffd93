"""Write docs/benchmarks.md (and its plots) from the JSON results."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

ORDER = ("inbox", "processing", "fanout", "reads", "search", "memory", "scale", "peer")
HEADLINES = {
    # benchmark: labels whose medians go into the history table
    "inbox": ("Pedagogue accepted, 16 conn", "bare verify + INSERT per request, 16 conn",
              "Pedagogue p99, 16 conn"),
    "processing": ("Pedagogue, one inbox worker",),
    "fanout": ("deliveries to 1,000 hosts, all posts", "RSA-2048 signatures, one core"),
    "reads": ("home timeline p99, 1 conn", "bare query p99, 1 conn"),
    "search": ("search p99, 1 conn", "bare search query p99, 1 conn"),
    "memory": ("Pedagogue idle",),
    "peer": ("Pedagogue inbox accepted, 16 conn", "bovine-herd inbox accepted, 16 conn"),
}
HISTORY = "history.json"
ANALYSIS = Path(__file__).resolve().parent / "ANALYSIS.md"


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if unit in ("ratio",) or abs(value) < 10:
        text = f"{value:.2f}"
    elif abs(value) < 100:
        text = f"{value:.1f}"
    else:
        text = f"{value:,.0f}"
    return text


def load(results: Path) -> dict[str, dict[str, Any]]:
    documents = {}
    for path in sorted(results.glob("*.json")):
        if path.name == HISTORY:
            continue
        try:
            document = json.loads(path.read_text())
        except ValueError:
            continue
        documents[document.get("name", path.stem)] = document
    return documents


def _plot(name: str, curve_name: str, curve: dict[str, Any], docs: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    xs = curve["x"]
    series = curve["series"]
    if curve.get("kind") == "bar":
        width = 0.8 / max(1, len(series))
        for offset, (label, ys) in enumerate(series.items()):
            axes.bar([i + offset * width for i in range(len(xs))], ys, width, label=label)
        axes.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(xs))],
                        [str(x) for x in xs])
    else:
        for label, ys in series.items():
            axes.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=label)
        if curve.get("kind") != "line":
            axes.set_xscale("log", base=2)
            axes.set_xticks(xs, [str(x) for x in xs])
    axes.set_xlabel(curve.get("xlabel", ""))
    axes.set_ylabel(curve.get("ylabel", ""))
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    filename = f"benchmarks-{name}-{curve_name}.png".replace("_", "-")
    docs.mkdir(parents=True, exist_ok=True)
    figure.savefig(docs / filename)
    plt.close(figure)
    return filename


def _targets(document: dict[str, Any]) -> list[str]:
    lines = []
    for target in document.get("targets", []):
        if target.get("met") is None:
            state = "not measured"
        elif target["met"]:
            state = "**met**"
        else:
            state = f"**missed** by a factor of {target['factor']:.2f}"
        measured = target.get("measured")
        shown = f"{_number(measured)} {target.get('unit', '')}".strip() if measured is not None else ""
        bound = f" {target['bound']}" if target.get("bound") else ""
        lines.append(f"- Target: {target['text']}: {shown} ({state}).{bound}")
    return lines


def section(document: dict[str, Any], docs: Path) -> list[str]:
    machine = document.get("machine", {})
    lines = [f"## {document['title']}", ""]
    lines.append(
        f"Size `{document['size']}`, commit `{document.get('commit', '?')}`, "
        f"{document.get('date', '')}, {machine.get('cores', '?')} cores "
        f"({machine.get('cpu', '')}), {machine.get('memory_gib', '?')} GiB memory, "
        f"Python {machine.get('python', '?')}; took {document.get('duration_s', '?')} s. "
        f"Command: `{document['command']}`."
    )
    lines.append("")
    rows = document.get("rows", [])
    if rows:
        lines.append("| figure | unit | median | min | max | runs | kind | ratio to limit |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |")
        for row in rows:
            ratio = row.get("ratio")
            ratio_text = f"{ratio:.2f} × {row['limit']}" if ratio is not None else ""
            label = row["label"] + (f" ({row['note']})" if row.get("note") else "")
            lines.append(
                f"| {label} | {row['unit']} | {_number(row['median'], row['unit'])} | "
                f"{_number(row['min'], row['unit'])} | {_number(row['max'], row['unit'])} | "
                f"{len(row['samples'])} | {row['kind']} | {ratio_text} |"
            )
        lines.append("")
    lines.extend(_targets(document))
    if document.get("targets"):
        lines.append("")
    for curve_name, curve in document.get("curves", {}).items():
        filename = _plot(document["name"], curve_name, curve, docs)
        if filename:
            lines.append(f"![{curve.get('ylabel', curve_name)}]({filename})")
            lines.append("")
    profile = document.get("extra", {}).get("profile")
    if profile and "self" in profile:
        lines.append(
            f"Profile of the server process during one more run at 16 connections "
            f"({profile['load']['requests']:,} requests, {profile['load']['rate']:,.0f}/s while "
            f"sampled): {profile['cpu_us_per_request']:,.0f} µs of CPU per accepted request, "
            "all its threads counted. Top frames by inclusive time per request:"
        )
        lines.append("")
        lines.append("| frame (inclusive) | µs per request |")
        lines.append("| --- | ---: |")
        for name, micros in profile["inclusive"][:30]:
            lines.append(f"| `{name}` | {micros:,.0f} |")
        lines.append("")
        lines.append("| frame (self time) | µs per request |")
        lines.append("| --- | ---: |")
        for name, micros in profile["self"][:15]:
            lines.append(f"| `{name}` | {micros:,.0f} |")
        lines.append("")
    for note in document.get("notes", []):
        lines.append(f"- {note}")
    lines.append("")
    return lines


def _headline(document: dict[str, Any]) -> dict[str, float]:
    wanted = HEADLINES.get(document["name"], ())
    return {row["label"]: row["median"] for row in document.get("rows", [])
            if row["label"] in wanted and row["median"] is not None}


def update_history(results: Path, documents: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Append this run's headline figures (per commit and size) to history.json."""
    path = results / HISTORY
    try:
        history = json.loads(path.read_text())
    except (OSError, ValueError):
        history = []
    for document in documents.values():
        figures = _headline(document)
        if not figures:
            continue
        entry = {"benchmark": document["name"], "commit": document.get("commit"),
                 "date": document.get("date"), "size": document["size"], "figures": figures}
        if entry not in history:
            history.append(entry)
    path.write_text(json.dumps(history, indent=1))
    return history


def write(results: Path, docs: Path) -> Path:
    """Regenerate ``docs/benchmarks.md`` from every JSON result in ``results``."""
    documents = load(results)
    history = update_history(results, documents)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench run` from `bench/results/*.json` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand (the "
        "analysis comes from `bench/ANALYSIS.md`). Each benchmark measures its own limit in "
        "the same run and gives its figures as a ratio to it, because absolute figures on a "
        "shared machine drift from run to run. Medians, minima and maxima are over the runs "
        "counted in the table.",
        "",
        "Run everything with `python -m bench run --size full` (about 20 minutes on two "
        "cores; needs `pip install -e '.[bench]'` and PostgreSQL on 127.0.0.1:5432), one "
        "benchmark with `--only NAME` (" + ", ".join(ORDER) + "). CI runs `--size small`, "
        "which checks that the suite works and asserts no time. The server and the load "
        "generator run in separate processes pinned to different cores.",
        "",
        "## Targets",
        "",
        "| benchmark | target | measured | state |",
        "| --- | --- | ---: | --- |",
    ]
    for name in ORDER:
        document = documents.get(name)
        if not document:
            continue
        for target in document.get("targets", []):
            if target.get("met") is None:
                state = target.get("bound") or "not measured"
            elif target["met"]:
                state = "met"
            else:
                state = f"missed by ×{target['factor']:.2f}"
            measured = target.get("measured")
            shown = f"{_number(measured)} {target.get('unit', '')}" if measured is not None else "–"
            lines.append(f"| {document['title']} ({document['size']}) | {target['text']} | "
                         f"{shown} | {state} |")
    lines.append("")
    if ANALYSIS.exists():
        lines.extend(ANALYSIS.read_text().rstrip().splitlines())
        lines.append("")
    for name in ORDER:
        if name in documents:
            lines.extend(section(documents[name], docs))
    for name, document in documents.items():
        if name not in ORDER:
            lines.extend(section(document, docs))
    if history:
        lines += ["## History", "",
                  "Headline medians of every recorded run, with the commit they belong to "
                  "(`+changes`: the work tree had uncommitted changes).", "",
                  "| benchmark | size | commit | date | figures |", "| --- | --- | --- | --- | --- |"]
        for entry in history:
            figures = "; ".join(f"{label}: {_number(value)}" for label, value in entry["figures"].items())
            lines.append(f"| {entry['benchmark']} | {entry['size']} | `{entry['commit']}` | "
                         f"{entry['date']} | {figures} |")
        lines.append("")
    docs.mkdir(parents=True, exist_ok=True)
    page = docs / "benchmarks.md"
    page.write_text("\n".join(lines))
    return page
