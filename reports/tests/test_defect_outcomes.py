"""A defect-matrix row is caught, missed or inconclusive; an inconclusive one is critical, red, and never healthy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.build import analyse, build_report
from reports.collect import collect
from reports.parse_tests import parse_defects
from reports.tests.support import Editor

KILLED = "pytest exited -9 (interrupted, internal or usage error, or no tests)"


def _killed(d: dict[str, Any]) -> None:
    """What the matrix writes when no_row_lock's run was killed before it wrote its JUnit file."""
    row = next(r for r in d["defects"] if r["name"] == "no_row_lock")
    row.update(outcome="inconclusive", reason=KILLED, detected=False, caught_by=[], failed_tests=[])


def test_an_inconclusive_row_is_a_critical_finding_and_the_band_is_not_healthy(
    artefacts: Path, edit: Editor, tmp_path: Path
) -> None:
    assert analyse(collect(artefacts)).score.band == "healthy"  # the fixture before the edit
    edit("defects.json", _killed)
    out = tmp_path / "report"
    data = build_report(artefacts, out)
    critical = [i for i in data.issues if i.severity == "critical"]
    assert [(i.kind, i.subject) for i in critical] == [("defect inconclusive", "no_row_lock")]
    assert KILLED in critical[0].detail
    assert data.score.band != "healthy"
    detected = next(i for i in data.score.inputs if i.name == "defects detected")
    assert (detected.numerator, detected.denominator) == (2, 3)
    assert "1 inconclusive" in detected.detail
    assert any("payharness defects --only no_row_lock" in r.action for r in data.recommendations)

    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<td class="st-inconclusive">INCONCLUSIVE<div class="meta">' + KILLED in html
    assert ".st-inconclusive {" in html or ", .st-inconclusive {" in html
    assert '<span class="bad">1 inconclusive</span>' in html
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert f"**INCONCLUSIVE**: {KILLED}" in markdown


def test_a_row_without_a_verdict_is_inconclusive_whatever_it_claims(artefacts: Path, edit: Editor) -> None:
    def legacy(d: dict[str, Any]) -> None:
        for row in d["defects"]:
            row.pop("outcome")  # what a matrix wrote before runs were confirmed: "detected" alone
            assert row["detected"] is True

    edit("defects.json", legacy)
    rows = parse_defects(artefacts).defects
    assert {(d.outcome, d.detected) for d in rows} == {("inconclusive", False)}
    assert all("no verdict" in d.reason for d in rows)
