"""Charts as PNG bytes (matplotlib, Agg canvas, no pyplot state): each names the artefacts it was drawn from.

A chart whose data is absent is not drawn: the page shows "not measured" and the command instead.

Usage::

    for chart in draw_all(report_data):
        chart.id, chart.title, len(chart.png), [s.path for s in chart.sources]
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports.analyse import ReportData
from reports.model import Source

COLOURS = {
    "p50": "#2b8cbe",
    "p95": "#f0a30a",
    "p99": "#d7301f",
    "rps": "#2b8cbe",
    "fps": "#d7301f",
    "line": "#2b8cbe",
    "branch": "#74a9cf",
}


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    alt: str
    sources: tuple[Source, ...]
    png: bytes | None  # None: not measured


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _figure(height: float = 3.2) -> Figure:
    return Figure(figsize=(8.0, height), layout="constrained")


def latency_over_time(data: ReportData) -> bytes | None:
    points = data.history.points
    if not points:
        return None
    start = points[0].timestamp
    fig = _figure()
    ax = fig.add_subplot()
    for key in ("p50", "p95", "p99"):
        pairs = [(p.timestamp - start, getattr(p, f"{key}_ms")) for p in points]
        kept = [(x, y) for x, y in pairs if y is not None]
        ax.plot([x for x, _ in kept], [y for _, y in kept], label=key, color=COLOURS[key], linewidth=1.6)
    ax.set_xlabel("seconds into the load run")
    ax.set_ylabel("response time (ms), all requests")
    ax.legend(loc="upper right", frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def throughput(data: ReportData) -> bytes | None:
    points = data.history.points
    if not points:
        return None
    start = points[0].timestamp
    fig = _figure()
    ax = fig.add_subplot()
    xs = [p.timestamp - start for p in points]
    ax.plot(xs, [p.rps for p in points], label="requests/s", color=COLOURS["rps"], linewidth=1.6)
    ax.plot(xs, [p.fps for p in points], label="failures/s", color=COLOURS["fps"], linewidth=1.2)
    ax.set_xlabel("seconds into the load run")
    ax.set_ylabel("per second, all requests")
    ax.legend(loc="upper right", frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def coverage_per_component(data: ReportData) -> bytes | None:
    comps = [c for c in data.coverage.components if c.counts.statements]
    if not comps:
        return None
    fig = _figure(0.5 + 0.45 * len(comps))
    ax = fig.add_subplot()
    ys = range(len(comps))
    lines = [c.counts.line_pct or 0.0 for c in comps]
    branches = [c.counts.branch_pct or 0.0 for c in comps]
    ax.barh([y + 0.2 for y in ys], lines, height=0.38, label="line %", color=COLOURS["line"])
    ax.barh([y - 0.2 for y in ys], branches, height=0.38, label="branch %", color=COLOURS["branch"])
    ax.set_yticks(list(ys), [c.component for c in comps])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% covered (coverage.py, all core worker processes)")
    ax.legend(loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def detection_matrix(data: ReportData) -> bytes | None:
    defects = data.defects.defects
    if not defects:
        return None
    modules = sorted({t.split("::", 1)[0] for d in defects for t in d.failed_tests})
    grid = [[sum(1 for t in d.failed_tests if t.split("::", 1)[0] == m) for m in modules] for d in defects]
    fig = _figure(1.2 + 0.32 * len(defects) + 0.09 * max((len(m) for m in modules), default=0))
    ax = fig.add_subplot()
    if modules:
        top = max(max(row) for row in grid) or 1
        ax.imshow(grid, cmap="Reds", aspect="auto", vmin=0, vmax=top)
        for y, row in enumerate(grid):
            for x, n in enumerate(row):
                if n:
                    ax.text(
                        x, y, str(n), ha="center", va="center", fontsize=7, color="white" if n > top / 2 else "black"
                    )
        ax.set_xticks(
            range(len(modules)),
            [m.rsplit("/", 1)[-1].removesuffix(".py") for m in modules],
            rotation=60,
            ha="right",
            fontsize=7,
        )
    else:
        ax.set_xticks([])
    ax.set_yticks(range(len(defects)), [d.name + ("" if d.detected else "  (NOT CAUGHT)") for d in defects], fontsize=8)
    for label, d in zip(ax.get_yticklabels(), defects, strict=True):
        if not d.detected:
            label.set_color("#d7301f")
    ax.set_title("failing tests per seeded defect and test module", fontsize=9)
    return _png(fig)


def draw_all(data: ReportData) -> tuple[Chart, ...]:
    """The four charts, in page order; ``png`` is None where the artefact was not measured."""
    history, coverage, defects = data.history.source, data.coverage.source, data.defects.source
    specs: tuple[tuple[str, str, str, tuple[Source, ...], Callable[[ReportData], bytes | None]], ...] = (
        (
            "latency",
            "Latency over time",
            "p50, p95 and p99 response time per second of the load run",
            (history,),
            latency_over_time,
        ),
        ("throughput", "Throughput", "requests and failures per second during the load run", (history,), throughput),
        (
            "coverage",
            "Coverage per component",
            "line and branch coverage of each core component",
            (coverage,),
            coverage_per_component,
        ),
        (
            "detection",
            "Detection matrix",
            "failing tests per seeded defect and test module",
            (defects,),
            detection_matrix,
        ),
    )
    return tuple(Chart(cid, title, alt, sources, draw(data)) for cid, title, alt, sources, draw in specs)
