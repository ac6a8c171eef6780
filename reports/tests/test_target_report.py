"""An audit of a foreign service (run.json names a target): the core-only artefacts are not applicable, with
their reason, not "not measured", not issues and not in the score; its own artefacts stay expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports.analyse import analyse
from reports.build import build_report
from reports.collect import collect
from reports.model import CORE_ONLY
from reports.tests.support import Editor

CORE_FILES = ("coverage.json", "defects.json", "mutants.json", "bench.json", "bench_db.json")
SEED = '''
[[finding]]
id = "S1"
title = "Race condition in webhook processing"
seed_section = "1.3"
seed_severity = "high"
seed_tested = false
scenarios = ["T-WEBHOOK-RACE"]
note = "The shop reads the order and writes it back with no row lock."
'''


@pytest.fixture
def foreign(artefacts: Path, edit: Editor) -> Path:
    """The hand-made folder as ``payharness audit --target`` leaves it: no core-only artefacts, no load."""
    for name in CORE_FILES:
        (artefacts / name).unlink()
    (artefacts / "load" / "audit.json").unlink()
    (artefacts / "seed_findings.toml").write_text(SEED, encoding="utf-8")
    edit("run.json", lambda d: d.update(target={"name": "seed-shop", "profile": "target.toml"}))
    return artefacts


def _not_measured(folder: Path) -> set[str]:
    return {i.source.path for i in analyse(collect(folder)).issues if i.kind == "not measured"}


def test_core_only_artefacts_of_a_target_audit_are_not_applicable_and_no_issue(foreign: Path) -> None:
    a = collect(foreign)
    sources = a.sources()
    for name, reason in CORE_ONLY.items():
        assert sources[name].not_applicable == reason, name
    # The target audit's own artefact that is missing still reads as a gap, produced by its own load step.
    assert _not_measured(foreign) == {"load/audit.json"}
    assert sources["load_audit"].command.startswith("payharness audit --target FILE (its load step")


def test_the_same_folder_without_a_target_lists_the_core_artefacts_as_not_measured(foreign: Path,
                                                                                   edit: Editor) -> None:
    edit("run.json", lambda d: d.pop("target"))
    assert _not_measured(foreign) == {"load/audit.json", *CORE_FILES}


def test_not_applicable_score_inputs_are_left_out_of_the_score(foreign: Path) -> None:
    score = analyse(collect(foreign)).score
    inputs = {i.name: i for i in score.inputs}
    assert inputs["defects detected"].not_applicable and inputs["core coverage"].not_applicable
    assert not inputs["consistency audit"].not_applicable  # the load is the target audit's own: not measured, 0
    applicable = [i for i in score.inputs if not i.not_applicable]
    assert score.score == round(100 * sum(i.points for i in applicable) / sum(i.weight for i in applicable), 1)


def test_the_report_says_not_applicable_with_the_reason_and_shows_each_findings_note(foreign: Path,
                                                                                     tmp_path: Path) -> None:
    build_report(foreign, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    for page in (md, html):
        # Up to the reason's first apostrophe, which the HTML escapes.
        assert "coverage.json not applicable to a foreign service (line and branch coverage of the reference" in page
        assert "coverage.json not measured" not in page and "defects.json not measured" not in page
        assert "load/audit.json not measured" in page
        assert "The shop reads the order and writes it back with no row lock." in page
    assert f"coverage.json not applicable to a foreign service ({CORE_ONLY['coverage']})" in md
    s1 = next(line for line in md.splitlines() if line.startswith("| `S1`"))
    assert "| The shop reads the order and writes it back with no row lock. |" in s1


def test_a_gateway_not_runnable_inside_a_scenario_that_ran_is_shown_with_its_reason(foreign: Path, edit: Editor,
                                                                                   tmp_path: Path) -> None:
    reason = "the profile gives no [webhooks] efecty"

    def add_efecty(data: dict[str, Any]) -> None:
        first = next(s for s in data["scenarios"] if s["status"] == "passed")
        first["tests"].append({"nodeid": "suites/portable/test_webhooks.py::test_x[efecty]",
                               "outcome": "not runnable", "reason": reason})
        data["picked"] = first["id"]

    edit("scenarios.json", add_efecty)
    picked = json.loads((foreign / "scenarios.json").read_text(encoding="utf-8"))["picked"]
    build_report(foreign, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert f"`{picked}` (passed; not runnable through efecty: {reason})" in md
    assert f"test_x[efecty]</code> not runnable: {reason}</div>" in html


def _portable(data: dict[str, Any]) -> None:
    """scenarios.json as suites/portable leaves it: webhook scenarios run once per gateway, no "payu" point."""
    hook = "suites/portable/test_webhooks.py::test_{}[{}]"
    no_efecty = "Efecty publishes no webhook"
    data["scenarios"] = [
        {"id": "T-WEBHOOK-RACE", "point": "webhooks", "title": "race", "source": "seed-finding", "status": "failed",
         "tests": [{"nodeid": hook.format("race", "wompi"), "outcome": "passed"},
                   {"nodeid": hook.format("race", "payu"), "outcome": "failed"},
                   {"nodeid": hook.format("race", "efecty"), "outcome": "not runnable", "reason": no_efecty}]},
        {"id": "T-WEBHOOK-FORGED", "point": "webhooks", "title": "forged", "source": "seed-finding",
         "status": "passed",
         "tests": [{"nodeid": hook.format("forged", "wompi"), "outcome": "passed"},
                   {"nodeid": hook.format("forged", "payu"), "outcome": "passed"}]},
        {"id": "T-EFECTY-CODE-UNIQUE", "point": "efecty", "title": "codes", "source": "added", "status": "passed",
         "tests": [{"nodeid": "suites/portable/test_api.py::test_codes", "outcome": "passed"}]},
    ]


def test_a_target_audit_counts_each_gateways_webhook_cases_under_that_gateways_point(foreign: Path, edit: Editor,
                                                                                    tmp_path: Path) -> None:
    edit("scenarios.json", _portable)
    points = {p.point: p for p in analyse(collect(foreign)).points}
    payu = points["payu"]
    assert (payu.total, payu.passed, payu.failed) == (2, 1, 1)
    assert {s.id: s.status for s in payu.tested} == {"T-WEBHOOK-RACE": "failed", "T-WEBHOOK-FORGED": "passed"}
    assert all(t.case == "payu" for s in payu.tested for t in s.tests)
    wompi = points["wompi"]
    assert (wompi.label, wompi.total, wompi.passed) == ("Wompi", 2, 2)
    # Efecty keeps its own scenario, and says its webhook case was not runnable and why.
    efecty = points["efecty"]
    assert (efecty.total, efecty.passed, efecty.not_runnable) == (2, 1, 1)
    assert [s.reason for s in efecty.not_tested] == ["Efecty publishes no webhook"]
    assert (points["webhooks"].total, points["webhooks"].failed) == (2, 1)  # the scenario's own verdict stays
    build_report(foreign, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "| PayU | 2 | 2 | 1 | 1 | 0 | 0 | 100 % | 50 % |" in md
    assert "each gateway's row also counts the webhook scenarios run through it" in md


def test_the_core_audit_keeps_its_catalogs_gateway_points(artefacts: Path) -> None:
    points = {p.point: p for p in analyse(collect(artefacts)).points}
    catalog = json.loads((artefacts / "scenarios.json").read_text(encoding="utf-8"))["scenarios"]
    assert points["payu"].total == sum(1 for s in catalog if s["point"] == "payu")
    assert "wompi" not in points
