"""The detection matrix fails closed: only a finished run of an applied defect that fails a clean-passing test is
"caught"; a crash, a timeout, a missing JUnit file, an unconfirmed defect or setup errors are inconclusive."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from harness.defects import REGISTRY, Defect, Seeding, applied_parts
from harness.defects import matrix as matrix_module
from harness.defects.catalog import DEFECTS
from harness.defects.matrix import FULL_SUITES, TIMED_OUT, SuitesRun, _targets, judge, read_run, run_defect, run_suites
from reports.model import CaseResult

SCHEMA = REGISTRY["efecty_codes_not_unique"]  # parts: schema
CODE = REGISTRY["no_replay_window"]  # parts: code
CONFIG = REGISTRY["signature_skipped_without_secret"]  # parts: code, config
CLEAN = {"t.py::test_guard": "passed", "t.py::test_other": "passed", "t.py::test_flaky": "failed"}


def _run(*outcomes: tuple[str, str], exit_code: int = 1) -> SuitesRun:
    return SuitesRun(exit_code, 3.0, tuple(CaseResult(n, 0.1, o) for n, o in outcomes))


def _applied(defect: Defect, *parts: str) -> dict[str, set[str]]:
    return {defect.name: set(parts)}


def test_a_finished_applied_run_failing_a_clean_passing_test_is_caught() -> None:
    run = _run(("t.py::test_guard", "failed"), ("t.py::test_other", "passed"))
    verdict = judge(CODE, run, CLEAN, _applied(CODE, "code"))
    assert (verdict.outcome, verdict.caught_by) == ("caught", ("t.py::test_guard",))


def test_every_test_passing_with_the_defect_applied_is_missed() -> None:
    run = _run(("t.py::test_guard", "passed"), ("t.py::test_flaky", "failed"), exit_code=1)
    verdict = judge(CODE, run, CLEAN, _applied(CODE, "code"))
    assert verdict.outcome == "missed"
    assert "did not pass on the clean core" in verdict.reason  # test_flaky fails on the clean core too


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (SuitesRun(TIMED_OUT, 600.0, None, "clean.xml was not written"), "timed out"),
        (SuitesRun(-signal.SIGKILL, 4.0, None, "x.xml was not written"), "pytest exited -9"),
        (SuitesRun(2, 4.0, (CaseResult("t.py::test_guard", 0.1, "failed"),)), "pytest exited 2"),
        (SuitesRun(1, 4.0, None, "x.xml was not written"), "no JUnit results"),
        (_run(("t.py::test_guard", "error"), ("t.py::test_other", "error")), "no test ran"),
        (_run(("t.py::test_guard", "error"), ("t.py::test_other", "passed")), "errored in setup or teardown"),
    ],
    ids=["timeout", "killed", "interrupted", "no-junit", "all-errors", "setup-error"],
)
def test_a_run_that_did_not_finish_cleanly_is_inconclusive_however_much_failed(run: SuitesRun, reason: str) -> None:
    verdict = judge(CODE, run, CLEAN, _applied(CODE, "code"))
    assert verdict.outcome == "inconclusive"
    assert reason in verdict.reason


def test_a_defect_not_confirmed_applied_is_inconclusive_even_when_a_guard_test_fails() -> None:
    run = _run(("t.py::test_guard", "failed"))
    assert judge(CODE, run, CLEAN, {}).outcome == "inconclusive"
    # A configuration defect needs its code part and its settings both confirmed by the core.
    half = judge(CONFIG, run, CLEAN, _applied(CONFIG, "code"))
    assert (half.outcome, half.reason) == ("inconclusive", "not confirmed applied: config (see the run's record)")
    assert judge(CONFIG, run, CLEAN, _applied(CONFIG, "code", "config")).outcome == "caught"


def test_without_a_clean_baseline_nothing_is_caught() -> None:
    run = _run(("t.py::test_guard", "failed"))
    verdict = judge(CODE, run, None, _applied(CODE, "code"))
    assert verdict.outcome == "inconclusive" and "baseline" in verdict.reason


def test_a_record_is_what_each_writer_applied_merged(tmp_path: Path) -> None:
    record = tmp_path / "rec"
    seeding = Seeding((CONFIG,), record)
    seeding.write_record("core", {CONFIG.name: {"code"}})
    seeding.write_record("core", {CONFIG.name: {"config"}})
    (record / "torn.json").write_text("{not json")
    assert applied_parts(record) == {CONFIG.name: {"code", "config"}}
    assert applied_parts(tmp_path / "absent") == {}


def test_a_crashed_run_is_inconclusive_even_with_an_earlier_runs_junit_and_record_beside_it(tmp_path: Path) -> None:
    """A real pytest process that cannot run (a bogus test path): exit 4, no JUnit of its own."""
    junit, record = tmp_path / f"{SCHEMA.name}.xml", tmp_path / f"{SCHEMA.name}.applied"
    # What an earlier, successful run of the same defect left in the same artefacts folder.
    junit.write_text('<testsuites><testsuite><testcase classname="t" name="test_guard"><failure message="x"/>'
                     "</testcase></testsuite></testsuites>")
    Seeding((SCHEMA,), record).write_record("schema", {SCHEMA.name: {"schema"}})

    run = run_suites(["suites/no_such_suite_here"], junit, SCHEMA, record, timeout=120)
    assert run.exit_code == 4 and "t.py::test_guard" not in run.outcomes
    assert not record.exists()
    verdict = judge(SCHEMA, run, {"t.py::test_guard": "passed"}, applied_parts(record))
    assert verdict.outcome == "inconclusive" and "pytest exited 4" in verdict.reason


def test_a_killed_run_writes_an_inconclusive_row_and_the_matrix_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean.xml"
    clean.write_text('<testsuites><testsuite><testcase classname="suites.replay.test_w" name="test_guard"/>'
                     "</testsuite></testsuites>")

    def killed(targets: object, junit: Path, defect: object, record: object, timeout: float) -> SuitesRun:
        return read_run(junit, -signal.SIGKILL, 1.0)  # the run died before it wrote anything

    monkeypatch.setattr(matrix_module, "run_suites", killed)
    code = matrix_module.main(["--only", CODE.name, "--artefacts", str(tmp_path), "--clean-junit", str(clean)])
    row = json.loads((tmp_path / "defects.json").read_text())["defects"][0]
    assert code == 1
    assert (row["outcome"], row["detected"]) == ("inconclusive", False)
    assert "pytest exited -9" in row["reason"]
    assert "INCONCLUSIVE" in capsys.readouterr().out


def test_run_defect_reads_the_record_its_run_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def applied_and_failing(targets: object, junit: Path, defect: object, record: Path, timeout: float) -> SuitesRun:
        Seeding((CODE,), record).write_record("core", {CODE.name: {"code"}})
        return _run(("t.py::test_guard", "failed"))

    monkeypatch.setattr(matrix_module, "run_suites", applied_and_failing)
    row = run_defect(CODE, tmp_path / "defects", CLEAN, quick=True, timeout=10)
    assert (row["outcome"], row["caught_by"], row["applied"]) == ("caught", ["t.py::test_guard"], ["code"])


def test_an_inconclusive_runs_log_names_its_cause(tmp_path: Path) -> None:
    from harness.defects.matrix import log_cause

    log = tmp_path / "d.log"
    log.write_text("....\nsuites/conftest.py:120: in live\n"
                   "E   suites.support.reset.ResetError: the core's database did not go quiet in 15 s: pid 7 active\n"
                   "!!!!!!! _pytest.outcomes.Exit: reset failed !!!!!!!\n\n")
    assert log_cause(log).startswith("E   suites.support.reset.ResetError: the core's database did not go quiet")
    log.write_text("collected 0 items\n\nno tests ran in 0.01s\n")
    assert log_cause(log) == "no tests ran in 0.01s"
    assert log_cause(tmp_path / "missing.log") == ""


def test_a_full_run_covers_every_suite_a_quick_run_names() -> None:
    """--full runs "every suite": a defect caught only by a suite outside it would read missed there."""
    for defect in DEFECTS:
        full = _targets(defect, quick=False)
        assert full == FULL_SUITES
        outside = [q for q in defect.quick if not any(q == f or q.startswith(f + "/") for f in full)]
        assert not outside, f"{defect.name}: its quick suites {outside} are not in FULL_SUITES"
