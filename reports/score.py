"""The integration health score: a weighted sum over six measured inputs, each a fraction in [0, 1].

    score = 100 × Σ weightᵢ × valueᵢ / Σ weightᵢ

| input | weight | value |
|---|---|---|
| scenarios passing | 25 | passed scenarios ÷ runnable scenarios (scenarios.json) |
| defects detected | 25 | caught ÷ seeded defects; an inconclusive run is not a catch (defects.json) |
| consistency audit | 15 | 1 if the load run's audit found no anomaly, else 0 (load/audit.json) |
| core coverage | 15 | covered lines and branches ÷ all lines and branches of core/ (coverage.json) |
| tests passing | 10 | passed ÷ (passed + failed + errors), skips excluded (junit.xml) |
| performance targets | 10 | rows meeting their targets ÷ rows with a target (load and bench artefacts) |

An input whose artefact is absent, unreadable or empty is *not measured* and counts as 0: a figure the
run did not produce cannot vouch for the integration, and the page lists it beside the score. An input
*not applicable* to the audited service (defects and coverage of the reference core, in an audit of a
foreign service) is left out of both sums, with its reason: no run of that service could produce it. Bands:
90–100 healthy, 75–89 needs attention, below 75 at risk — and any critical issue makes it "at risk"
whatever the number; a check that did not finish (an inconclusive mutation run), or an expected artefact
absent or unreadable, keeps it from "healthy" ("inconclusive" instead). An inconclusive defect-matrix row is
both: a critical issue, and not a catch.

Usage::

    health = health_score(inputs_from(artefacts, perf_rows), critical=3)
    health.score, health.band, [i.name for i in health.inputs if not i.measured]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reports.model import Artefacts, Source
from reports.perf import PerfRow

WEIGHTS: tuple[tuple[str, int], ...] = (
    ("scenarios passing", 25),
    ("defects detected", 25),
    ("consistency audit", 15),
    ("core coverage", 15),
    ("tests passing", 10),
    ("performance targets", 10),
)
BANDS: tuple[tuple[float, str], ...] = ((90.0, "healthy"), (75.0, "needs attention"), (0.0, "at risk"))
FORMULA = ("score = 100 × Σ weight × value ÷ Σ weight; an input not measured counts as 0, one not applicable to "
           "the audited service is left out of both sums")


@dataclass(frozen=True)
class ScoreInput:
    name: str
    weight: int
    value: float | None  # in [0, 1]; None: not measured
    numerator: int
    denominator: int
    detail: str
    sources: tuple[Source, ...]
    not_applicable: str = ""  # why the audited service cannot have this input; it then weighs nothing

    JSON_PROPERTIES = ("measured", "points")

    @property
    def measured(self) -> bool:
        return self.value is not None

    @property
    def points(self) -> float:
        return self.weight * (self.value or 0.0)


@dataclass(frozen=True)
class HealthScore:
    score: float
    band: str
    critical: int
    inputs: tuple[ScoreInput, ...]
    formula: str
    sources: tuple[Source, ...]


def _ratio(name: str, num: int, den: int, usable: bool, detail: str, *sources: Source) -> ScoreInput:
    weight = dict(WEIGHTS)[name]
    value = round(num / den, 4) if usable and den else None
    # An input with a single artefact that the run cannot produce (Source.not_applicable) is not applicable.
    reason = sources[0].not_applicable if len(sources) == 1 and value is None else ""
    detail = detail if value is not None else (f"not applicable: {reason}" if reason else "not measured")
    return ScoreInput(name, weight, value, num, den, detail, sources, reason)


def inputs_from(a: Artefacts, perf: Sequence[PerfRow]) -> tuple[ScoreInput, ...]:
    runnable = sum(1 for s in a.scenarios.scenarios if s.runnable)
    passed_scenarios = sum(1 for s in a.scenarios.scenarios if s.status == "passed")
    defects = a.defects.defects
    detected = sum(1 for d in defects if d.detected)
    undecided = sum(1 for d in defects if d.outcome == "inconclusive")
    audit = a.load_audit
    audit_usable = audit.source.usable and audit.audited
    cov = a.coverage.total
    tests = [c for c in a.junit.cases if c.outcome != "skipped"]
    judged = [r for r in perf if r.status in ("met", "missed")]
    # With nothing judged, the input still names the artefacts that would have measured it.
    candidates = [r.source for r in judged] or [
        a.load_audit.source,
        a.load_stats.source,
        a.bench.source,
        a.bench_db.source,
    ]
    perf_sources = tuple({s.path: s for s in candidates}.values())
    return (
        _ratio(
            "scenarios passing",
            passed_scenarios,
            runnable,
            a.scenarios.source.usable,
            f"{passed_scenarios} of {runnable} runnable scenarios pass",
            a.scenarios.source,
        ),
        _ratio(  # an inconclusive row counts as not caught
            "defects detected",
            detected,
            len(defects),
            a.defects.source.usable,
            f"{detected} of {len(defects)} seeded defects caught"
            + (f", {undecided} inconclusive" if undecided else ""),
            a.defects.source,
        ),
        _ratio(
            "consistency audit",
            1 if audit.ok else 0,
            1,
            audit_usable,
            "no anomaly" if audit.ok else f"{sum(x.count for x in audit.anomalies)} anomalies",
            audit.source,
        ),
        _ratio(
            "core coverage",
            cov.covered_lines + cov.covered_branches,
            cov.statements + cov.branches,
            a.coverage.source.usable,
            f"{cov.combined_pct}% of lines and branches",
            a.coverage.source,
        ),
        _ratio(
            "tests passing",
            sum(1 for c in tests if c.outcome == "passed"),
            len(tests),
            a.junit.source.usable,
            f"{sum(1 for c in tests if c.outcome == 'passed')} of {len(tests)} tests pass",
            a.junit.source,
        ),
        _ratio(
            "performance targets",
            sum(1 for r in judged if r.status == "met"),
            len(judged),
            bool(judged),
            f"{sum(1 for r in judged if r.status == 'met')} of {len(judged)} targets met",
            *perf_sources,
        ),
    )


def band_of(score: float, critical: int, inconclusive: int = 0) -> str:
    if critical:
        return "at risk"
    band = next(label for floor, label in BANDS if score >= floor)
    # A check that was cut short or never finished has not vouched for anything: the page may not call the
    # integration healthy while one is open (the lower bands stand, they already say "not good enough").
    if inconclusive and band == "healthy":
        return "inconclusive"
    return band


def health_score(inputs: Sequence[ScoreInput], critical: int, inconclusive: int = 0) -> HealthScore:
    """The score and its band; ``inconclusive`` counts checks that did not finish (e.g. a cut-short mutation run)."""
    total_weight = sum(i.weight for i in inputs if not i.not_applicable)
    score = round(100 * sum(i.points for i in inputs) / total_weight, 1) if total_weight else 0.0
    sources = tuple({s.path: s for i in inputs for s in i.sources}.values())
    return HealthScore(score, band_of(score, critical, inconclusive), critical, tuple(inputs), FORMULA, sources)
