"""A target audit lists the core's own catalog (builtin_scenarios.json) in its scenario tables: a scenario whose
tests live only in families that cannot run against a foreign target is "not runnable" with each family's
reason, never "not covered", never left out, and never counted as tested or passed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reports.analyse import analyse
from reports.build import build_report
from reports.collect import collect
from reports.render import to_plain
from reports.tests.support import Editor
from reports.tests.test_target_report import _portable

RACES = "reads the anomaly log of the core"
REPLAY = "seeds orders by SQL"
UNITS = "unit tests of the reference core"
NO_SMS = "the reference core sends no SMS"
BUILTIN: dict[str, Any] = {
    "catalog": "suites/scenarios.toml",
    "locations": {"suites/races": RACES, "suites/replay": REPLAY, "core/tests": UNITS, "suites/portable": None},
    "scenarios": [
        {"id": "WH-RACE", "point": "webhooks", "title": "fifty approvals race", "source": "seed-finding",
         "runnable": True, "reason": "", "locations": ["suites/races"]},
        {"id": "WH-REPLAY", "point": "webhooks", "title": "a replay moves nothing", "source": "added",
         "runnable": True, "reason": "", "locations": ["core/tests", "suites/replay"]},
        {"id": "PAYU-SIGNATURE", "point": "payu", "title": "signature vectors", "source": "seed-tested",
         "runnable": True, "reason": "", "locations": []},
        {"id": "EFECTY-NOTIFICATIONS", "point": "efecty", "title": "notifications", "source": "seed-not-tested",
         "runnable": False, "reason": NO_SMS, "locations": []},
        {"id": "API-SHARED", "point": "api", "title": "tested by a family that runs", "source": "added",
         "runnable": True, "reason": "", "locations": ["suites/portable"]},
        # An id the run's own scenarios.json has: its verdict there stands, and it is listed once.
        {"id": "T-WEBHOOK-RACE", "point": "webhooks", "title": "race", "source": "seed-finding",
         "runnable": True, "reason": "", "locations": ["suites/races"]},
    ],
}
NOW = datetime(2026, 12, 4, tzinfo=UTC)


@pytest.fixture
def target(artefacts: Path, edit: Editor) -> Path:
    """A target audit's folder: portable scenarios.json, run.json naming the target, builtin_scenarios.json."""
    edit("run.json", lambda d: d.update(target={"name": "seed-shop", "profile": "target.toml"}))
    edit("scenarios.json", _portable)
    (artefacts / "builtin_scenarios.json").write_text(json.dumps(BUILTIN), encoding="utf-8")
    return artefacts


def _statuses(folder: Path) -> dict[str, tuple[str, str]]:
    return {s.id: (s.status, s.reason) for p in analyse(collect(folder)).points
            for s in (*p.tested, *p.not_tested) if p.point in ("webhooks", "payu", "efecty", "api")}


def test_a_scenario_whose_tests_live_only_in_core_families_is_not_runnable_with_each_familys_reason(
        target: Path) -> None:
    statuses = _statuses(target)
    assert statuses["WH-RACE"] == ("not runnable", f"suites/races: {RACES}")
    assert statuses["WH-REPLAY"] == ("not runnable", f"core/tests: {UNITS}; suites/replay: {REPLAY}")
    assert statuses["EFECTY-NOTIFICATIONS"] == ("not runnable", NO_SMS)
    # No test anywhere, or a test in a family that runs here but no verdict: not covered, not "not runnable".
    assert statuses["PAYU-SIGNATURE"][0] == "not covered"
    assert statuses["API-SHARED"][0] == "not covered"
    assert statuses["T-WEBHOOK-RACE"] == ("failed", "")


