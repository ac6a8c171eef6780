"""Parsers for the benchmarks: ``bench_db.json`` (the foundation) and ``bench.json`` (sustained webhook rate).

Targets come from the artefact itself (``targets_ms``, ``result.target``, ``limits``): the benchmark that
measured a figure also says what it was held to, so the report types no limit of its own here.

Usage::

    bench = parse_bench(Path("artefacts/audit-1"))
    [(f.operation, f.value, f.targets) for f in bench.figures]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.model import Bench, PerfFigure, Source, Target
from reports.parse_tests import guarded, read_json


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------- bench_db.json

_DB_FIGURES = (
    ("embedded_start_ms", "Embedded Postgres start", "embedded_start"),
    ("template_migration_ms", "Template database migration", "template_migration"),
    ("clone_ms", "Database clone per test", "clone"),
    ("drop_ms", "Database drop per test", "drop"),
)


def _bench_db(path: Path, source: Source) -> Bench:
    data = read_json(path, "targets_ms")
    targets = data.get("targets_ms") or {}
    figures = []
    for key, label, target_key in _DB_FIGURES:
        entry = data.get(key)
        if not isinstance(entry, dict) or _float(entry.get("median")) is None:
            continue
        limit = _float(targets.get(target_key))
        samples = entry.get("samples") or []
        figures.append(
            PerfFigure(
                operation=label,
                unit="ms",
                p50=_float(entry["median"]),
                targets=(Target("p50", limit, f"{source.path}: targets_ms.{target_key}"),) if limit else (),
                note=f"median of {len(samples)} runs",
            )
        )
    return Bench(source, tuple(figures))


def parse_bench_db(artefacts: Path) -> Bench:
    return guarded(artefacts, "bench_db", Bench, _bench_db)


# ------------------------------------------------------------------------------------------- bench.json


def _latency(name: str, m: dict[str, Any], p99_limit: float | None, path: str) -> PerfFigure:
    offered = _float(m.get("offered"))
    achieved = _float(m.get("achieved"))
    note = f"offered {offered:g}/s, achieved {achieved:g}/s" if offered and achieved is not None else ""
    if m.get("held") is not None:
        note += ("; " if note else "") + ("held" if m.get("held") else "not held")
    # The benchmark judges a step on its steady window (spawning and pool warm-up left out); the row shows the
    # same percentiles, or a held step could read "missed" on its first second. Older artefacts have only the
    # whole run's.
    steady = _float(m.get("steady_p99_ms")) is not None
    prefix = "steady_" if steady else ""
    if steady:
        note += f"; steady window, whole run p99 {_float(m.get('p99_ms')) or 0:g} ms"
    targets = (Target("p99", p99_limit, f"{path}: limits.p99_ms"),) if p99_limit else ()
    return PerfFigure(
        name,
        "ms",
        _float(m.get(f"{prefix}p50_ms")),
        _float(m.get(f"{prefix}p95_ms")),
        _float(m.get(f"{prefix}p99_ms")),
        targets=targets,
        note=note,
    )


def _lower_bound(data: dict[str, Any]) -> str:
    """Why the sustained rate is only a lower bound: the search's budget ended, or (an older artefact) no rate
    above it was tried."""
    ended = (data.get("search") or {}).get("outcome") == "budget_ended"
    return "budget ended" if ended else "no rate above it failed"


def _search_note(data: dict[str, Any]) -> str:
    """The search's bracket, as the benchmark recorded it."""
    found = data.get("search") or {}
    held, failed = _float(found.get("held")), _float(found.get("failed"))
    elapsed, budget = _float(found.get("elapsed_s")), _float((found.get("plan") or {}).get("budget_s"))
    spent = f" in {elapsed:g} s of a {budget:g} s budget" if elapsed and budget else ""
    if found.get("outcome") == "found" and held is not None and failed is not None:
        return f"search: held {held:g}/s, not held {failed:g}/s{spent}"
    if found.get("outcome") == "budget_ended":
        return f"search: no step failed{spent}; the limit lies above {held or 0:g}/s"
    if found.get("outcome") == "none_held":
        return f"search: no rate held, down to {failed or 0:g}/s"
    return ""


