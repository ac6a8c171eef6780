"""The scenario plugin: the catalog is well formed and outcomes fold into scenario statuses correctly."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from harness.pytest_scenarios import build_report, load_catalog, not_runnable, record, scenario_status

POINTS = {"payu", "efecty", "webhooks", "database", "api"}


def test_the_catalog_covers_every_integration_point_and_every_seed_gap() -> None:
    catalog = load_catalog()
    assert {e["point"] for e in catalog} == POINTS
    assert sum(e["source"] == "seed-not-tested" for e in catalog) >= 20
    for entry in catalog:
        assert entry["source"] in {"seed-tested", "seed-not-tested", "seed-finding", "added"}, entry["id"]


@pytest.mark.parametrize(
    ("runnable", "outcomes", "status"),
    [(True, [], "not covered"), (False, [], "not runnable"), (True, ["passed", "failed"], "failed"),
     (True, ["skipped"], "skipped"), (True, ["passed", "skipped"], "passed")],
)
def test_outcomes_fold_into_a_scenario_status(runnable: bool, outcomes: list[str], status: str) -> None:
    assert scenario_status(runnable, outcomes) == status


def test_the_report_counts_statuses_per_point() -> None:
    catalog: list[dict[str, Any]] = [{"id": "A", "point": "api", "title": "a", "source": "added"},
               {"id": "B", "point": "api", "title": "b", "source": "added"},
               {"id": "C", "point": "payu", "title": "c", "source": "added", "runnable": False, "reason": "r"}]
    report = build_report(catalog, {"A": ["t1", "t2"]}, {"t1": "passed", "t2": "failed"})
    assert [s["status"] for s in report["scenarios"]] == ["failed", "not covered", "not runnable"]
    assert report["by_point"] == {"api": {"total": 2, "failed": 1, "not covered": 1},
                                  "payu": {"total": 1, "not runnable": 1}}


def _report(nodeid: str, outcome: str, when: str, message: str = "") -> pytest.TestReport:
    longrepr = ("x.py", 1, f"Skipped: {message}") if outcome == "skipped" else None
    return pytest.TestReport(nodeid, ("x.py", 1, nodeid), {}, outcome, longrepr, when,  # type: ignore[arg-type]
                             user_properties=[("scenario", "A")])


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [(["not runnable"], "not runnable"), (["not runnable", "passed"], "passed"),
     (["not runnable", "failed"], "failed"), (["not runnable", "skipped"], "skipped")],
)
def test_not_runnable_decides_only_when_no_linked_test_could_run(outcomes: list[str], status: str) -> None:
    assert scenario_status(True, outcomes) == status


def test_a_not_runnable_skip_is_its_own_outcome_and_carries_its_reason_to_the_scenario() -> None:
    links: dict[str, set[str]] = defaultdict(set)
    outcomes: dict[str, str] = {}
    reasons: dict[str, str] = {}
    record(links, outcomes, _report("t1", "skipped", "setup", not_runnable("no [webhooks] wompi")), reasons)
    record(links, outcomes, _report("t2", "skipped", "setup", "Chromium missing"), reasons)
    assert outcomes == {"t1": "not runnable", "t2": "skipped"}
    catalog: list[dict[str, Any]] = [{"id": "A", "point": "api", "title": "a", "source": "added"}]
    only_t1 = build_report(catalog, {"A": ["t1"]}, outcomes, reasons=reasons)["scenarios"][0]
    assert (only_t1["status"], only_t1["reason"], only_t1["runnable"]) == ("not runnable", "no [webhooks] wompi",
                                                                          False)
    both = build_report(catalog, {"A": ["t1", "t2"]}, outcomes, reasons=reasons)["scenarios"][0]
    assert both["status"] == "skipped"
