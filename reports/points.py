"""Per integration point (PayU, Efecty, webhooks, database, API): tested and not tested, from scenarios.json.

A scenario is *tested* when at least one of its tests ran (passed or failed); *scenario coverage* is tested
÷ all scenarios of the point in the catalog, and *passing* is passed ÷ all. Not runnable scenarios count
in the denominator: the catalog says they matter, the harness cannot exercise them, and the page says why.

Usage::

    for point in summarise_points(parse_scenarios(folder)):
        point.label, point.coverage_pct, [s.id for s in point.not_tested]
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.model import Scenario, Scenarios, Source

POINTS: tuple[tuple[str, str], ...] = (
    ("payu", "PayU"),
    ("efecty", "Efecty"),
    ("webhooks", "Webhooks"),
    ("database", "Database"),
    ("api", "API"),
)
TESTED = frozenset({"passed", "failed"})


@dataclass(frozen=True)
class PointSummary:
    point: str
    label: str
    source: Source
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_covered: int = 0
    not_runnable: int = 0
    tested: tuple[Scenario, ...] = ()
    not_tested: tuple[Scenario, ...] = ()
    JSON_PROPERTIES = ("measured", "coverage_pct", "pass_pct")

    @property
    def measured(self) -> bool:
        return self.source.usable and self.total > 0

    @property
    def coverage_pct(self) -> float | None:
        return round(100 * len(self.tested) / self.total, 1) if self.total else None

    @property
    def pass_pct(self) -> float | None:
        return round(100 * self.passed / self.total, 1) if self.total else None


def _summary(point: str, label: str, source: Source, scenarios: list[Scenario]) -> PointSummary:
    def n(status: str) -> int:
        return sum(1 for s in scenarios if s.status == status)

    return PointSummary(
        point=point,
        label=label,
        source=source,
        total=len(scenarios),
        passed=n("passed"),
        failed=n("failed"),
        skipped=n("skipped"),
        not_covered=n("not covered"),
        not_runnable=n("not runnable"),
        tested=tuple(s for s in scenarios if s.status in TESTED),
        not_tested=tuple(s for s in scenarios if s.status not in TESTED),
    )


def summarise_points(scenarios: Scenarios) -> tuple[PointSummary, ...]:
    """One summary per known point, in the seed report's order, then any point the catalog adds."""
    known = [p for p, _ in POINTS]
    extra = sorted({s.point for s in scenarios.scenarios} - set(known))
    labels = dict(POINTS)
    return tuple(
        _summary(
            point, labels.get(point, point), scenarios.source, [s for s in scenarios.scenarios if s.point == point]
        )
        for point in [*known, *extra]
    )
