"""Parsers for what was measured: coverage.json, the load artefacts and run.json (pure).

Same contract as ``reports.parse_tests``: absent → empty block with ``source.present`` false; unreadable
→ empty block with ``source.error``; nothing is ever filled in by guess.

Usage::

    cov = parse_coverage(Path("artefacts/audit-1"))
    [(c.component, c.counts.line_pct, c.counts.branch_pct) for c in cov.components]
"""

from __future__ import annotations

import csv
import math
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from reports.model import (
    Anomaly,
    ComponentCoverage,
    Counts,
    Coverage,
    FailureRow,
    FileCoverage,
    HistoryPoint,
    LatencyRow,
    LoadAudit,
    LoadFailures,
    LoadHistory,
    LoadStats,
    RunInfo,
    RunStep,
    Source,
)
from reports.parse_tests import guarded, read_json

# First match wins; what matches nothing lands in the last component, so the per-component sums add up
# to coverage.py's own total.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PayU client", ("core/gateways/payu*.py", "core/signing/payu.py")),
    ("Wompi client", ("core/gateways/wompi*.py", "core/signing/wompi.py")),
    ("Efecty client", ("core/gateways/efecty.py", "core/gateways/asobancaria.py")),
    ("Gateway plumbing", ("core/gateways/_http.py", "core/gateways/resilience.py", "core/gateways/errors.py")),
    ("Webhook processing", ("core/webhooks/*", "core/payments/*")),
    (
        "API",
        (
            "core/api/*",
            "core/auth.py",
            "core/ratelimit.py",
            "core/middleware.py",
            "core/errors.py",
            "core/efecty_codes.py",
            "core/reconcile.py",
        ),
    ),
    ("Database layer", ("core/db/*",)),
)
OTHER = "Other core modules"


def component_of(path: str) -> str:
    normal = path.replace("\\", "/").removeprefix("./")
    for name, patterns in COMPONENTS:
        if any(fnmatch(normal, p) for p in patterns):
            return name
    return OTHER


def _counts(summary: dict[str, Any]) -> Counts:
    return Counts(
        statements=int(summary.get("num_statements", 0)),
        covered_lines=int(summary.get("covered_lines", 0)),
        branches=int(summary.get("num_branches", 0)),
        covered_branches=int(summary.get("covered_branches", 0)),
    )


def _coverage(path: Path, source: Source) -> Coverage:
    files = read_json(path)["files"]
    grouped: dict[str, tuple[Counts, list[FileCoverage]]] = {}
    for name, entry in sorted(files.items()):
        component, counts = component_of(name), _counts(entry["summary"])
        total, members = grouped.get(component, (Counts(), []))
        grouped[component] = (total + counts, [*members, FileCoverage(name, counts)])
    order = [name for name, _ in COMPONENTS] + [OTHER]
    components = tuple(
        ComponentCoverage(name, grouped[name][0], tuple(grouped[name][1])) for name in order if name in grouped
    )
    total = sum((c.counts for c in components), Counts())
    return Coverage(source, components, total)


def parse_coverage(artefacts: Path) -> Coverage:
    return guarded(artefacts, "coverage", Coverage, _coverage)


# ------------------------------------------------------------------------------------------- load


def _number(value: str | None) -> float | None:
    """Locust writes N/A for percentiles it has no sample for; that stays None, never 0."""
    if value is None or value.strip() in ("", "N/A"):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _rows(path: Path, *required: str) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"not a Locust CSV: no column {', '.join(missing)}")
        return list(reader)


def _stats(path: Path, source: Source) -> LoadStats:
    rows = tuple(
        LatencyRow(
            method=r.get("Type") or "",
            name=r["Name"],
            requests=int(r["Request Count"]),
            failures=int(r["Failure Count"]),
            p50_ms=_number(r.get("50%")),
            p95_ms=_number(r.get("95%")),
            p99_ms=_number(r.get("99%")),
            rps=_number(r.get("Requests/s")) or 0.0,
        )
        for r in _rows(path, "Name", "Request Count", "Failure Count")
    )
    if not any(r.name == "Aggregated" for r in rows):  # Locust writes it last: without it the file was cut short
        raise ValueError("no Aggregated row: the file was cut short")
    return LoadStats(source, rows)


