"""pytest plugin: links tests to the scenario catalog and writes scenario → outcome as JSON.

Each test names the scenarios it covers with ``@pytest.mark.scenario("WH-REPLAY")``. An id missing from
``suites/scenarios.toml``, or named twice on one test, fails the collection of its module and so stops
the run (a typo must not silently uncover a scenario, and a copied marker must not hide a missing one).

The links travel inside the test reports (``user_properties``), and ``scenarios.json`` is built from
reports alone: under pytest-xdist the controller never collects, it only receives the workers' reports,
so a link kept anywhere else would be lost. The file is written beside the JUnit XML (``--junitxml``), or
where ``--scenarios-json`` says, or at ``artefacts/scenarios.json``. It says for each scenario whether its
tests passed, failed, were skipped, were not runnable here (a skip through ``not_runnable(reason)``: the
service under test cannot support the scenario, and the reason travels to the report), or whether no
test that ran covers it — what the report turns into
"tested / not tested" per integration point. Nothing in it depends on the run's order or its time, so a
run with ``-n 2`` writes the same file as a run without.

Usage: registered by the root conftest (``pytest_plugins``); ``pytest --scenarios-json out.json``.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter, defaultdict
from collections.abc import Generator, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.paths import repo_root

CATALOG = repo_root() / "suites" / "scenarios.toml"
DEFAULT_TARGET = Path("artefacts") / "scenarios.json"
PROPERTY = "scenario"  # the user_properties name that carries one scenario id
# A test that cannot apply to the service under test skips with this prefix and its reason
# (``pytest.skip(not_runnable("no [webhooks] wompi"))``): the scenario is then "not runnable" with that
# reason, never "skipped", "not covered" or "passed".
NOT_RUNNABLE = "not runnable: "


def not_runnable(reason: str) -> str:
    """The skip message that makes a test, and a scenario only it covers, "not runnable" with ``reason``."""
    return f"{NOT_RUNNABLE}{reason}"


def _not_runnable_reason(report: pytest.TestReport) -> str | None:
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple | list) and len(longrepr) == 3:  # a list after xdist's JSON
        message = str(longrepr[2]).removeprefix("Skipped: ")
        if message.startswith(NOT_RUNNABLE):
            return message.removeprefix(NOT_RUNNABLE)
    return None


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
    parser.addoption("--scenarios-json", default=None,
                     help="where to write scenario → outcome (default: scenarios.json beside --junitxml, else "
                          "artefacts/scenarios.json; empty string: don't write)")
    parser.addoption("--scenarios-catalog", default=str(CATALOG),
                     help="the scenario catalog (TOML) that markers are checked against")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ScenarioRecorder(config), "payharness-scenarios")


def scenario_ids(item: pytest.Item) -> list[str]:
    """The scenario ids a test names, from its own marker and any on its class or module, in that order."""
    return [str(scenario_id) for mark in item.iter_markers("scenario") for scenario_id in mark.args]


def record(links: dict[str, set[str]], outcomes: dict[str, str], report: pytest.TestReport,
           reasons: dict[str, str] | None = None) -> None:
    """Fold one report (setup, call or teardown) into the links and the test's outcome (and why not runnable)."""
    for name, value in report.user_properties:
        if name == PROPERTY:
            links[str(value)].add(report.nodeid)
    # A failure in setup or teardown fails the test; a skip anywhere is a skip; otherwise the call decides.
    previous = outcomes.get(report.nodeid)
    reason = _not_runnable_reason(report)
    if report.failed:
        outcomes[report.nodeid] = "failed"
    elif reason is not None and previous != "failed":
        outcomes[report.nodeid] = "not runnable"
        if reasons is not None:
            reasons[report.nodeid] = reason
    elif report.skipped and previous != "failed":
        outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and previous is None:
        outcomes[report.nodeid] = "passed"


