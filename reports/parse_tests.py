"""Parsers for what the test runs leave behind: JUnit XML, scenarios.json and the defect matrix (pure).

Each parser takes the artefacts folder and returns its frozen block; an absent file gives an empty block
whose ``source.present`` is false, and an unreadable one an empty block whose ``source.error`` says why —
never an exception, never a guessed value.

Usage::

    junit = parse_junit(Path("artefacts/audit-1"))
    junit.count("failed"), junit.source.present
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from reports.model import (
    BuiltinScenarios,
    CaseResult,
    DefectMatrix,
    DefectRow,
    JUnit,
    Scenario,
    Scenarios,
    ScenarioTest,
    Source,
    source_for,
)

T = TypeVar("T")
PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, ET.ParseError, OSError, csv.Error)


def guarded(artefacts: Path, name: str, empty: Callable[[Source], T], parse: Callable[[Path, Source], T]) -> T:
    """Run ``parse`` on the artefact if it exists; an absent or broken file gives ``empty(source)``."""
    source = source_for(artefacts, name)
    if not source.present:
        return empty(source)
    try:
        return parse(artefacts / source.path, source)
    except PARSE_ERRORS as exc:
        return empty(source.failed(f"{type(exc).__name__}: {exc}"))


def read_json(path: Path, *required: str) -> dict[str, Any]:
    """The file's top-level object; ``required`` keys its writer always sets (``{}`` is not an empty pass)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object at the top level")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"no {', '.join(missing)}: not written whole by the step that owns it")
    return data


# ------------------------------------------------------------------------------------------- JUnit


def junit_nodeid(classname: str, name: str) -> str:
    """pytest's node id from a JUnit testcase: a capitalised last part of the classname is a test class."""
    parts = classname.split(".") if classname else []
    klass: list[str] = []
    while parts and parts[-1][:1].isupper():
        klass.insert(0, parts.pop())
    module = "/".join(parts) + ".py" if parts else ""
    return "::".join([p for p in (module, *klass) if p] + [name])


def _case(element: ET.Element) -> CaseResult:
    nodeid = junit_nodeid(element.get("classname", ""), element.get("name", ""))
    time_s = float(element.get("time") or 0.0)
    for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        found = element.find(tag)
        if found is not None:
            message = (found.get("message") or found.text or "").strip().splitlines()
            return CaseResult(nodeid, time_s, outcome, message[0][:300] if message else "")
    return CaseResult(nodeid, time_s, "passed")


def read_junit(path: Path) -> tuple[CaseResult, ...]:
    """Every testcase of a JUnit XML file with its pytest node id and outcome; raises on an unreadable file.

    The one reading of JUnit in the project: the report and the defect matrix (``harness.defects.matrix``)
    both call it, so a test has the same node id in junit.xml, in defects.json and in scenarios.json.
    """
    # The file is our own run's output, not input from a stranger: the stdlib parser is fine here.
    root = ET.parse(path).getroot()  # noqa: S314
    return tuple(_case(e) for e in root.iter("testcase"))


def _junit(path: Path, source: Source) -> JUnit:
    return JUnit(source, read_junit(path))


def parse_junit(artefacts: Path) -> JUnit:
    return guarded(artefacts, "junit", JUnit, _junit)


# ------------------------------------------------------------------------------------------- scenarios


def _scenario(raw: dict[str, Any]) -> Scenario:
    tests = tuple(ScenarioTest(str(t["nodeid"]), str(t.get("outcome", "not run")), str(t.get("reason", "")))
                  for t in raw.get("tests", ()))
    return Scenario(
        id=str(raw["id"]),
        point=str(raw["point"]),
        title=str(raw.get("title", "")),
        origin=str(raw.get("source", "")),
        runnable=bool(raw.get("runnable", True)),
        reason=str(raw.get("reason", "")),
        status=str(raw.get("status", "not covered")),
        tests=tests,
    )


def _scenarios(path: Path, source: Source) -> Scenarios:
    return Scenarios(source, tuple(_scenario(s) for s in read_json(path)["scenarios"]))


def parse_scenarios(artefacts: Path) -> Scenarios:
    return guarded(artefacts, "scenarios", Scenarios, _scenarios)


