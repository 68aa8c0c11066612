"""The HTML report of one run: DIR/index.html with its charts embedded (and also saved as DIR/*.png).

Curves are drawn log-log, one line per library; the transfer figures as bars. Without matplotlib (the
`bench` extra) the page has the tables only.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

COLOURS = {"ours": "#1f77b4", "minio-sdk": "#ff7f0e", "django-storages": "#2ca02c", "previous 4.4.4": "#d62728"}
OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _colour(library: str, index: int) -> str:
    """Each library keeps its colour in every chart; variants of ours (\"ours, ...\") and others get the rest."""
    return COLOURS.get(library) or OTHER_COLOURS[index % len(OTHER_COLOURS)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _spread(spread: list[float] | None) -> str:
    """The lowest and highest of the runs a median was taken from."""
    return "" if not spread else f" ({_number(spread[0])}..{_number(spread[1])})"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _table(head: Iterable[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _charts(document: dict[str, Any], directory: Path) -> dict[str, list[tuple[str, str]]]:
    """Per topic: (title, PNG as base64) of each curve and of the transfer bars; empty without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    charts: dict[str, list[tuple[str, str]]] = {}

    def save(topic: str, title: str, figure: Any) -> None:
        buffer = io.BytesIO()
        figure.tight_layout()
        figure.savefig(buffer, format="png", dpi=110)
        plt.close(figure)
        (directory / f"{_slug(topic + '-' + title)}.png").write_bytes(buffer.getvalue())
        charts.setdefault(topic, []).append((title, base64.b64encode(buffer.getvalue()).decode("ascii")))

    for curve in document["curves"]:
        figure, axes = plt.subplots(figsize=(6.4, 4.2))
        for index, (library, points) in enumerate(curve["series"].items()):
            drawn = sorted((x, y) for x, y in points if x > 0 and y > 0)
            if not drawn:
                continue
            slope = curve["growth"][library]["tail_slope"]
            label = f"{library} (slope {slope:.2f})" if slope is not None else library
            axes.plot(
                [x for x, _ in drawn],
                [y for _, y in drawn],
                marker="o",
                label=label,
                color=_colour(library, index),
                linewidth=2.5 if library.startswith("ours") else 1.5,
            )
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel(curve["x_label"])
        unit = curve["y_unit"]
        axes.set_ylabel(curve["y_label"] if unit in ("requests", curve["y_label"]) else f"{curve['y_label']} ({unit})")
        axes.set_title(curve["name"])
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
        save(curve["topic"], curve["name"], figure)

    transfer = [fig for fig in document["figures"] if fig["topic"] == "transfer"]
    for metric in ("throughput", "CPU"):
        chosen = [fig for fig in transfer if fig["metric"] == metric]
        if not chosen:
            continue
        cases = list(dict.fromkeys(fig["case"] for fig in chosen))
        libraries = list(dict.fromkeys(fig["library"] for fig in chosen))
        values = {(fig["case"], fig["library"]): fig["value"] for fig in chosen}
        figure, axes = plt.subplots(figsize=(9, 4.2))
        width = 0.8 / len(libraries)
        for offset, library in enumerate(libraries):
            xs = [index + offset * width for index in range(len(cases))]
            axes.bar(
                xs,
                [values.get((case, library), 0) for case in cases],
                width,
                label=library,
                color=_colour(library, offset),
            )
        axes.set_xticks(
            [index + 0.4 - width / 2 for index in range(len(cases))], cases, rotation=45, ha="right", fontsize=7
        )
        axes.set_yscale("log")
        axes.set_ylabel(f"{metric} ({chosen[0]['unit']})")
        axes.set_title(f"transfer: {metric}")
        axes.legend(fontsize=8)
        save("transfer", f"{metric} by case", figure)
    return charts


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
td:first-child, th:first-child, td:nth-child(2) { text-align: left; }
th { background: #f3f3f3; }
.bad { color: #b00; font-weight: bold; }
img { max-width: 100%; margin: 0.5em 0; }
"""


def write_report(document: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    charts = _charts(document, directory)
    machine = document["machine"]
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>django-minio-backend benchmarks</title><style>{STYLE}</style>",
        "<h1>django-minio-backend benchmarks</h1>",
        f"<p>{html.escape(' '.join(document['command']))}, started {document['started']}, "
        f"{document['seconds']} s{' (quick: sizes too small for figures)' if document['quick'] else ''}.</p>",
        _table(
            ("machine", ""),
            [
                ("CPU", f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB"),
                ("OS, Python", f"{machine['os']}, Python {machine['python']}"),
                ("server", machine["server"] or "?"),
                ("previous release", machine.get("previous_release", "?")),
                ("commit", f"{machine['git_commit']}{' (with local changes)' if machine['git_dirty'] else ''}"),
                ("load average (1, 5, 15 min) at start", " ".join(f"{load:.2f}" for load in machine["load_average"])),
                ("... at the end", " ".join(f"{load:.2f}" for load in machine.get("load_average_at_end", []))),
                *((name, version) for name, version in machine["libraries"].items() if version),
            ],
        ),
    ]
    if not charts:
        parts.append("<p>No charts: matplotlib is not installed (pip install -e '.[bench]').</p>")
    if document["checks"]:
        parts.append("<h2>Targets</h2>")
        rows = [
            (
                check["topic"],
                check["name"],
                _number(check["value"]) + _spread(check.get("spread")),
                check["target"],
                "met" if check["met"] else "NOT MET",
            )
            for check in document["checks"]
        ]
        parts.append(_table(("topic", "target", "measured", "wanted", ""), rows))
    ratios = {(r["topic"], r["case"], r["metric"], r["peer"]): r["ratio"] for r in document["ratios"]}
    for topic, outcome in document["topics"].items():
        parts.append(f"<h2>{html.escape(topic)}</h2><p>{outcome['seconds']} s</p>")
        if outcome["error"]:
            parts.append(f"<pre class='bad'>{html.escape(outcome['error'])}</pre>")
        figures = [fig for fig in document["figures"] if fig["topic"] == topic]
        if figures:
            figure_rows = [
                (
                    fig["case"],
                    fig["library"],
                    fig["metric"],
                    _number(fig["value"]) + _spread(fig.get("spread")),
                    fig["unit"],
                    _number(ratios.get((topic, fig["case"], fig["metric"], fig["library"]))),
                    fig["better"],
                )
                for fig in figures
            ]
            parts.append(_table(("case", "library", "metric", "value", "unit", "ours / this", "better"), figure_rows))
        curves = [curve for curve in document["curves"] if curve["topic"] == topic]
        for curve in curves:
            growths = [(library, found["text"]) for library, found in curve["growth"].items()]
            parts.append(f"<h3>{html.escape(curve['name'])}</h3>" + _table(("library", "growth"), growths))
        for title, data in charts.get(topic, []):
            parts.append(f"<img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>")
        notes = [note["text"] for note in document["notes"] if note["topic"] == topic]
        if notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(text)}</li>" for text in notes) + "</ul>")
    page = directory / "index.html"
    page.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return page
