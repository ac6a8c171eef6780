"""Parse mutants.json (``payharness mutants``) into per-module and per-component mutation figures (pure).

Components are coverage's (``parse_measure.COMPONENTS``), so the score sits beside the coverage of the
same files. A component with no mutated file is absent, not 0 % or 100 %.

Usage::

    mutation = parse_mutants(Path("artefacts/audit-1"))
    mutation.status, [(c.name, c.counts.score_pct) for c in mutation.components]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.model import MutantCounts, Mutation, MutationRow, Source
from reports.parse_measure import COMPONENTS, OTHER, component_of
from reports.parse_tests import guarded, read_json


def _counts(entry: dict[str, Any]) -> MutantCounts:
    counts = MutantCounts(*(int(entry[k]) for k in ("total", "killed", "survived", "timeout", "not_run",
                                                     "equivalent")))
    if counts.killed + counts.survived + counts.timeout + counts.not_run + counts.equivalent != counts.total:
        raise ValueError(f"mutant figures of {entry.get('module') or entry.get('path')} do not add up to total")
    return counts


def _mutation(path: Path, source: Source) -> Mutation:
    data = read_json(path)
    modules: list[MutationRow] = []
    by_component: dict[str, tuple[MutantCounts, tuple[str, ...]]] = {}
    for entry in data["modules"]:
        equivalents = tuple((e["change"], e["reason"]) for e in entry.get("equivalents", []))
        modules.append(MutationRow(entry["module"], _counts(entry), tuple(entry["files"]), equivalents))
        for f in entry["by_file"]:
            name = component_of(f["path"])
            counts, files = by_component.get(name, (MutantCounts(), ()))
            by_component[name] = (counts + _counts(f), (*files, f["path"]))
    order = [name for name, _ in COMPONENTS] + [OTHER]
    components = tuple(MutationRow(n, *by_component[n]) for n in order if n in by_component)
    return Mutation(
        source,
        tool=str(data.get("tool", "")),
        tool_version=str(data.get("tool_version", "")),
        git_commit=str(data.get("git_commit") or ""),
        duration_s=data.get("duration_s"),
        budget_s=data.get("budget_s"),
        stopped=str(data.get("stopped") or ""),
        modules=tuple(modules),
        components=components,
        total=sum((m.counts for m in modules), MutantCounts()),
    )


def parse_mutants(artefacts: Path) -> Mutation:
    return guarded(artefacts, "mutants", Mutation, _mutation)