def _user_rate(data: dict[str, Any]) -> float | None:
    """Events/s per paced Locust user: ``user_rate`` in bench.json, or (older artefacts) a step's command line."""
    rate = _float(data.get("user_rate"))
    if rate is not None:
        return rate
    for step in data.get("steps") or ():
        command = step.get("command") or []
        if "--user-rate" in command[:-1]:
            return _float(command[command.index("--user-rate") + 1])
    return None


def _pacing_note(data: dict[str, Any]) -> str:
    """How the load was paced: the figure depends on it (load/README, "Issue 16, this round", and "Open-loop
    pacing"). An artefact without ``pacing`` is older than the open mode, so closed. Open runs carry the rate
    with ``open_users`` users per Locust process (older open runs: ``user_rate`` events/s per user)."""
    cap = data.get("max_in_flight")
    if data.get("pacing") == "open":
        users, rate = data.get("open_users"), _user_rate(data)
        split = (f"{users} Locust users per process sharing the rate" if users
                 else f"{rate:g} events/s per Locust user" if rate else "")
        return ("paced open-loop on a fixed schedule" + (f", {split}" if split else "")
                + f", latency from each scheduled instant{f', at most {cap} in flight per user' if cap else ''}")
    rate = _user_rate(data)
    return f"paced at {rate:g} events/s per Locust user, each waiting for its answer" if rate else ""


def _bench(path: Path, source: Source) -> Bench:
    data = read_json(path, "result", "limits")
    result = data.get("result") or {}
    target = result.get("target") or {}
    p99_limit = _float((data.get("limits") or {}).get("p99_ms"))
    figures: list[PerfFigure] = []
    sustained = _float(result.get("sustained_rate"))
    bound = _lower_bound(data) if result.get("sustained_is_lower_bound") else ""
    unconfirmed = bool(result.get("sustained_unconfirmed"))
    if sustained is not None:
        rate_target = _float(target.get("rate"))
        figures.append(
            PerfFigure(
                "Best short step, NOT confirmed by the audited hold" if unconfirmed
                else "Sustained signed-webhook rate (p99 and errors within limits)",
                "/s",
                value=sustained,
                targets=(Target("value", rate_target, f"{source.path}: result.target.rate", True),)
                if rate_target
                else (),
                note="; ".join(part for part in (
                    "no audited hold held at or below this rate" if unconfirmed else "",
                    _search_note(data), _pacing_note(data)) if part),
                lower_bound=bound,
            )
        )
    for step in data.get("steps") or ():
        figures.append(_latency(f"Webhook step {step.get('name', '')}", step, p99_limit, source.path))
    for hold in data.get("holds") or ([data["hold"]] if data.get("hold") else []):
        label = f"Webhook hold at {_float(hold.get('offered')) or 0:g}/s (audited)"
        figures.append(_latency(label, hold, p99_limit, source.path))
    for key, label in (
        ("core_ceiling", "Core ceiling, unpaced"),
        ("bare_asyncpg_ceiling", "Bare asyncpg ceiling, unpaced"),
        ("pgbench_tps", "pgbench, same SQL"),
    ):
        value = _float(result.get(key))
        if value is not None:
            figures.append(PerfFigure(label, "/s", value=value))
    # A capped search's ratio is only a lower bound; the artefact keeps it under its own key so that nothing
    # reads it as measured.
    ratio = _float(result.get("ratio_sustained_to_bare"))
    if ratio is None and bound:
        ratio = _float(result.get("ratio_sustained_to_bare_lower_bound"))
    if ratio is not None:
        limit = _float(target.get("ratio"))
        figures.append(
            PerfFigure(
                "Sustained rate ÷ bare asyncpg ceiling",
                "ratio",
                value=ratio,
                targets=(Target("value", limit, f"{source.path}: result.target.ratio", True),) if limit else (),
                lower_bound=bound,
            )
        )
    return Bench(source, tuple(figures))


def parse_bench(artefacts: Path) -> Bench:
    return guarded(artefacts, "bench", Bench, _bench)
