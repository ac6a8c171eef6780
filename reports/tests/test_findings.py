"""Issues, security outcomes and recommendations are derived by rules from the artefacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.analyse import analyse
from reports.build import build_report
from reports.cli import main
from reports.collect import collect
from reports.tests.support import Editor


def _critical(folder: Path) -> list[str]:
    return [i.title for i in analyse(collect(folder)).issues if i.severity == "critical"]


def _stop_catching(d: dict[str, Any]) -> None:
    """What the matrix writes once the only test that caught no_row_lock no longer fails with it applied."""
    row = next(r for r in d["defects"] if r["name"] == "no_row_lock")
    row.update(failed_tests=[], caught_by=[], detected=False, outcome="missed", reason="every test passes")


def test_the_clean_fixture_has_no_critical_issue(artefacts: Path) -> None:
    data = analyse(collect(artefacts))
    assert _critical(artefacts) == []
    assert data.score.band == "healthy"
    kinds = {i.kind for i in data.issues}
    assert kinds == {"untested scenario", "not runnable", "skipped test"}


def test_a_test_that_stops_catching_its_defect_is_a_critical_issue_in_the_report(
    artefacts: Path, edit: Editor, tmp_path: Path
) -> None:
    edit("defects.json", _stop_catching)
    assert _critical(artefacts) == ["Seeded defect no_row_lock is not detected by any test"]

    out = tmp_path / "report"
    data = build_report(artefacts, out)
    assert data.score.band == "at risk" and data.score.critical == 1
    html = (out / "report.html").read_text(encoding="utf-8")
    critical_section = html[html.index('id="issues-critical"') : html.index('id="issues-high"')]
    assert "Critical: 1" in critical_section
    assert "Seeded defect no_row_lock is not detected by any test" in critical_section
    assert "NOT CAUGHT" in html
    markdown = (out / "report.md").read_text(encoding="utf-8")
    md_critical = markdown[markdown.index("### Critical") : markdown.index("### High")]
    assert "Seeded defect no_row_lock is not detected by any test" in md_critical
    assert any("payharness defects --only no_row_lock" in r.action for r in data.recommendations)
    assert main([str(artefacts), "--out", str(out), "--fail-on-critical"]) == 3


def test_the_clean_fixture_passes_fail_on_critical(artefacts: Path, tmp_path: Path) -> None:
    assert main([str(artefacts), "--out", str(tmp_path / "r"), "--fail-on-critical"]) == 0


def test_failing_tests_audit_anomalies_and_unfinished_steps_are_critical(artefacts: Path, edit: Editor) -> None:
    junit = artefacts / "junit.xml"
    junit.write_text(
        junit.read_text().replace(
            'name="test_the_buyer_rate_limit_answers_429_with_retry_after" time="0.60" />',
            'name="test_the_buyer_rate_limit_answers_429_with_retry_after" time="0.60">'
            '<failure message="assert 200 == 429">x</failure></testcase>',
        )
    )

    def anomalous(d: dict[str, Any]) -> None:
        d["audit"].update(
            ok=False,
            anomaly_counts={"lost_event": 2},
            anomalies={"lost_event": [{"subject": "evt-9", "detail": "answered 200, no row"}]},
        )

    def unfinished(d: dict[str, Any]) -> None:
        d["steps"][1]["exit_code"] = -1

    edit("load/audit.json", anomalous)
    edit("run.json", unfinished)
    critical = _critical(artefacts)
    assert (
        "Test failed: suites/api/test_api_abuse.py::test_the_buyer_rate_limit_answers_429_with_retry_after" in critical
    )
    assert "Consistency audit: 2 × lost_event" in critical
    assert "Audit step load did not finish" in critical
    security = {s.name: s for s in analyse(collect(artefacts)).security}
    assert security["Rate limiting"].outcome == "broken"


def test_a_step_that_failed_without_its_artefacts_is_critical(artefacts: Path, edit: Editor) -> None:
    def failed(d: dict[str, Any]) -> None:
        d["steps"][2]["exit_code"] = 1

    edit("run.json", failed)
    assert _critical(artefacts) == []  # defects.json exists: its own rows say what failed
    (artefacts / "defects.json").unlink()
    assert _critical(artefacts) == ["Audit step defects failed without writing defects.json"]


def test_a_step_that_exited_0_without_its_artefacts_is_critical_and_inconclusive(
    artefacts: Path, edit: Editor
) -> None:
    def claims(d: dict[str, Any]) -> None:
        d["steps"].append({"name": "bench-load", "command": ["payharness", "bench-load"],
                           "artefacts": ["bench/bench.json"], "exit_code": 0, "duration_s": 300.0})

    edit("run.json", claims)
    assert _critical(artefacts) == ["Audit step bench-load exited 0 without writing bench/bench.json"]
    assert analyse(collect(artefacts)).score.band == "at risk"


def test_missed_targets_and_breaches_are_high(artefacts: Path, edit: Editor) -> None:
    def slow(d: dict[str, Any]) -> None:
        d["result"]["sustained_rate"] = 250.0

    def breach(d: dict[str, Any]) -> None:
        d["thresholds"].update(p99_ms=350.0, breaches=["p99 350 ms > 250 ms"])

    edit("bench.json", slow)
    edit("load/audit.json", breach)
    data = analyse(collect(artefacts))
    high = [i.title for i in data.issues if i.severity == "high"]
    assert "Load threshold broken: p99 350 ms > 250 ms" in high
    assert any(t.startswith("Target missed: Sustained signed-webhook rate") and "250/s < 400/s" in t for t in high)
    row = next(r for r in data.performance if r.figure.operation.startswith("Webhook requests, all"))
    assert row.status == "missed" and row.missed == ("p99 350 ms > 250 ms",)


def test_absent_artefacts_are_not_measured_issues_naming_their_command(artefacts: Path) -> None:
    (artefacts / "bench.json").unlink()
    (artefacts / "coverage.json").unlink()
    data = analyse(collect(artefacts))
    medium = {i.source.path: i for i in data.issues if i.kind == "not measured"}
    assert set(medium) == {"bench.json", "coverage.json"}
    assert "payharness bench-load" in medium["bench.json"].detail
    coverage = next(i for i in data.score.inputs if i.name == "core coverage")
    assert not coverage.measured


def test_security_classes_from_test_names_scenarios_defects_and_load(artefacts: Path) -> None:
    security = {s.name: s for s in analyse(collect(artefacts)).security}
    replay = security["Replay"]
    assert (replay.outcome, replay.passed, replay.load_requests) == ("held", 2, 120)  # replay + dup roles
    assert security["Stale or future timestamps"].passed == 1
    assert security["Rate limiting"].defects_caught == ("no_rate_limit",)
    assert security["Oversize bodies"].outcome == "held"
    forged = security["Forged or missing signature"]
    assert (forged.load_requests, forged.passed, forged.outcome) == (20, 0, "held")
    assert security["Cross-origin requests (CORS)"].outcome == "not tried"


def test_recommendations_follow_the_gaps(artefacts: Path, edit: Editor) -> None:
    data = analyse(collect(artefacts))
    actions = [r.action for r in data.recommendations]
    assert any(a.startswith("Cover 1 untested scenario(s) PAYU-SIGNATURE") for a in actions)
    assert any('@pytest.mark.scenario("PAYU-SIGNATURE")' in a for a in actions)
    # API coverage in the fixture is 75 % lines, 50 % branches: under the floors.
    assert any(a.startswith("Raise coverage of API") for a in actions)
    assert not any("Raise coverage of PayU client" in a for a in actions)
    assert any(a.startswith("Try cross-origin requests") for a in actions)
    assert [r.priority for r in data.recommendations] == sorted(
        (r.priority for r in data.recommendations), key=("now", "soon", "later").index
    )
