"""Collect: read every known artefact of one folder into plain data (absent ones stay marked absent).

Usage::

    artefacts = collect(Path("artefacts/audit-20261126T0700Z"))
    artefacts.junit.source.present
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from reports.model import CORE_ONLY, Artefacts, source_for
from reports.parse_bench import parse_bench, parse_bench_db
from reports.parse_capacity import parse_capacity
from reports.parse_measure import parse_coverage, parse_load, parse_run
from reports.parse_mutants import parse_mutants
from reports.parse_seed import parse_seed_findings
from reports.parse_stalls import parse_stalls
from reports.parse_tests import parse_builtin, parse_defects, parse_junit, parse_scenarios


def collect(artefacts: Path) -> Artefacts:
    """Parse the folder; never raises for a missing or broken artefact (its ``Source`` says so)."""
    load_audit, load_stats, load_history, load_failures = parse_load(artefacts)
    found = Artefacts(
        root=str(artefacts),
        junit=parse_junit(artefacts),
        scenarios=parse_scenarios(artefacts),
        coverage=parse_coverage(artefacts),
        defects=parse_defects(artefacts),
        load_audit=load_audit,
        load_stats=load_stats,
        load_history=load_history,
        load_failures=load_failures,
        load_html=source_for(artefacts, "load_html"),
        bench=parse_bench(artefacts),
        bench_db=parse_bench_db(artefacts),
        run=parse_run(artefacts),
        mutation=parse_mutants(artefacts),
        seed_findings=parse_seed_findings(artefacts),
        capacity=parse_capacity(artefacts),
        stalls=parse_stalls(artefacts),
    )
    return for_target(replace(found, builtin=parse_builtin(artefacts))) if found.run.target else found


# Artefacts field → the name of its source (CORE_ONLY's keys).
_CORE_ONLY_FIELDS = {"coverage": "coverage", "defects": "defects", "mutation": "mutants", "bench": "bench",
                     "bench_db": "bench_db"}


# A target audit's load is its own load step, not `payharness load` (which starts the reference core).
TARGET_LOAD = "payharness audit --target FILE (its load step, python -m load.target; skipped with --no-load)"


def for_target(found: Artefacts) -> Artefacts:
    """An audit of a foreign service (run.json names a target): the core-only artefacts it lacks are marked
    not applicable, with the reason (one that is there anyway is read as it is); its load artefacts name the
    step that writes them."""
    changes: dict[str, Any] = {}
    for field, name in _CORE_ONLY_FIELDS.items():
        block = getattr(found, field)
        if not block.source.present:
            changes[field] = replace(block, source=block.source.inapplicable(CORE_ONLY[name]))
    for field in ("load_audit", "load_stats", "load_history", "load_failures"):
        block = getattr(found, field)
        changes[field] = replace(block, source=replace(block.source, command=TARGET_LOAD))
    changes["load_html"] = replace(found.load_html, command=TARGET_LOAD)
    return replace(found, **changes)