def _builtin_scenario(raw: dict[str, Any], reasons: dict[str, str | None]) -> Scenario:
    """Not runnable (with each family's reason) when no family its tests live in runs here; a scenario with
    no test, or with a test in a family that runs, is not covered (its verdict would be in scenarios.json)."""
    locations = [str(loc) for loc in raw.get("locations", ())]
    status, reason = "not covered", ""
    if raw.get("runnable", True) is False:
        status, reason = "not runnable", str(raw.get("reason", ""))
    elif locations and all(reasons[loc] for loc in locations):
        status = "not runnable"
        reason = "; ".join(f"{loc}: {reasons[loc]}" for loc in locations)
    return Scenario(id=str(raw["id"]), point=str(raw["point"]), title=str(raw.get("title", "")),
                    origin=str(raw.get("source", "")), runnable=status != "not runnable",
                    reason=reason, status=status)


def _builtin(path: Path, source: Source) -> BuiltinScenarios:
    data = read_json(path, "catalog", "locations", "scenarios")
    reasons = {str(k): (str(v) if v else None) for k, v in data["locations"].items()}
    families = {str(s["id"]): tuple(str(loc) for loc in s.get("locations", ())) for s in data["scenarios"]}
    return BuiltinScenarios(source, str(data["catalog"]),
                            tuple((k, v) for k, v in reasons.items() if v is not None),
                            tuple(_builtin_scenario(s, reasons) for s in data["scenarios"]), families)


def parse_builtin(artefacts: Path) -> BuiltinScenarios:
    """The core's catalog as a target audit wrote it; its scenarios' status is decided here, from the file."""
    return guarded(artefacts, "builtin_scenarios", BuiltinScenarios, _builtin)


# ------------------------------------------------------------------------------------------- defects


DEFECT_OUTCOMES = ("caught", "missed", "inconclusive")


def _load_verdict(raw: Any) -> tuple[str | None, str, str | None]:
    """A row's load part: (outcome, reason, audit path); ``None`` when no load ran. A load without a verdict of
    the three, or not an object, is inconclusive."""
    if raw is None:
        return None, "", None
    if not isinstance(raw, dict):
        return "inconclusive", "the load part of defects.json is not an object", None
    outcome, reason = str(raw.get("outcome", "")), str(raw.get("reason", ""))
    if outcome not in DEFECT_OUTCOMES:
        outcome, reason = "inconclusive", f"no load verdict in defects.json (outcome {outcome or 'absent'})"
    return outcome, reason, str(raw["audit"]) if raw.get("audit") else None


def _defect(raw: dict[str, Any]) -> DefectRow:
    # Fail closed: a row without a verdict (a matrix from before runs were confirmed, or a hand-edited one)
    # has not shown that its run finished with the defect applied, whatever its "detected" says.
    outcome, reason = str(raw.get("outcome", "")), str(raw.get("reason", ""))
    if outcome not in DEFECT_OUTCOMES:
        outcome, reason = "inconclusive", f"no verdict in defects.json (outcome {outcome or 'absent'})"
    load_outcome, load_reason, load_audit = _load_verdict(raw.get("load"))
    # A row with a load is no better than its load, whatever its own outcome says (the matrix writes the worse).
    if load_outcome is not None and DEFECT_OUTCOMES.index(load_outcome) > DEFECT_OUTCOMES.index(outcome):
        outcome, reason = load_outcome, f"load: {load_reason}"
    return DefectRow(
        name=str(raw["name"]),
        title=str(raw.get("title", "")),
        finding=str(raw.get("finding", "")),
        severity=str(raw.get("severity", "high")),
        kind=str(raw.get("kind", "")),
        failed_tests=tuple(str(t) for t in raw.get("failed_tests", ())),
        load_anomalies=tuple(str(a) for a in raw.get("load_anomalies", ())),
        outcome=outcome,
        duration_s=float(raw.get("duration_s") or 0.0),
        junit=str(raw["junit"]) if raw.get("junit") else None,
        reason=reason,
        caught_by=tuple(str(t) for t in raw.get("caught_by", ())),
        load_outcome=load_outcome,
        load_reason=load_reason,
        load_audit=load_audit,
    )


def _outcomes(path: Path) -> dict[str, str] | str:
    """node id → outcome of a JUnit file, or why it cannot be read."""
    if not path.is_file():
        return f"{path.name} is absent"
    try:
        return {c.nodeid: c.outcome for c in read_junit(path)}
    except (ET.ParseError, OSError, ValueError) as exc:
        return f"{path.name} is unreadable ({type(exc).__name__})"


