"""The built-in scenario catalog seen from a foreign target: where each scenario's tests live, and why they cannot run.

A target audit runs only suites/portable, against its own catalog. The core's catalog (suites/scenarios.toml)
still lists every risk the core's audit attacks; each scenario is linked to its tests by
``@pytest.mark.scenario`` in the core audit's test roots (``harness.audit.SUITES``). This module reads those
markers from the source (no import, no collection: the suites need the core's stack to import cleanly) and
writes ``builtin_scenarios.json``, which the report reads to list each scenario as "not runnable" with the
reason of every family its tests live in (``harness.target.applicability``), instead of leaving it out.

Usage::

    write_builtin_scenarios(out)   # out / "builtin_scenarios.json"
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.audit import SUITES
from harness.paths import repo_root
from harness.pytest_scenarios import CATALOG, load_catalog
from harness.target.applicability import ROOTS, why_not_family

ARTEFACT = "builtin_scenarios.json"


def marked_ids(source: str) -> set[str]:
    """Every scenario id a test module names with ``pytest.mark.scenario("ID", …)`` or ``mark.scenario(…)``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "scenario"):
            continue
        owner = node.func.value
        if (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (isinstance(owner, ast.Name)
                                                                          and owner.id == "mark"):
            found.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return found


def location(relative: Path) -> str:
    """The family a test file belongs to: ``suites/<family>``, ``suites/<module>.py`` or its test root."""
    parts = relative.parts
    if parts[0] == "suites":
        return "/".join(parts[:2])
    return next((r for r in ROOTS if relative.as_posix().startswith(r + "/")), relative.parent.as_posix())


def why_not_location(name: str) -> str | None:
    """None when a location's tests run against a foreign target; otherwise why not (its family's reason)."""
    if name.startswith("suites/"):
        return why_not_family(name.removeprefix("suites/"))
    if name in ROOTS:
        return ROOTS[name]
    raise KeyError(f"no reason known for tests in {name} (add it to harness.target.applicability.ROOTS)")


def scenario_locations(root: Path, roots: tuple[str, ...] = SUITES) -> dict[str, set[str]]:
    """scenario id → the locations of the test modules under ``roots`` that name it."""
    where: dict[str, set[str]] = defaultdict(set)
    for name in roots:
        for path in sorted((root / name).rglob("test_*.py")):
            for scenario_id in marked_ids(path.read_text(encoding="utf-8")):
                where[scenario_id].add(location(path.relative_to(root)))
    return where


def builtin_scenarios(root: Path | None = None, catalog: Path = CATALOG) -> dict[str, Any]:
    """The artefact: the catalog's scenarios with their tests' locations, and each location's reason (None: runs)."""
    root = root or repo_root()
    where = scenario_locations(root)
    scenarios = [{"id": e["id"], "point": e["point"], "title": e.get("title", ""), "source": e.get("source", ""),
                  "runnable": e.get("runnable", True), "reason": e.get("reason", ""),
                  "locations": sorted(where.get(e["id"], ()))} for e in load_catalog(catalog)]
    used = sorted({loc for s in scenarios for loc in s["locations"]})
    return {"catalog": catalog.relative_to(root).as_posix() if catalog.is_relative_to(root) else catalog.name,
            "locations": {loc: why_not_location(loc) for loc in used}, "scenarios": scenarios}


def write_builtin_scenarios(out: Path) -> Path:
    """Write ``builtin_scenarios.json`` into the audit's folder ``out``; its path."""
    path = out / ARTEFACT
    path.write_text(json.dumps(builtin_scenarios(), indent=2) + "\n", encoding="utf-8")
    return path
