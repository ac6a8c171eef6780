"""Issues by severity, derived by rules from the parsed artefacts (no prose typed per run).

* critical: a failing or erroring test; a test the clean core fails in the defect matrix; a seeded defect
  no test detects, or whose run is inconclusive (it crashed, timed out, or the defect was not confirmed
  applied); a consistency-audit anomaly; an audit step that did not finish, or ended (failed or not) without
  writing its artefacts.
* high: a performance target missed; a load threshold broken; an artefact present but unreadable; a load
  run without its consistency audit.
  (with the next: the headline cannot say "healthy" while an expected artefact is unreadable or absent — a
  check without its evidence is inconclusive, never a pass).
* medium: a runnable scenario no test exercised (not covered, or only skipped); an artefact not measured;
  a mutation run cut short (mutants not run); a module whose mutation score is under 90 %.
* low: a skipped test; a scenario the catalog marks not runnable (with its reason).

Usage::

    issues = derive_issues(artefacts, perf_rows)
    [i.title for i in issues if i.severity == "critical"]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reports.model import Artefacts, Source
from reports.perf import PerfRow

SEVERITIES = ("critical", "high", "medium", "low")
# Artefacts whose absence is worth an issue; the load's HTML and failures CSV are optional extras.
EXPECTED = (
    "junit",
    "scenarios",
    "coverage",
    "defects",
    "load_audit",
    "load_stats",
    "load_history",
    "load_stalls",
    "bench",
    "bench_db",
    "run",
    "mutants",
)
MUTATION_FLOOR = 90.0  # issue 13's bar: killed ÷ non-equivalent mutants, per module


@dataclass(frozen=True)
class Issue:
    severity: str
    kind: str
    title: str
    detail: str
    source: Source
    subject: str = ""  # what a recommendation acts on: a test id, a defect name, a scenario id, an artefact


def _tests(a: Artefacts) -> Iterable[Issue]:
    for case in a.junit.cases:
        if case.outcome in ("failed", "error"):
            yield Issue(
                "critical",
                "failing test",
                f"Test {case.outcome}: {case.nodeid}",
                case.message,
                a.junit.source,
                case.nodeid,
            )
        elif case.outcome == "skipped":
            yield Issue(
                "low", "skipped test", f"Test skipped: {case.nodeid}", case.message, a.junit.source, case.nodeid
            )


def _defects(a: Artefacts) -> Iterable[Issue]:
    m = a.defects
    for nodeid in (*m.clean_failed, *m.clean_errors):
        yield Issue(
            "critical",
            "clean core fails",
            f"The clean core fails {nodeid} in the defect-matrix run",
            "a matrix is only meaningful when the clean core passes everything it runs",
            m.source,
            nodeid,
        )
    for d in m.defects:
        if d.outcome == "inconclusive":
            yield Issue(
                "critical",
                "defect inconclusive",
                f"Seeded defect {d.name}: its run is inconclusive",
                f"{d.reason}. {d.title} ({d.finding}): the matrix cannot say whether a test catches it",
                m.source,
                d.name,
            )
        elif not d.detected:
            yield Issue(
                "critical",
                "undetected defect",
                f"Seeded defect {d.name} is not detected by any test",
                f"{d.title} ({d.finding}; {d.severity} {d.kind} defect): with it applied every test passed",
                m.source,
                d.name,
            )


def _audit(a: Artefacts) -> Iterable[Issue]:
    audit = a.load_audit
    for anomaly in audit.anomalies:
        yield Issue(
            "critical",
            "audit anomaly",
            f"Consistency audit: {anomaly.count} × {anomaly.kind}",
            "; ".join(anomaly.examples[:3]),
            audit.source,
            anomaly.kind,
        )
    for breach in audit.breaches:
        yield Issue(
            "high",
            "load threshold",
            f"Load threshold broken: {breach}",
            "the load run's own gate on webhook requests",
            audit.source,
            breach,
        )
    if audit.source.usable and not audit.audited:
        yield Issue(
            "high",
            "audit missing",
            "The load run has no consistency audit",
            "load/audit.json holds thresholds only (run without --no-audit)",
            audit.source,
            "load_audit",
        )


def _steps(a: Artefacts) -> Iterable[Issue]:
    root = Path(a.root)
    for step in a.run.steps:
        if step.exit_code is None or step.exit_code < 0:
            yield Issue(
                "critical",
                "step unfinished",
                f"Audit step {step.name} did not finish",
                f"exit {step.exit_code} after {step.duration_s:g} s: {step.command}",
                a.run.source,
                step.name,
            )
            continue
        missing = [p for p in step.artefacts if not (root / p).is_file()]
        if step.exit_code == 0 and missing:
            # A step that says it passed but left no evidence has not vouched for anything.
            yield Issue(
                "critical",
                "step inconclusive",
                f"Audit step {step.name} exited 0 without writing {', '.join(missing)}",
                f"nothing that step checked can be shown: {step.command}",
                a.run.source,
                step.name,
            )
        elif step.exit_code != 0 and missing:
            yield Issue(
                "critical",
                "step failed",
                f"Audit step {step.name} failed without writing {', '.join(missing)}",
                f"exit {step.exit_code}: {step.command}",
                a.run.source,
                step.name,
            )


def _performance(perf: Sequence[PerfRow]) -> Iterable[Issue]:
    for row in perf:
        # The load run's overall webhook row is its own gate: its breaches are raised from audit.json.
        if row.status == "missed" and row.source.name != "load_audit":
            yield Issue(
                "high",
                "performance",
                f"Target missed: {row.figure.operation}: {'; '.join(row.missed)}",
                "; ".join(t.basis for t in row.figure.targets),
                row.source,
                row.figure.operation,
            )


def _scenarios(a: Artefacts) -> Iterable[Issue]:
    for s in a.scenarios.scenarios:
        if s.status == "not runnable":
            yield Issue(
                "low", "not runnable", f"Scenario {s.id} is not runnable here", s.reason, a.scenarios.source, s.id
            )
        elif s.status in ("not covered", "skipped"):
            why = "no test is linked to it" if s.status == "not covered" else "its tests were all skipped"
            yield Issue(
                "medium",
                "untested scenario",
                f"Scenario {s.id} ({s.point}) is not tested: {why}",
                s.title,
                a.scenarios.source,
                s.id,
            )


def _mutation(a: Artefacts) -> Iterable[Issue]:
    m = a.mutation
    if m.status == "inconclusive":
        yield Issue(
            "medium",
            "mutation inconclusive",
            f"Mutation run cut short: {m.total.not_run} of {m.total.total} mutants not run",
            f"stopped: {m.stopped or 'mutants left without a verdict'}; their modules' scores are lower bounds",
            m.source,
            "mutants",
        )
    for row in m.modules:
        score = row.counts.score_pct
        if row.status == "measured" and score is not None and score < MUTATION_FLOOR:
            yield Issue(
                "medium",
                "mutation score",
                f"Mutation score of {row.name} is {score:g} % (under {MUTATION_FLOOR:g} %)",
                f"{row.counts.survived} survived, {row.counts.timeout} timed out of {row.counts.judged} judged",
                m.source,
                row.name,
            )


def _artefacts(a: Artefacts) -> Iterable[Issue]:
    parsed = a.sources()
    for name in EXPECTED:
        source = parsed[name]
        if source.error:
            yield Issue(
                "high", "unreadable artefact", f"Artefact {source.path} could not be read", source.error, source, name
            )
        elif not source.present and not source.not_applicable:  # not applicable: no gap, no issue
            yield Issue(
                "medium",
                "not measured",
                f"Not measured: {source.path} is absent",
                f"produced by: {source.command}",
                source,
                name,
            )


# Issue kinds that leave a check without its evidence: each keeps the headline from "healthy" (score.band_of).
EVIDENCE_MISSING = ("unreadable artefact", "not measured")


def is_inconclusive(issue: Issue) -> bool:
    """A check that crashed, was cut short or left no readable evidence: it has not vouched for anything."""
    return "inconclusive" in issue.kind or issue.kind in EVIDENCE_MISSING


def derive_issues(a: Artefacts, perf: Sequence[PerfRow]) -> tuple[Issue, ...]:
    """Every rule above, sorted by severity (stable within one)."""
    found = [*_tests(a), *_defects(a), *_audit(a), *_steps(a), *_performance(perf), *_scenarios(a), *_mutation(a),
             *_artefacts(a)]
    return tuple(sorted(found, key=lambda i: SEVERITIES.index(i.severity)))
