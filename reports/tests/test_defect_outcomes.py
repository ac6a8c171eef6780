"""A defect-matrix row is caught, missed or inconclusive; an inconclusive one is critical, red, and never healthy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports.build import analyse, build_report
from reports.collect import collect
from reports.model import DefectRow
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


# -- the matrix's load part (payharness defects --load) ---------------------------------------------------------

CLEAN_AUDIT = {"audit": {"ok": True, "anomaly_counts": {}, "anomalies": {}}}
FOUND_AUDIT = {"audit": {"ok": False, "anomaly_counts": {"state_mismatch": 4}, "anomalies": {}}}


def _with_load(artefacts: Path, edit: Editor, own: dict[str, Any] | None, clean: dict[str, Any] | None,
               outcome: str = "caught", reason: str = "the load's audit found state_mismatch 4") -> None:
    """no_row_lock's row as `payharness defects --load` writes it, its audits written (or not) beside it."""
    for name, body in (("no_row_lock", own), ("clean", clean)):
        if body is not None:
            folder = artefacts / "defects" / "load" / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "audit.json").write_text(json.dumps(body), encoding="utf-8")

    def change(d: dict[str, Any]) -> None:
        d["clean"]["load"] = {"audit": "defects/load/clean/audit.json"}
        row = next(r for r in d["defects"] if r["name"] == "no_row_lock")
        row["load"] = {"outcome": outcome, "reason": reason, "audit": "defects/load/no_row_lock/audit.json"}
        row["load_anomalies"] = ["state_mismatch × 4"]

    edit("defects.json", change)


def _row(artefacts: Path) -> DefectRow:
    return next(d for d in parse_defects(artefacts).defects if d.name == "no_row_lock")


def test_a_load_catch_shown_by_both_audits_keeps_the_row_caught(artefacts: Path, edit: Editor, tmp_path: Path) -> None:
    _with_load(artefacts, edit, FOUND_AUDIT, CLEAN_AUDIT)
    row = _row(artefacts)
    assert (row.outcome, row.load_outcome, row.load_anomalies) == ("caught", "caught", ("state_mismatch × 4",))
    build_report(artefacts, tmp_path / "r")
    assert '<div class="meta st-caught">load audit: caught</div>' in (tmp_path / "r" / "report.html").read_text()


@pytest.mark.parametrize(
    ("own", "clean", "why"),
    [
        (None, CLEAN_AUDIT, "audit.json is absent"),
        (FOUND_AUDIT, None, "the clean core's load: audit.json is absent"),
        (FOUND_AUDIT, FOUND_AUDIT, "the clean core's load audit is not clean"),
        (CLEAN_AUDIT, CLEAN_AUDIT, "names no anomaly of the core"),
        ({"audit": {"ok": False, "anomaly_counts": {"ledger_incomplete": 1}}}, CLEAN_AUDIT, "no anomaly of the core"),
        ({"thresholds": {}}, CLEAN_AUDIT, "unreadable or has no audit"),
        ({"audit": {"ok": True, "anomaly_counts": {"lost_event": 2}}}, CLEAN_AUDIT, "says ok=True"),
    ],
    ids=["own-absent", "clean-absent", "clean-unclean", "own-clean", "own-gap-only", "no-audit", "self-contradicting"],
)
def test_a_load_catch_the_audits_do_not_show_is_inconclusive(
    artefacts: Path, edit: Editor, own: dict[str, Any] | None, clean: dict[str, Any] | None, why: str
) -> None:
    _with_load(artefacts, edit, own, clean)
    row = _row(artefacts)
    assert (row.outcome, row.load_outcome, row.detected) == ("inconclusive", "inconclusive", False)
    assert why in row.reason


def test_an_inconclusive_load_makes_a_row_the_suites_caught_inconclusive_and_red(
    artefacts: Path, edit: Editor, tmp_path: Path
) -> None:
    # A matrix that wrote the row as caught although its load was inconclusive: the report reads the worse.
    _with_load(artefacts, edit, None, CLEAN_AUDIT, outcome="inconclusive", reason="the load timed out after 300 s")
    row = _row(artefacts)
    assert (row.outcome, row.reason) == ("inconclusive", "load: the load timed out after 300 s")
    data = build_report(artefacts, tmp_path / "r")
    assert [(i.kind, i.subject) for i in data.issues if i.severity == "critical"] == [("defect inconclusive",
                                                                                      "no_row_lock")]
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert '<td class="st-inconclusive">INCONCLUSIVE<div class="meta">load: the load timed out' in html
    assert '<div class="meta st-inconclusive">load audit: INCONCLUSIVE</div>' in html
    assert "(load audit: INCONCLUSIVE)" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("load", [{"outcome": "held"}, "caught", {}], ids=["unknown", "not-object", "empty"])
def test_a_load_without_a_verdict_is_inconclusive(artefacts: Path, edit: Editor, load: object) -> None:
    def change(d: dict[str, Any]) -> None:
        next(r for r in d["defects"] if r["name"] == "no_row_lock")["load"] = load

    edit("defects.json", change)
    assert (_row(artefacts).outcome, _row(artefacts).load_outcome) == ("inconclusive", "inconclusive")


def test_a_row_without_a_load_is_judged_by_its_suites_alone(artefacts: Path) -> None:
    row = _row(artefacts)
    assert (row.outcome, row.load_outcome) == ("caught", None)
