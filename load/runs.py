"""One row per ``payharness load`` run folder, and how many of them passed — the acceptance table, from artefacts.

The issue's acceptance is "20 runs out of 20"; a reader must be able to re-derive each row from the run's own
files, so nothing here is measured: ``audit.json`` (thresholds and the consistency audit), ``run.json`` (the
exit code), ``stalls.json`` (missed seconds) and ``samples.jsonl`` (other jobs' cores, the machine's load).

A run *passed* only when all of these hold: its exit code was 0, its thresholds held, its audit was clean and,
with ``--crash-postgres-at``, a webhook got a 200 from the restarted server after each crash. A folder without
``audit.json`` or ``run.json`` (a run that crashed, was interrupted or never ran), or whose ``run.json`` lacks a
fault it asked for (a Postgres crash that failed or never came, a core restart or a kill of the database sessions
that never ran), is *inconclusive*, never a pass, and the count says so.

Usage::

    for i in $(seq -w 1 20); do payharness load --rate 500 --duration 60 --mix dup=0.10,ooo=0.05,invalid=0.02 \\
        --artefacts artefacts/acceptance/run-$i; done
    python -m load.runs artefacts/acceptance/run-*
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = ("| run | requests | p50 / p95 / p99 ms | audit | missed s | other jobs' cores (median) | load1 | exit |\n"
          "|---|---|---|---|---|---|---|---|")


@dataclass(frozen=True)
class RunRow:
    name: str
    verdict: str  # "passed" | "failed" | "inconclusive"
    text: str  # the table row


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _machine_medians(path: Path) -> tuple[float | None, float | None]:
    others: list[float] = []
    load1: list[float] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None, None
    for line in lines:
        try:
            machine = json.loads(line).get("machine") or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(machine.get("others"), int | float):
            others.append(float(machine["others"]))
        if isinstance(machine.get("load1"), int | float):
            load1.append(float(machine["load1"]))
    return (statistics.median(others) if others else None, statistics.median(load1) if load1 else None)


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _events(record: dict[str, Any], key: str) -> Any:
    """``run.json``'s ``events[key]`` (the chaos that happened), or None when the file has none."""
    events = record.get("events")
    return events.get(key) if isinstance(events, dict) else None


def _crashes(record: dict[str, Any]) -> list[Any]:
    crashes = _events(record, "postgres_crashes")
    return crashes if isinstance(crashes, list) else []


def _fault_missing(record: dict[str, Any]) -> str | None:
    """Why a run did not get a fault it asked for (a crash that failed or never came, a restart or a kill of the
    database sessions that never ran), or None when it got each: without its fault a run tested the steady path
    only, whatever its audit says."""
    asked = len(record.get("crash_postgres_at") or [])
    crashed = sum(1 for c in _crashes(record) if isinstance(c, dict) and "killed_at" in c)
    if crashed < asked:
        return f"{crashed} of {asked} Postgres crashes happened"
    if record.get("restart_core_at") is not None and _events(record, "restart_seconds") is None:
        return "the core restart never ran"
    kills_asked = len(record.get("kill_db_connections_at") or [])
    kills = _events(record, "db_connections_killed")
    kills_done = len(kills) if isinstance(kills, list) else 0
    if kills_done < kills_asked:
        return f"{kills_done} of {kills_asked} kills of the database sessions happened"
    return None


def _unrecovered_crashes(record: dict[str, Any]) -> list[int]:
    """The crashes (1-based) after which no webhook got a 200 from the restarted server: the relaxed error ratio
    of a chaos run lets a core that never came back pass when the crash came late in the run."""
    return [n for n, c in enumerate(_crashes(record), 1) if isinstance(c, dict) and c.get("first_200_at") is None]


def row(folder: Path) -> RunRow:
    """The run in ``folder`` as one table row, with its verdict."""
    result, record = _json(folder / "audit.json"), _json(folder / "run.json")
    if not isinstance(result, dict) or not isinstance(record, dict) or "thresholds" not in result:
        missing = [n for n, v in (("audit.json", result), ("run.json", record)) if not isinstance(v, dict)]
        why = f"no readable {' or '.join(missing)}" if missing else "audit.json has no thresholds"
        return RunRow(folder.name, "inconclusive", f"| {folder.name} | {why}: INCONCLUSIVE | | | | | | |")
    missing_fault = _fault_missing(record)
    if missing_fault:
        return RunRow(folder.name, "inconclusive", f"| {folder.name} | {missing_fault}: INCONCLUSIVE | | | | | | |")
    t = result["thresholds"]
    audit = result.get("audit")
    clean = isinstance(audit, dict) and audit.get("ok") is True
    audit_text = "clean" if clean else ("not run" if audit is None else f"ANOMALIES {audit.get('anomaly_counts')}")
    stalls = _json(folder / "stalls.json")
    missed = (f"{len(stalls['missed'])} of {stalls['seconds']}" if isinstance(stalls, dict)
              and "missed" in stalls and "seconds" in stalls else "–")
    others, load1 = _machine_medians(folder / "samples.jsonl")
    code = record.get("exit_code")
    breaches = t.get("breaches") or []
    unrecovered = _unrecovered_crashes(record)
    passed = code == 0 and t.get("ok") is True and not breaches and clean and not unrecovered
    exit_text = f"{code}" + (f" ({'; '.join(breaches)})" if breaches else "") + (
        f" (no 200 from the restarted server after crash {', '.join(map(str, unrecovered))})" if unrecovered else "")
    text = (f"| {folder.name} | {t['requests']:,}, {t['failures']} failed | {t['p50_ms']:g} / {t['p95_ms']:g} /"
            f" {t['p99_ms']:g} | {audit_text} | {missed} | {_number(others)} | {_number(load1, 1)} | {exit_text} |")
    return RunRow(folder.name, "passed" if passed else "failed", text)


def table(folders: Sequence[Path]) -> tuple[str, dict[str, int]]:
    """The markdown table of ``folders`` (in the order given) and the count of each verdict."""
    rows = [row(f) for f in folders]
    counts = {v: sum(r.verdict == v for r in rows) for v in ("passed", "failed", "inconclusive")}
    return "\n".join([HEADER, *(r.text for r in rows)]), counts


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table and "N of M passed"; exit 0 only when every run passed (inconclusive runs count against)."""
    args = list(sys.argv[1:] if argv is None else argv)
    paths = [Path(a) for a in args]
    if not paths or not all(p.exists() for p in paths):
        print("usage: python -m load.runs RUN_FOLDER...  (folders written by payharness load --artefacts)",
              file=sys.stderr)
        return 2
    folders = [p for p in paths if p.is_dir()]  # a shell glob also brings each run's log file along
    for skipped in (p for p in paths if not p.is_dir()):
        print(f"skipped {skipped} (not a folder)", file=sys.stderr)
    if not folders:
        print("no run folder given", file=sys.stderr)
        return 2
    text, counts = table(folders)
    print(text)
    extra = ", ".join(f"{n} {v}" for v, n in counts.items() if v != "passed" and n)
    print(f"{counts['passed']} of {len(folders)} passed" + (f" ({extra})" if extra else ""))
    return 0 if counts["passed"] == len(folders) else 1


if __name__ == "__main__":
    sys.exit(main())
