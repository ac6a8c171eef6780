"""The seed said / payharness measured: each finding of the seed report beside what its scenarios measured.

A finding is **confirmed** when a scenario it maps to failed (the failure messages are the evidence, each
named by the gateway it went through when the scenario runs once per gateway), **not reproduced** when every
scenario it maps to ran and passed, and **not measured** when none could run here (not runnable, with the
reason, or not in the run at all); a finding mapped to no scenario is listed as **no scenario**. Each row
carries the findings file's note, shown beside what was measured. Pure: parsed artefacts in, rows out.

Usage: ``seed_rows(a.seed_findings, a.scenarios, a.junit)``
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.model import JUnit, Scenarios, SeedFinding, SeedFindings, Source


@dataclass(frozen=True)
class Measured:
    scenario: str
    status: str  # passed | failed | not runnable | skipped | not covered | not in this run
    evidence: str  # the failure message, the reason it could not run, or the tests that passed


@dataclass(frozen=True)
class SeedRow:
    finding: SeedFinding
    measured: tuple[Measured, ...]
    verdict: str  # confirmed | not reproduced | partly measured | not measured | no scenario


@dataclass(frozen=True)
class SeedSection:
    source: Source
    rows: tuple[SeedRow, ...] = ()


def _measure(scenario_id: str, scenarios: Scenarios, junit: JUnit) -> Measured:
    found = next((s for s in scenarios.scenarios if s.id == scenario_id), None)
    if found is None:
        return Measured(scenario_id, "not in this run", "no such scenario in scenarios.json")
    if found.status == "failed":
        failed = {c.nodeid: c.message for c in junit.cases if c.outcome in ("failed", "error")}
        messages = [f"through {t.case}: {failed[t.nodeid]}" if t.case else failed[t.nodeid] for t in found.tests
                    if t.outcome == "failed" and t.nodeid in failed]
        return Measured(scenario_id, "failed", "; ".join(messages) or "a linked test failed (no message)")
    if found.status == "not runnable":
        return Measured(scenario_id, "not runnable", found.reason)
    if found.status == "passed":
        passed = [t.nodeid.rsplit("::", 1)[-1] for t in found.tests if t.outcome == "passed"]
        return Measured(scenario_id, "passed", ", ".join(passed))
    return Measured(scenario_id, found.status, found.reason or "no test of it ran")


def _verdict(measured: tuple[Measured, ...]) -> str:
    statuses = [m.status for m in measured]
    if not statuses:
        return "no scenario"  # the findings file maps it to none: no black-box check can see it
    if "failed" in statuses:
        return "confirmed"
    if statuses and all(s == "passed" for s in statuses):
        return "not reproduced"
    if "passed" in statuses:
        return "partly measured"
    return "not measured"


def seed_section(findings: SeedFindings | None, scenarios: Scenarios, junit: JUnit) -> SeedSection | None:
    """None without seed findings (an audit of the core); else one row per finding, in the file's order."""
    if findings is None:
        return None
    rows = []
    for finding in findings.findings:
        measured = tuple(_measure(s, scenarios, junit) for s in finding.scenarios)
        rows.append(SeedRow(finding, measured, _verdict(measured)))
    return SeedSection(findings.source, tuple(rows))
