"""What every topic reports, in one shape: figures, curves, checks and notes, gathered for the table
printed after each topic, the JSON file and the HTML report.

A figure is one measured value of one library in one case ("upload 2 x 64 MiB", "throughput", "ours",
812.3 "MB/s"); a figure taken from several runs (the median) keeps their lowest and highest as `spread`.
Peers measured in the same case give ratios ours / peer, which read against `better`:
for "higher" figures a ratio above 1 is ours ahead, for "lower" ones below 1 is.
A curve is a cost against the size of the work, one series per library, plotted log-log; its growth is
the slope of log(cost) against log(size): 1 is linear, 0 flat, above 1 worse than linear.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

OURS = "ours"
Better = Literal["higher", "lower", ""]
WORSE_THAN_LINEAR = 1.15  # slope above which a curve is flagged (timing noise moves slopes by a few hundredths)


@dataclass(frozen=True)
class Figure:
    topic: str
    case: str
    metric: str
    library: str
    value: float
    unit: str
    better: Better = ""
    spread: tuple[float, float] | None = None  # lowest and highest of the runs `value` is the median of

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.topic, self.case, self.metric, self.library)


@dataclass
class Curve:
    topic: str
    name: str
    x_label: str
    y_label: str
    y_unit: str
    per: str = ""  # what x counts ("files", "names"): growth is also said as y per 1,000 of them
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, library: str, x: float, y: float) -> None:
        self.series.setdefault(library, []).append((x, y))

    def growth(self) -> dict[str, dict[str, Any]]:
        return {library: growth(points, self.y_unit, self.per) for library, points in self.series.items()}


@dataclass(frozen=True)
class Check:
    """A target from the issues, with the measured value and whether it is met in this run."""

    topic: str
    name: str
    value: float
    target: str  # e.g. "<= 0.7"
    met: bool
    spread: tuple[float, float] | None = None  # lowest and highest of the runs `value` is the median of


def _fit(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def growth(points: Sequence[tuple[float, float]], unit: str = "", per: str = "") -> dict[str, Any]:
    """Slope over all points and over the upper half (where fixed costs no longer hide the growth), and a
    sentence; flagged when the upper slope is worse than linear."""
    usable = sorted((x, y) for x, y in points if x > 0 and y > 0)
    if len({x for x, _ in usable}) < 2:
        return {"slope": None, "tail_slope": None, "worse_than_linear": False, "text": "too few points"}
    slope = _fit(usable)
    tail = _fit(usable[(len(usable) - 1) // 2 :])
    worse = tail > WORSE_THAN_LINEAR
    if tail < 0.2:
        shape = "flat"
    elif tail < 0.8:
        shape = "sublinear"
    elif tail <= WORSE_THAN_LINEAR:
        shape = "linear"
    else:
        shape = "WORSE THAN LINEAR"
    text = f"{shape} (slope {slope:.2f} overall, {tail:.2f} over the upper half)"
    if per:
        x_max, y_max = usable[-1]
        text += f"; {_amount(y_max / x_max * 1000)} {unit} per 1,000 {per} at {x_max:,.0f}"
    return {"slope": round(slope, 3), "tail_slope": round(tail, 3), "worse_than_linear": worse, "text": text}


def _amount(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def _range(spread: tuple[float, float] | None) -> str:
    return "" if spread is None else f" ({_amount(spread[0])}..{_amount(spread[1])})"


class Results:
    """Everything measured in one run."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.curves: list[Curve] = []
        self.checks: list[Check] = []
        self.notes: list[tuple[str, str]] = []

    def add(
        self,
        topic: str,
        case: str,
        metric: str,
        library: str,
        value: float,
        unit: str,
        better: Better = "",
        spread: tuple[float, float] | None = None,
    ) -> Figure:
        figure = Figure(topic, case, metric, library, float(value), unit, better, spread)
        self.figures = [known for known in self.figures if known.key != figure.key]
        self.figures.append(figure)
        return figure

    def curve(self, topic: str, name: str, x_label: str, y_label: str, y_unit: str, per: str = "") -> Curve:
        for known in self.curves:
            if (known.topic, known.name) == (topic, name):
                return known
        made = Curve(topic, name, x_label, y_label, y_unit, per)
        self.curves.append(made)
        return made

    def check(
        self, topic: str, name: str, value: float, target: str, spread: tuple[float, float] | None = None
    ) -> Check:
        """`target` is "<= N" or ">= N"; `value` is met against it (with several runs: their median)."""
        operator, bound = target.split()
        met = value <= float(bound) if operator == "<=" else value >= float(bound)
        made = Check(topic, name, value, target, met, spread)
        self.checks.append(made)
        return made

    def note(self, topic: str, text: str) -> None:
        self.notes.append((topic, text))

    def ratios(self, topic: str | None = None) -> list[dict[str, Any]]:
        """ours / peer for every figure a peer has in a case and metric where ours has one."""
        ours = {fig.key[:3]: fig for fig in self.figures if fig.library == OURS}
        found = []
        for fig in self.figures:
            mine = ours.get(fig.key[:3])
            if fig.library == OURS or mine is None or (topic is not None and fig.topic != topic):
                continue
            found.append(
                {
                    "topic": fig.topic,
                    "case": fig.case,
                    "metric": fig.metric,
                    "peer": fig.library,
                    "ours": mine.value,
                    "peer_value": fig.value,
                    "unit": fig.unit,
                    "better": fig.better,
                    "ratio": mine.value / fig.value if fig.value else None,
                }
            )
        return found

    def to_json(self, **meta: Any) -> dict[str, Any]:
        return {
            **meta,
            "figures": [asdict(fig) for fig in self.figures],
            "ratios": self.ratios(),
            "curves": [{**asdict(curve), "growth": curve.growth()} for curve in self.curves],
            "checks": [asdict(check) for check in self.checks],
            "notes": [{"topic": topic, "text": text} for topic, text in self.notes],
        }

    # -- the table printed after each topic ------------------------------------------------------
    def lines(self, topic: str) -> Iterable[str]:
        figures = [fig for fig in self.figures if fig.topic == topic]
        cases: dict[str, list[Figure]] = {}
        for fig in figures:
            cases.setdefault(fig.case, []).append(fig)
        ratios = {(r["case"], r["metric"], r["peer"]): r["ratio"] for r in self.ratios(topic)}
        for case, found in cases.items():
            metrics = list(dict.fromkeys((fig.metric, fig.unit) for fig in found))
            libraries = list(dict.fromkeys(fig.library for fig in found))
            by_key = {(fig.library, fig.metric): fig for fig in found}
            heads = [f"{metric} ({unit})" for metric, unit in metrics]
            widths = [max(len(head), 30 if any(fig.spread for fig in found) else 16) for head in heads]
            yield ""
            yield f"{case:42} " + " ".join(f"{head:>{width}}" for head, width in zip(heads, widths, strict=True))
            for library in libraries:
                cells = []
                for (metric, _), width in zip(metrics, widths, strict=True):
                    shown = by_key.get((library, metric))
                    ratio = ratios.get((case, metric, library))
                    text = "-" if shown is None else _amount(shown.value) + _range(shown.spread)
                    if ratio is not None:
                        text += f" [{ratio:.2f}x]"
                    cells.append(f"{text:>{width}}")
                yield f"  {library:40} " + " ".join(cells)
        if any(r for r in ratios.values()):
            yield "  [ratio] = ours / that library, in the column's unit; (low..high) = the spread over the runs"
        for curve in (curve for curve in self.curves if curve.topic == topic):
            yield ""
            yield f"curve: {curve.name} ({curve.y_label}, {curve.y_unit} against {curve.x_label})"
            for library, points in curve.series.items():
                listed = ", ".join(f"{x:,.0f}: {_amount(y)}" for x, y in sorted(points))
                yield f"  {library:24} {listed}"
                yield f"  {'':24} growth: {growth(points, curve.y_unit, curve.per)['text']}"
        for check in (check for check in self.checks if check.topic == topic):
            verdict = "met" if check.met else "NOT MET"
            shown = _amount(check.value) + _range(check.spread)
            yield f"target: {check.name}: {shown} (target {check.target}): {verdict}"
        for note_topic, text in self.notes:
            if note_topic == topic:
                yield f"note: {text}"
