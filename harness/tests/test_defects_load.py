"""The matrix's load part fails closed: a load=True defect's load is caught only when the clean core's load audit
is clean, its own load finished with an audit naming the core's anomalies, and the defect was confirmed applied;
a crash, a timeout, no audit.json, an unclean baseline are inconclusive, never caught or missed."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from harness.defects import REGISTRY, Seeding
from harness.defects import matrix as matrix_module
from harness.defects.loadrun import LOCUST_OVERRAN, TIMED_OUT, LoadRun, LoadVerdict, combine, judge_load, read_load

LOCK = REGISTRY["no_row_lock"]  # parts: code
APPLIED = {LOCK.name: {"code"}}
CLEAN = LoadRun(0, 40.0, {})


def _found(**counts: int) -> LoadRun:
    return LoadRun(1, 40.0, counts)


def test_anomalies_with_a_clean_baseline_and_the_defect_applied_are_caught() -> None:
    verdict = judge_load(LOCK, _found(state_mismatch=4, approved_drift=2), CLEAN, APPLIED)
    assert (verdict.outcome, verdict.kinds) == ("caught", ("approved_drift", "state_mismatch"))


def test_a_clean_audit_with_the_defect_applied_is_missed() -> None:
    assert judge_load(LOCK, LoadRun(0, 40.0, {}), CLEAN, APPLIED).outcome == "missed"


@pytest.mark.parametrize(
    ("baseline", "reason"),
    [
        (None, "no clean load baseline: it was not run"),
        (_found(lost_event=1), "the clean core's load audit is not clean: lost_event 1"),
        (LoadRun(TIMED_OUT, 300.0, None, "audit.json was not written"), "no clean load baseline: the load timed out"),
        (LoadRun(0, 40.0, None, "audit.json was not written"), "no clean load baseline: no audit"),
    ],
    ids=["none", "unclean", "timed-out", "no-audit"],
)
def test_without_a_clean_load_baseline_anomalies_are_inconclusive(baseline: LoadRun | None, reason: str) -> None:
    verdict = judge_load(LOCK, _found(state_mismatch=4), baseline, APPLIED)
    assert verdict.outcome == "inconclusive"
    assert verdict.reason.startswith(reason)


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (LoadRun(TIMED_OUT, 300.0, {"lost_event": 3}), "timed out"),
        (LoadRun(LOCUST_OVERRAN, 200.0, {"lost_event": 3}), "exited 124"),
        (LoadRun(-signal.SIGKILL, 9.0, {"lost_event": 3}), "exited -9"),
        (LoadRun(2, 0.5, {"lost_event": 3}), "exited 2"),
        (LoadRun(1, 30.0, None, "audit.json was not written"), "no audit: audit.json was not written"),
        (LoadRun(1, 30.0, {}), "exited 1 with a clean audit"),
        (LoadRun(0, 30.0, {"lost_event": 3}), "exited 0 although"),
        (_found(ledger_incomplete=1), "only its own gaps"),
    ],
    ids=["timeout", "overran", "killed", "bad-args", "no-audit", "exit-1-clean", "exit-0-anomalies", "own-gap"],
)
def test_a_load_that_did_not_finish_cleanly_is_inconclusive_whatever_it_found(run: LoadRun, reason: str) -> None:
    verdict = judge_load(LOCK, run, CLEAN, APPLIED)
    assert verdict.outcome == "inconclusive"
    assert reason in verdict.reason


def test_a_defect_not_confirmed_applied_in_its_load_is_inconclusive() -> None:
    verdict = judge_load(LOCK, _found(state_mismatch=4), CLEAN, {})
    assert (verdict.outcome, verdict.reason) == ("inconclusive", "load: not confirmed applied: code (see its record)")


@pytest.mark.parametrize(
    ("suites", "load", "outcome"),
    [
        ("caught", "caught", "caught"),
        ("caught", "missed", "missed"),
        ("caught", "inconclusive", "inconclusive"),
        ("missed", "caught", "missed"),
        ("missed", "inconclusive", "inconclusive"),
        ("inconclusive", "caught", "inconclusive"),
    ],
)
def test_a_rows_outcome_is_the_worse_of_its_suites_and_its_load(suites: str, load: str, outcome: str) -> None:
    assert combine(suites, "s", LoadVerdict(load, "l"))[0] == outcome
    assert combine(suites, "s", None) == (suites, "s")


def _audit(folder: Path, body: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audit.json").write_text(body if isinstance(body, str) else json.dumps(body))
    return folder


def test_read_load_takes_the_anomaly_counts_and_refuses_a_file_that_disagrees_with_itself(tmp_path: Path) -> None:
    found = _audit(tmp_path / "a", {"audit": {"ok": False, "anomaly_counts": {"lost_event": 2},
                                              "anomalies": {"lost_event": [{"subject": "wompi:1", "detail": "x"}]}}})
    assert read_load(found, 1, 30.0) == LoadRun(1, 30.0, {"lost_event": 2}, examples={"lost_event": ["wompi:1"]})
    clean = _audit(tmp_path / "b", {"audit": {"ok": True, "anomaly_counts": {}, "anomalies": {}}})
    assert read_load(clean, 0, 30.0).anomalies == {}
    for name, body in (("torn", "{"), ("no-audit", {"thresholds": {}}),
                       ("ok-with-anomalies", {"audit": {"ok": True, "anomaly_counts": {"lost_event": 1}}}),
                       ("not-ok-without", {"audit": {"ok": False, "anomaly_counts": {}}})):
        assert read_load(_audit(tmp_path / name, body), 1, 30.0).anomalies is None, name
    assert read_load(tmp_path / "absent", 1, 30.0).error == "audit.json was not written"


def _fake_load(results: dict[str, LoadRun], calls: list[str]) -> object:
    def run_load(folder: Path, defect: object, timeout: float) -> LoadRun:
        name = getattr(defect, "name", "clean")
        calls.append(name)
        if defect is not None:
            Seeding((defect,), folder / "applied").write_record("core", {name: {"code"}})  # type: ignore[arg-type]
        return results[name]

    return run_load


def _matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loads: dict[str, LoadRun], calls: list[str],
            *extra: str) -> tuple[int, dict[str, object]]:
    clean = tmp_path / "clean.xml"
    clean.write_text('<testsuites><testsuite><testcase classname="suites.races.test_r" name="test_guard"/>'
                     "</testsuite></testsuites>")

    def caught(targets: object, junit: Path, defect: object, record: Path, timeout: float) -> matrix_module.SuitesRun:
        Seeding((LOCK,), record).write_record("core", {LOCK.name: {"code"}})
        junit.write_text('<testsuites><testsuite><testcase classname="suites.races.test_r" name="test_guard">'
                         '<failure message="x"/></testcase></testsuite></testsuites>')
        return matrix_module.read_run(junit, 1, 1.0)

    monkeypatch.setattr(matrix_module, "run_suites", caught)
    monkeypatch.setattr(matrix_module, "run_load", _fake_load(loads, calls))
    code = matrix_module.main(["--only", LOCK.name, "--artefacts", str(tmp_path), "--clean-junit", str(clean),
                               *extra])
    return code, json.loads((tmp_path / "defects.json").read_text())


def test_the_matrix_runs_the_clean_load_first_and_a_caught_load_keeps_the_row_caught(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    code, matrix = _matrix(tmp_path, monkeypatch, {"clean": CLEAN, LOCK.name: _found(state_mismatch=3)}, calls,
                           "--load")
    row = matrix["defects"][0]  # type: ignore[index]
    assert calls == ["clean", LOCK.name] and code == 0
    assert (row["outcome"], row["load"]["outcome"], row["load_anomalies"]) == ("caught", "caught",
                                                                              ["state_mismatch × 3"])
    assert matrix["clean"]["load"]["anomalies"] == {}  # type: ignore[index]


def test_a_crashed_load_makes_a_row_the_suites_caught_inconclusive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    crashed = LoadRun(-signal.SIGKILL, 5.0, None, "audit.json was not written")
    code, matrix = _matrix(tmp_path, monkeypatch, {"clean": CLEAN, LOCK.name: crashed}, calls, "--load")
    row = matrix["defects"][0]  # type: ignore[index]
    assert code == 1
    assert (row["outcome"], row["detected"], row["load"]["outcome"]) == ("inconclusive", False, "inconclusive")


def test_without_load_the_matrix_runs_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    code, matrix = _matrix(tmp_path, monkeypatch, {}, calls)
    assert calls == [] and code == 0
    assert matrix["defects"][0]["load"] is None  # type: ignore[index]
