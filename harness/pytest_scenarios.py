"""pytest plugin: links tests to the scenario catalog and writes scenario → outcome as JSON.

Each test names the scenarios it covers with ``@pytest.mark.scenario("WH-REPLAY")``. An id missing from
``suites/scenarios.toml`` stops the run at collection (a typo must not silently uncover a scenario).
After the run, ``artefacts/scenarios.json`` (``--scenarios-json``) says for each scenario whether its
tests passed, failed, were skipped, or whether no test covers it — what the report turns into "tested /
not tested" per integration point.

Usage: registered by the root conftest (``pytest_plugins``); ``pytest --scenarios-json out.json``.
"""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.paths import repo_root

CATALOG = repo_root() / "suites" / "scenarios.toml"
_outcomes: dict[str, str] = {}
_links: dict[str, list[str]] = defaultdict(list)


def load_catalog(path: Path = CATALOG) -> list[dict[str, Any]]:
    entries = tomllib.loads(path.read_text())["scenario"]
    ids = [e["id"] for e in entries]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"scenario ids appear twice in {path.name}: {sorted(duplicates)}")
    for entry in entries:
        if entry.get("runnable", True) is False and not entry.get("reason"):
            raise ValueError(f"scenario {entry['id']} is not runnable but gives no reason")
    return list(entries)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scenarios-json", default="artefacts/scenarios.json",
                     help="where to write scenario → outcome (empty string: don't write)")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    known = {e["id"] for e in load_catalog()}
    unknown = set()
    for item in items:
        for mark in item.iter_markers("scenario"):
            for scenario_id in mark.args:
                if scenario_id not in known:
                    unknown.add(f"{scenario_id} ({item.nodeid})")
                _links[scenario_id].append(item.nodeid)
    if unknown:
        raise pytest.UsageError(f"scenario ids not in {CATALOG.name}: {sorted(unknown)}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A failure in setup or teardown fails the test; a skip anywhere is a skip; otherwise the call decides.
    previous = _outcomes.get(report.nodeid)
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and previous != "failed":
        _outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and previous is None:
        _outcomes[report.nodeid] = "passed"


def scenario_status(runnable: bool, outcomes: list[str]) -> str:
    if not runnable:
        return "not runnable"
    if not outcomes:
        return "not covered"
    if "failed" in outcomes:
        return "failed"
    if all(o == "skipped" for o in outcomes):
        return "skipped"
    return "passed"


def build_report(
    catalog: list[dict[str, Any]], links: dict[str, list[str]], outcomes: dict[str, str]
) -> dict[str, Any]:
    scenarios = []
    for entry in catalog:
        tests = [{"nodeid": n, "outcome": outcomes.get(n, "not run")} for n in links.get(entry["id"], [])]
        ran = [t["outcome"] for t in tests if t["outcome"] != "not run"]
        scenarios.append({**entry, "runnable": entry.get("runnable", True), "tests": tests,
                          "status": scenario_status(entry.get("runnable", True), ran)})
    points: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in scenarios:
        points[s["point"]]["total"] += 1
        points[s["point"]][s["status"]] += 1
    return {"generated_at": datetime.now(UTC).isoformat(), "catalog": str(CATALOG.name),
            "scenarios": scenarios, "by_point": {k: dict(v) for k, v in points.items()}}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("--scenarios-json")
    if not target or hasattr(session.config, "workerinput"):  # xdist workers: the controller writes it
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_report(load_catalog(), _links, _outcomes), indent=2))
