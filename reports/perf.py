"""The performance table: measured percentiles from the load and benchmark artefacts, each against its target.

Rows come from ``load/audit.json`` (webhook percentiles over the whole run), ``load/locust_stats.csv`` (one
row per request name), ``bench_db.json`` and ``bench.json``. Load targets come from ``targets.toml`` (with
their basis); benchmark targets from the benchmark's own artefact. Status: *met* when every target of the
row holds, *missed* when one does not, *no target* when none applies, *not measured* when the figure a
target needs is absent, *lower bound* when the figure is only a lower bound (a benchmark whose budget ended
before its limit was found) that cannot settle its target: neither met nor missed, and not scored.

Usage::

    rows = performance_rows(collect(folder))
    [(r.figure.operation, r.figure.p99, r.status) for r in rows]
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.model import Artefacts, PerfFigure, Source, Target

TARGETS_FILE = Path(__file__).resolve().parent / "targets.toml"


@dataclass(frozen=True)
class PerfRow:
    figure: PerfFigure
    status: str  # met | missed | lower bound | no target | not measured
    source: Source
    missed: tuple[str, ...] = ()  # "p99 350 ms > 250 ms", one per broken target


def load_targets(path: Path = TARGETS_FILE) -> list[dict[str, Any]]:
    return list(tomllib.loads(path.read_text(encoding="utf-8")).get("target", ()))


def _targets_for(targets: list[dict[str, Any]], artefact: str, name: str = "") -> tuple[Target, ...]:
    found = []
    for t in targets:
        if t.get("artefact") != artefact:
            continue
        if t.get("match") and not re.search(str(t["match"]), name):
            continue
        basis = f"{TARGETS_FILE.name}: {t.get('basis', '')}"
        found.append(Target(str(t["on"]), float(t["limit_ms"]), basis))
    return tuple(found)


def _fmt(value: float, unit: str) -> str:
    return f"{value:g} ms" if unit == "ms" else f"{value:g}{unit}" if unit == "/s" else f"{value:g}"


def _decided(figure: PerfFigure, target: Target, measured: float) -> bool:
    """Whether ``measured`` settles ``target``: a lower bound proves a "≥" target met and a "≤" target missed,
    and says nothing otherwise (the true value may lie on either side of the limit)."""
    if not (figure.lower_bound and target.on == "value"):
        return True
    return target.met(measured) == target.higher_is_better


def judge(figure: PerfFigure, source: Source) -> PerfRow:
    if not figure.targets:
        return PerfRow(figure, "no target", source)
    missed = []
    undecided = False
    for target in figure.targets:
        measured = figure.measured(target.on)
        if measured is None:
            return PerfRow(figure, "not measured", source)
        if not _decided(figure, target, measured):
            undecided = True
        elif not target.met(measured):
            sign = "<" if target.higher_is_better else ">"
            label = "" if target.on == "value" else f"{target.on} "
            missed.append(f"{label}{_fmt(measured, figure.unit)} {sign} {_fmt(target.limit, figure.unit)}")
    status = "missed" if missed else "lower bound" if undecided else "met"
    return PerfRow(figure, status, source, tuple(missed))


def _load_rows(a: Artefacts, targets: list[dict[str, Any]]) -> list[PerfRow]:
    rows = []
    audit = a.load_audit
    if audit.source.usable and audit.requests:
        figure = PerfFigure(
            "Webhook requests, all (load run)",
            "ms",
            audit.p50_ms,
            audit.p95_ms,
            audit.p99_ms,
            targets=_targets_for(targets, "load_audit"),
            note=f"{audit.requests} requests, {audit.failures} failed"
            + (f", {audit.rate:g}/s offered" if audit.rate else ""),
        )
        rows.append(judge(figure, audit.source))
    for stat in a.load_stats.rows:
        if stat.name == "Aggregated" or not stat.requests:
            continue
        figure = PerfFigure(
            f"{stat.method} {stat.name}".strip(),
            "ms",
            stat.p50_ms,
            stat.p95_ms,
            stat.p99_ms,
            targets=_targets_for(targets, "load_stats", stat.name),
            note=f"{stat.requests} requests, {stat.failures} failed, {stat.rps:.1f}/s",
        )
        rows.append(judge(figure, a.load_stats.source))
    return rows


def performance_rows(a: Artefacts, targets: list[dict[str, Any]] | None = None) -> tuple[PerfRow, ...]:
    targets = load_targets() if targets is None else targets
    rows = _load_rows(a, targets)
    for bench in (a.bench, a.bench_db):
        rows.extend(judge(f, bench.source) for f in bench.figures)
    return tuple(rows)
