"""The report as plain data: every section derived from the parsed artefacts, with no rendering and no I/O.

Usage::

    from reports.analyse import analyse
    data = analyse(collect(Path("artefacts/audit-1")))
    data.score.score, data.critical_count
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from reports.capacity import CapacityModel, capacity_model
from reports.findings import Issue, derive_issues, is_inconclusive
from reports.floor import Floor, floor_profile
from reports.model import (
    Artefacts,
    Coverage,
    DefectMatrix,
    DefectRow,
    LoadAudit,
    LoadFailures,
    LoadHistory,
    Mutation,
    RunInfo,
    Scenario,
    Source,
    StallRun,
)
from reports.perf import PerfRow, performance_rows
from reports.points import NotRunnableHere, PointSummary, not_runnable_here, summarise_points
from reports.recommend import Recommendation, recommend
from reports.score import HealthScore, health_score, inputs_from
from reports.security import AttackOutcome, security_outcomes
from reports.seed import SeedSection, seed_section


@dataclass(frozen=True)
class SuiteTotals:
    source: Source
    total: int
    passed: int
    failed: int
    errors: int
    skipped: int
    duration_s: float


@dataclass(frozen=True)
class Integrity:
    """The data-integrity audit: the load run's consistency audit, the database scenarios, schema defects."""

    audit: LoadAudit
    database: tuple[Scenario, ...]
    scenarios_source: Source
    schema_defects: tuple[DefectRow, ...]
    defects_source: Source
    JSON_PROPERTIES = ("sources",)

    @property
    def sources(self) -> tuple[Source, ...]:
        return (self.audit.source, self.scenarios_source, self.defects_source)


@dataclass(frozen=True)
class ReportData:
    generated_at: str
    artefacts_dir: str
    run: RunInfo
    score: HealthScore
    tests: SuiteTotals
    points: tuple[PointSummary, ...]
    issues: tuple[Issue, ...]
    coverage: Coverage
    mutation: Mutation
    performance: tuple[PerfRow, ...]
    capacity: CapacityModel | None
    history: LoadHistory
    failures: LoadFailures
    integrity: Integrity
    security: tuple[AttackOutcome, ...]
    defects: DefectMatrix
    recommendations: tuple[Recommendation, ...]
    artefacts: tuple[Source, ...]
    seed: SeedSection | None = None  # "the seed said / payharness measured" (an audit with seed findings)
    stalls: tuple[StallRun, ...] = ()  # the load run's stall analysis, then bench-load phases'
    floor: Floor | None = None  # each part's CPU per webhook against its own bare minimum (reports/floor.py)
    not_runnable_here: NotRunnableHere | None = None  # a target audit: the core's catalog scenarios it cannot run

    @property
    def critical_count(self) -> int:
        return sum(1 for i in self.issues if i.severity == "critical")


def _tests(a: Artefacts) -> SuiteTotals:
    cases = a.junit.cases
    return SuiteTotals(
        a.junit.source,
        total=len(cases),
        passed=a.junit.count("passed"),
        failed=a.junit.count("failed"),
        errors=a.junit.count("error"),
        skipped=a.junit.count("skipped"),
        duration_s=round(sum(c.time_s for c in cases), 1),
    )


def analyse(a: Artefacts, *, now: datetime | None = None) -> ReportData:
    """Pure: parsed artefacts in, every section of the report out."""
    perf = performance_rows(a)
    issues = derive_issues(a, perf)
    security = security_outcomes(a)
    critical = sum(1 for i in issues if i.severity == "critical")
    inconclusive = sum(1 for i in issues if is_inconclusive(i))
    integrity = Integrity(
        audit=a.load_audit,
        database=tuple(s for s in a.scenarios.scenarios if s.point == "database"),
        scenarios_source=a.scenarios.source,
        schema_defects=tuple(d for d in a.defects.defects if d.kind == "schema"),
        defects_source=a.defects.source,
    )
    return ReportData(
        generated_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        artefacts_dir=a.root,
        run=a.run,
        score=health_score(inputs_from(a, perf), critical, inconclusive),
        tests=_tests(a),
        points=summarise_points(a.scenarios, by_gateway=bool(a.run.target), builtin=a.builtin),
        issues=issues,
        coverage=a.coverage,
        mutation=a.mutation,
        performance=perf,
        capacity=capacity_model(a.capacity),
        history=a.load_history,
        failures=a.load_failures,
        integrity=integrity,
        security=security,
        defects=a.defects,
        recommendations=recommend(a, issues, security),
        artefacts=tuple(a.sources().values()),
        seed=seed_section(a.seed_findings, a.scenarios, a.junit),
        floor=floor_profile(a.capacity),
        stalls=a.stalls,
        not_runnable_here=not_runnable_here(a.builtin, a.scenarios),
    )
