"""Parse the stall analyses a run left: ``load/stalls.json`` and any bench-load phase's ``stalls.json``.

load/stalls.py writes them (the seconds whose webhooks missed p99 or the offered rate, the episodes they
form, what the per-second samples and the core's GC counters showed then); this module only reads its
figures, it judges nothing again. The load run's file is one of the catalogue's artefacts (absent: not
measured); a bench phase's (``bench/<phase>/stalls.json``, beside ``bench.json``) is shown when it exists.

Usage::

    runs = parse_stalls(Path("artefacts/audit-1"))
    runs[0].status, [(e.first, e.last, e.kinds) for e in runs[0].episodes]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.model import SignalMedians, Source, StallEpisode, StallRun, source_for
from reports.parse_tests import PARSE_ERRORS, read_json

LOAD_LABEL = "load run"
PHASE_COMMAND = "payharness bench-load --artefacts DIR/bench (each paced phase's stalls.json)"


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return float(value)


def _episode(data: dict[str, Any]) -> StallEpisode:
    first, last = int(data["first"]), int(data["last"])
    seconds = data.get("seconds") or []
    sent = [int(s["load"]["sent"]) for s in seconds
            if first <= int(s["at"]) <= last and isinstance(s.get("load"), dict) and "sent" in s["load"]]
    kinds = sorted(((str(k), int(n)) for k, n in (data.get("kinds") or {}).items()), key=lambda kv: (-kv[1], kv[0]))
    return StallEpisode(
        first=first,
        last=last,
        worst_p99_ms=float(data["worst_p99_ms"]),
        lowest_sent=min(sent) if sent else None,
        span_seconds=len(seconds),
        kinds=tuple(kinds),
        suspects=tuple(str(s) for s in data.get("suspects") or ()),
    )


def stall_run(data: dict[str, Any], source: Source, label: str) -> StallRun:
    """One ``stalls.json`` as a ``StallRun``; a missing key or a wrong type raises (the file is unreadable)."""
    compare = tuple(SignalMedians(str(c["signal"]), _float(c.get("missed")), _float(c.get("good")))
                    for c in data.get("compare") or ())
    return StallRun(
        source=source,
        label=label,
        rate=float(data["rate"]),
        p99_limit_ms=float(data["p99_limit_ms"]),
        share=float(data["share"]),
        trim_start=None if data.get("trim_start") is None else int(data["trim_start"]),
        trim_end=None if data.get("trim_end") is None else int(data["trim_end"]),
        seconds=int(data["seconds"]),
        sampled_seconds=int(data.get("sampled_seconds") or 0),
        gc_seconds=int(data.get("gc_seconds") or 0),
        missed=tuple(int(s) for s in data["missed"]),
        episodes=tuple(_episode(e) for e in data.get("episodes") or ()),
        compare=compare,
    )


def _read(path: Path, source: Source, label: str) -> StallRun:
    try:
        return stall_run(read_json(path), source, label)
    except PARSE_ERRORS as exc:
        return StallRun(source.failed(f"{type(exc).__name__}: {exc}"), label)


def _phase_order(path: Path) -> tuple[str, int, float, str]:
    """Holds first (the figure to trust), then the search's steps, each by rate: ``hold-520`` before ``step-250``."""
    kind, _, rate = path.parent.name.rpartition("-")
    try:
        number = float(rate)
    except ValueError:
        number = 0.0
    return (path.parent.parent.as_posix(), {"hold": 0, "step": 1}.get(kind, 2), number, path.parent.name)


def parse_stalls(artefacts: Path) -> tuple[StallRun, ...]:
    """The load run's analysis (always first, absent or not), then each bench phase's, by folder name."""
    source = source_for(artefacts, "load_stalls")
    runs = [_read(artefacts / source.path, source, LOAD_LABEL) if source.present else StallRun(source, LOAD_LABEL)]
    # Phases sit beside bench.json: in bench/ (as the audit writes it) or at the top (bench.json there).
    for path in sorted({*artefacts.glob("*/stalls.json"), *artefacts.glob("bench/*/stalls.json")}, key=_phase_order):
        relative = path.relative_to(artefacts).as_posix()
        if relative == source.path:
            continue
        phase = Source("bench_stalls", relative, PHASE_COMMAND, True)
        runs.append(_read(path, phase, f"bench-load {path.parent.name}"))
    return tuple(runs)
