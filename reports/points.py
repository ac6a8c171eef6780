"""Per integration point (PayU, Efecty, webhooks, database, API): tested and not tested, from scenarios.json.

A target audit's catalog (suites/portable/scenarios.toml) is by kind of check, not by gateway: its webhook
scenarios run once per gateway (``test_x[payu]``). There each gateway's row also counts every scenario with a
test case for that gateway, its status from those cases alone, so PayU shows the PayU confirmations it was
attacked with rather than an empty row; such a scenario is in its own point's row too.

A target audit also lists the core's own catalog (builtin_scenarios.json): each of its scenarios whose tests
live only in suite families that cannot run against a foreign target is in its point's row as not runnable,
with the reason of each such family; one the run's own scenarios.json has keeps its verdict from there.

A scenario is *tested* when at least one of its tests ran (passed or failed); *scenario coverage* is tested
÷ all scenarios of the point in the catalog, and *passing* is passed ÷ all. Not runnable scenarios count
in the denominator: the catalog says they matter, the harness cannot exercise them, and the page says why.
A not runnable scenario is never tested, passed or failed.

Usage::

    for point in summarise_points(parse_scenarios(folder)):
        point.label, point.coverage_pct, [s.id for s in point.not_tested]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reports.model import BuiltinScenarios, Scenario, Scenarios, ScenarioTest, Source

POINTS: tuple[tuple[str, str], ...] = (
    ("payu", "PayU"),
    ("efecty", "Efecty"),
    ("webhooks", "Webhooks"),
    ("database", "Database"),
    ("api", "API"),
)
TESTED = frozenset({"passed", "failed"})
# Points a target audit derives from the per-gateway test cases; Wompi only when a case ran through it.
GATEWAYS: tuple[tuple[str, str], ...] = (("payu", "PayU"), ("wompi", "Wompi"), ("efecty", "Efecty"))


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
    builtin_source: Source | None = None  # builtin_scenarios.json, when the row lists the core's catalog too
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


@dataclass(frozen=True)
class NotRunnableHere:
    """How many of the core's catalog scenarios cannot run against a foreign target, and why, by family."""

    source: Source
    catalog: str
    total: int  # the core's catalog scenarios the page lists (those the run's scenarios.json lacks)
    not_runnable: int
    by_families: int  # not runnable because every family its tests live in needs the reference core
    by_catalog: int  # not runnable by the catalog's own word (runnable = false, with its reason)
    by_family: tuple[tuple[str, str, int], ...]  # (family, its reason, scenarios whose tests live there)


def not_runnable_here(builtin: BuiltinScenarios | None, scenarios: Scenarios) -> NotRunnableHere | None:
    """The page's sentence about the core's catalog in a target audit; None in the core's own audit."""
    if builtin is None:
        return None
    listed = _builtin_listed(builtin, scenarios)
    off = [s for s in listed if s.status == "not runnable"]
    by_family = tuple((family, reason, n) for family, reason in builtin.reasons
                      if (n := sum(1 for s in off if family in builtin.families.get(s.id, ()))))
    by_families = sum(1 for s in off if builtin.families.get(s.id))
    return NotRunnableHere(builtin.source, builtin.catalog, len(listed), len(off), by_families,
                           len(off) - by_families, by_family)


def _builtin_listed(builtin: BuiltinScenarios | None, scenarios: Scenarios) -> list[Scenario]:
    """The core's catalog scenarios the run's own scenarios.json does not already give a verdict."""
    if builtin is None:
        return []
    own = {s.id for s in scenarios.scenarios}
    return [s for s in builtin.scenarios if s.id not in own]


def _summary(point: str, label: str, source: Source, scenarios: list[Scenario],
             builtin_source: Source | None = None) -> PointSummary:
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
        builtin_source=builtin_source,
    )


def _case_status(tests: tuple[ScenarioTest, ...]) -> str:
    """A scenario's status from some of its tests: the rule of harness/pytest_scenarios.scenario_status."""
    outcomes = [t.outcome for t in tests if t.outcome != "not run"]
    if not outcomes:
        return "not covered"
    if "failed" in outcomes or "error" in outcomes:
        return "failed"
    if all(o == "not runnable" for o in outcomes):
        return "not runnable"
    if all(o in ("skipped", "not runnable") for o in outcomes):
        return "skipped"
    return "passed"


def _through(gateway: str, scenario: Scenario) -> Scenario | None:
    """The scenario as its ``[gateway]`` test cases saw it, or None when it has none."""
    tests = tuple(t for t in scenario.tests if t.case == gateway)
    if not tests:
        return None
    status = _case_status(tests)
    reason = "; ".join(dict.fromkeys(t.reason for t in tests if t.reason)) if status == "not runnable" else ""
    return replace(scenario, tests=tests, status=status, reason=reason, runnable=status != "not runnable")


def _of_point(point: str, scenarios: Scenarios, by_gateway: bool) -> list[Scenario]:
    own = [s for s in scenarios.scenarios if s.point == point]
    if not by_gateway or point not in dict(GATEWAYS):
        return own
    through = (_through(point, s) for s in scenarios.scenarios if s.point != point)
    return own + [s for s in through if s is not None]


def summarise_points(scenarios: Scenarios, *, by_gateway: bool = False,
                     builtin: BuiltinScenarios | None = None) -> tuple[PointSummary, ...]:
    """One summary per known point, in the seed report's order, then any point the catalog adds.

    ``by_gateway`` (a target audit): each gateway's row adds the scenarios its test cases ran, as above.
    ``builtin`` (a target audit): the core's catalog, each scenario in its own point's row, as above.
    """
    listed = _builtin_listed(builtin, scenarios)
    if listed:
        scenarios = replace(scenarios, scenarios=(*scenarios.scenarios, *listed))
    labels = dict(POINTS)
    known = [p for p, _ in POINTS]
    if by_gateway:
        labels.update(GATEWAYS)
        known = [*(g for g, _ in GATEWAYS), *(p for p in known if p not in dict(GATEWAYS))]
    extra = sorted({s.point for s in scenarios.scenarios} - set(known))
    summaries = (
        _summary(point, labels.get(point, point), scenarios.source, _of_point(point, scenarios, by_gateway),
                 builtin.source if builtin is not None else None)
        for point in [*known, *extra]
    )
    # A gateway no test case went through and the catalog does not list (Wompi in most audits) is left out.
    return tuple(s for s in summaries if s.total or s.point in dict(POINTS))