def _history(path: Path, source: Source) -> LoadHistory:
    points = tuple(
        HistoryPoint(
            timestamp=int(r["Timestamp"]),
            users=int(r.get("User Count") or 0),
            rps=_number(r.get("Requests/s")) or 0.0,
            fps=_number(r.get("Failures/s")) or 0.0,
            p50_ms=_number(r.get("50%")),
            p95_ms=_number(r.get("95%")),
            p99_ms=_number(r.get("99%")),
        )
        for r in _rows(path, "Timestamp", "Name", "Requests/s")
        if r.get("Name") == "Aggregated"
    )
    return LoadHistory(source, points)


def _failures(path: Path, source: Source) -> LoadFailures:
    rows = tuple(
        FailureRow(r.get("Method") or "", r.get("Name") or "", r.get("Error") or "", int(r.get("Occurrences") or 0))
        for r in _rows(path, "Name", "Error", "Occurrences")
    )
    return LoadFailures(source, rows)


def _load_audit(path: Path, source: Source) -> LoadAudit:
    data = read_json(path)
    t = data.get("thresholds") or {}
    audit = data.get("audit")
    anomalies: tuple[Anomaly, ...] = ()
    stats: dict[str, Any] = {}
    if audit:
        examples = audit.get("anomalies") or {}
        anomalies = tuple(
            Anomaly(kind, int(n), tuple(f"{e.get('subject')}: {e.get('detail')}" for e in examples.get(kind, ())[:5]))
            for kind, n in sorted((audit.get("anomaly_counts") or {}).items())
        )
        stats = audit.get("stats") or {}
    scalars = tuple((k, int(v)) for k, v in stats.items() if isinstance(v, int) and not isinstance(v, bool))
    model = stats.get("model") or {}
    scalars += tuple((f"model {k}", int(v)) for k, v in model.items() if isinstance(v, int))
    return LoadAudit(
        source,
        audited=bool(audit),
        ok=bool(audit.get("ok")) and not anomalies if audit else False,
        anomalies=anomalies,
        stats=scalars,
        by_role=tuple((str(k), int(v)) for k, v in (stats.get("by_role") or {}).items()),
        by_code=tuple((str(k), int(v)) for k, v in (stats.get("by_code") or {}).items()),
        requests=int(t.get("requests", 0)),
        failures=int(t.get("failures", 0)),
        error_ratio=float(t.get("error_ratio", 0.0)),
        p50_ms=_number(str(t["p50_ms"])) if "p50_ms" in t else None,
        p95_ms=_number(str(t["p95_ms"])) if "p95_ms" in t else None,
        p99_ms=_number(str(t["p99_ms"])) if "p99_ms" in t else None,
        breaches=tuple(str(b) for b in t.get("breaches", ())),
        rate=float(data["rate"]) if data.get("rate") is not None else None,
        mix=str(data.get("mix") or ""),
    )


def parse_load(artefacts: Path) -> tuple[LoadAudit, LoadStats, LoadHistory, LoadFailures]:
    return (
        guarded(artefacts, "load_audit", LoadAudit, _load_audit),
        guarded(artefacts, "load_stats", LoadStats, _stats),
        guarded(artefacts, "load_history", LoadHistory, _history),
        guarded(artefacts, "load_failures", LoadFailures, _failures),
    )


# ------------------------------------------------------------------------------------------- the run


def _run(path: Path, source: Source) -> RunInfo:
    data = read_json(path, "started_at", "steps")
    steps = tuple(
        RunStep(
            name=str(s["name"]),
            command=" ".join(s["command"]) if isinstance(s.get("command"), list) else str(s.get("command", "")),
            exit_code=None if s.get("exit_code") is None else int(s["exit_code"]),
            duration_s=float(s.get("duration_s") or 0.0),
            artefacts=tuple(str(a) for a in s.get("artefacts", ())),
        )
        for s in data.get("steps", ())
    )
    machine = tuple((str(k), str(v)) for k, v in (data.get("machine") or {}).items())
    return RunInfo(
        source,
        started_at=str(data.get("started_at", "")),
        finished_at=str(data.get("finished_at", "")),
        duration_s=float(data["duration_s"]) if data.get("duration_s") is not None else None,
        git_commit=str(data.get("git_commit") or ""),
        quick=bool(data.get("quick", False)),
        machine=machine,
        steps=steps,
        target=str((data.get("target") or {}).get("name", "")),
    )


def parse_run(artefacts: Path) -> RunInfo:
    return guarded(artefacts, "run", RunInfo, _run)
