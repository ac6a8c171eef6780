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