def test_not_runnable_scenarios_count_among_a_points_scenarios_but_never_as_tested_or_passed(target: Path) -> None:
    webhooks = next(p for p in analyse(collect(target)).points if p.point == "webhooks")
    # The portable T-WEBHOOK-RACE (failed) and T-WEBHOOK-FORGED (passed), plus WH-RACE and WH-REPLAY.
    assert (webhooks.total, len(webhooks.tested), webhooks.passed, webhooks.failed) == (4, 2, 1, 1)
    assert (webhooks.not_runnable, webhooks.not_covered) == (2, 0)
    assert (webhooks.coverage_pct, webhooks.pass_pct) == (50.0, 25.0)
    assert [s.id for s in webhooks.not_tested] == ["WH-RACE", "WH-REPLAY"]
    assert webhooks.builtin_source is not None and webhooks.builtin_source.path == "builtin_scenarios.json"


def test_the_pages_list_each_not_runnable_scenario_with_its_reason_and_say_how_many_and_why(target: Path,
                                                                                            tmp_path: Path) -> None:
    data = build_report(target, tmp_path / "report")
    here = data.not_runnable_here
    assert here is not None and (here.total, here.not_runnable, here.by_families, here.by_catalog) == (5, 3, 2, 1)
    assert {f: n for f, _, n in here.by_family} == {"suites/races": 1, "suites/replay": 1, "core/tests": 1}
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "| Webhooks | 4 | 2 | 1 | 1 | 0 | 2 | 50 % | 25 % |" in md
    assert f"`WH-RACE` (not runnable: suites/races: {RACES})" in md
    assert f"`WH-REPLAY` (not runnable: core/tests: {UNITS}; suites/replay: {REPLAY})" in md
    says = ("adds 5 scenarios to these rows; 3 of them are not runnable against a foreign target and count among "
            "each point's scenarios, never as tested, passed or failed: 2 because their tests live only in suite "
            "families that need the reference core itself")
    assert says in md and says in html
    assert "1 because the catalog itself says so" in md
    assert f"`suites/races` (1): {RACES}" in md
    assert "### Webhooks (2 not runnable)" in md
    assert '<td class="st-not-runnable">not runnable</td>\n<td>suites/races: ' + RACES + "</td>" in html
    assert f"<tr><td><code>suites/replay</code></td><td class=\"n\">1</td><td>{REPLAY}</td></tr>" in html
    assert "25 % passing, 2 not runnable</h3>" in html
    assert 'scenarios.json</a>; <a href="../artefacts/builtin_scenarios.json">builtin_scenarios.json</a></p>' in html


def test_the_core_catalog_changes_neither_the_score_nor_the_portable_scenarios_verdicts(target: Path) -> None:
    with_builtin = analyse(collect(target), now=NOW)
    (target / "builtin_scenarios.json").unlink()
    without = analyse(collect(target), now=NOW)
    assert with_builtin.score == without.score
    portable = {s.id for s in collect(target).scenarios.scenarios}
    assert {s.id: s.status for p in with_builtin.points for s in (*p.tested, *p.not_tested) if s.id in portable} \
        == {s.id: s.status for p in without.points for s in (*p.tested, *p.not_tested) if s.id in portable}


def test_a_target_audit_without_the_core_catalog_says_it_is_not_listed(target: Path, tmp_path: Path) -> None:
    (target / "builtin_scenarios.json").unlink()
    build_report(target, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "The reference core's own catalog is not listed: _Source: builtin_scenarios.json not measured" in md


def test_the_core_audit_is_unchanged_by_a_builtin_scenarios_file(artefacts: Path) -> None:
    before = to_plain(analyse(collect(artefacts), now=NOW))
    (artefacts / "builtin_scenarios.json").write_text(json.dumps(BUILTIN), encoding="utf-8")
    after = analyse(collect(artefacts), now=NOW)
    assert after.not_runnable_here is None
    assert to_plain(after) == before


def test_a_core_catalog_naming_a_family_it_gives_no_reason_for_is_unreadable_not_guessed(target: Path) -> None:
    (target / "builtin_scenarios.json").write_text(json.dumps({**BUILTIN, "locations": {}}), encoding="utf-8")
    found = collect(target).builtin
    assert found is not None and found.source.error and "KeyError" in found.source.error
    assert found.scenarios == ()