class ScenarioRecorder:
    """Checks the markers where tests are collected, and folds reports where they arrive.

    In a plain run both happen in one process; under xdist the workers collect (and attach the ids to
    each item's ``user_properties``) and the controller receives every report and writes the file.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.catalog = Path(config.getoption("--scenarios-catalog"))
        self.known = {e["id"] for e in load_catalog(self.catalog)}
        self.links: dict[str, set[str]] = defaultdict(set)
        self.outcomes: dict[str, str] = {}
        self.reasons: dict[str, str] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, pytest.CollectReport,
                                                                                    pytest.CollectReport]:
        # A bad marker fails the collection of its module (or class): that stops the run, and under xdist the
        # controller shows the worker's collection error as it is (an exception in a later collection hook
        # reaches it only as an unreadable internal error).
        report = yield
        if not report.passed:
            return report
        problems: list[str] = []
        for item in report.result:
            if isinstance(item, pytest.Item):
                problems.extend(self._check(item))
        if problems:
            report.outcome = "failed"
            report.longrepr = "\n".join(problems)
            report.result = []
        return report

    def _check(self, item: pytest.Item) -> list[str]:
        ids = scenario_ids(item)
        problems = [f"scenario id not in {self.catalog.name}: {i} ({item.nodeid})" for i in ids
                    if i not in self.known]
        problems += [f"scenario id named twice on one test (module, class and test markers add up): {i} "
                     f"({item.nodeid})" for i, n in Counter(ids).items() if n > 1]
        item.user_properties.extend((PROPERTY, i) for i in dict.fromkeys(ids))
        return problems

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record(self.links, self.outcomes, report, self.reasons)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        target = target_path(self.config)
        if target is None or hasattr(self.config, "workerinput"):  # xdist workers: the controller writes it
            return
        report = build_report(load_catalog(self.catalog), self.links, self.outcomes, self.catalog.name, self.reasons)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=2) + "\n")


def scenario_status(runnable: bool, outcomes: list[str]) -> str:
    if not runnable:
        return "not runnable"
    if not outcomes:
        return "not covered"
    if "failed" in outcomes:
        return "failed"
    # Not runnable only when no linked test could run: one that ran decides, as if the others were absent.
    if all(o == "not runnable" for o in outcomes):
        return "not runnable"
    outcomes = [o for o in outcomes if o != "not runnable"]
    if all(o == "skipped" for o in outcomes):
        return "skipped"
    return "passed"


def build_report(
    catalog: list[dict[str, Any]], links: Mapping[str, Iterable[str]], outcomes: dict[str, str],
    catalog_name: str = CATALOG.name, reasons: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """scenario → its tests (by node id) and a status, plus counts per integration point.

    Usage: ``build_report(load_catalog(), {"WH-REPLAY": {"suites/…::test_x"}}, {"suites/…::test_x": "passed"})``.
    """
    scenarios = []
    reasons = reasons or {}
    for entry in catalog:
        tests = [{"nodeid": n, "outcome": outcomes.get(n, "not run")} for n in sorted(links.get(entry["id"], ()))]
        ran = [t["outcome"] for t in tests if t["outcome"] != "not run"]
        status = scenario_status(entry.get("runnable", True), ran)
        why = [reasons[t["nodeid"]] for t in tests if t["nodeid"] in reasons]
        for t in tests:
            if t["nodeid"] in reasons:
                t["reason"] = reasons[t["nodeid"]]
        extra = {"reason": "; ".join(dict.fromkeys(why))} if status == "not runnable" and why else {}
        scenarios.append({**entry, "runnable": entry.get("runnable", True) and status != "not runnable",
                          "tests": tests, "status": status, **extra})
    points: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in scenarios:
        points[s["point"]]["total"] += 1
        points[s["point"]][s["status"]] += 1
    return {"catalog": catalog_name, "scenarios": scenarios,
            "by_point": {k: dict(sorted(v.items())) for k, v in sorted(points.items())}}


def target_path(config: pytest.Config) -> Path | None:
    """Where scenarios.json goes: ``--scenarios-json``, else beside ``--junitxml``, else artefacts/."""
    explicit = config.getoption("--scenarios-json")
    if explicit is not None:
        return Path(explicit) if explicit else None
    junit = getattr(config.option, "xmlpath", None)
    return Path(junit).parent / "scenarios.json" if junit else DEFAULT_TARGET