# The load's own anomaly kinds: a gap in what the load saw, never the core's doing (harness/defects/loadrun.py).
LOAD_OWN_KINDS = frozenset({"ledger_incomplete"})


def load_counts(path: Path) -> dict[str, int] | str:
    """A load's audit.json as anomaly kind → count, or why it cannot vouch for anything (absent, unreadable, no
    audit section, or an ``ok`` that disagrees with its counts)."""
    if not path.is_file():
        return f"{path.name} is absent"
    try:
        audit = json.loads(path.read_text(encoding="utf-8"))["audit"]
        counts = {str(k): int(n) for k, n in audit["anomaly_counts"].items() if int(n)}
        ok = audit["ok"]
    except PARSE_ERRORS as exc:
        return f"{path.name} is unreadable or has no audit ({type(exc).__name__})"
    if ok is not (not counts):
        return f"{path.name} says ok={ok} with anomalies {counts}"
    return counts


def load_caught(row_audit: Path | None, clean_audit: Path | None) -> str:
    """Pure over two files: "" when they show a load catch — the clean core's load audit clean, the defect's
    naming an anomaly of the core's — else why not."""
    if row_audit is None or clean_audit is None:
        return "the row or the clean run names no load audit.json"
    clean, own = load_counts(clean_audit), load_counts(row_audit)
    if isinstance(clean, str):
        return f"the clean core's load: {clean}"
    if clean:
        return f"the clean core's load audit is not clean: {clean}"
    if isinstance(own, str):
        return own
    if not set(own) - LOAD_OWN_KINDS:
        return "its load audit names no anomaly of the core"
    return ""


def _load_rederived(row: DefectRow, root: Path, clean_audit: str | None) -> DefectRow:
    """A load "caught" is re-derived from the two audit.json files, not taken on defects.json's word."""
    if row.load_outcome != "caught":
        return row
    why = load_caught(root / row.load_audit if row.load_audit else None,
                      root / clean_audit if clean_audit else None)
    if not why:
        return row
    reason = f"its load evidence does not show the catch: {why}"
    return replace(row, outcome="inconclusive", reason=reason, load_outcome="inconclusive", load_reason=reason)


def _rederived(row: DefectRow, root: Path, clean: dict[str, str] | str) -> DefectRow:
    """A "caught" row is re-derived from its JUnit evidence, not taken on defects.json's word: at least one of
    the tests it names failed in its own run's file and passed in the clean run's. If a file is gone or
    unreadable, or neither shows it, nothing in the folder proves the catch: inconclusive, saying why."""
    if row.outcome != "caught" or not row.junit:  # a catch by the load audit alone has no JUnit to read
        return row
    own = _outcomes(root / row.junit)
    why = next((o for o in (own, clean) if isinstance(o, str)), "")
    if not why:
        assert isinstance(own, dict) and isinstance(clean, dict)
        named = row.caught_by or row.failed_tests
        if any(own.get(t) in ("failed", "error") and clean.get(t) == "passed" for t in named):
            return row
        why = "no test it names failed in its run and passed in the clean run"
    return replace(row, outcome="inconclusive", reason=f"its evidence does not show the catch: {why}")


def _defects(path: Path, source: Source) -> DefectMatrix:
    data = read_json(path, "defects")
    clean = data.get("clean") or {}
    # The clean run's file is read once for every row (a whole suite's JUnit, against one file per defect).
    clean_outcomes = _outcomes(path.parent / str(clean["junit"])) if clean.get("junit") else \
        "the clean run names no JUnit file"
    return DefectMatrix(
        source,
        mode=str(data.get("mode", "")),
        clean_passed=int(clean.get("passed", 0)),
        clean_failed=tuple(str(t) for t in clean.get("failed", ())),
        clean_errors=tuple(str(t) for t in clean.get("errors", ())),
        defects=tuple(_load_rederived(_rederived(_defect(d), path.parent, clean_outcomes), path.parent,
                                      (clean.get("load") or {}).get("audit")) for d in data["defects"]),
    )


def parse_defects(artefacts: Path) -> DefectMatrix:
    return guarded(artefacts, "defects", DefectMatrix, _defects)
