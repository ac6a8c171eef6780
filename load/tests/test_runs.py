"""The acceptance table over run folders: a pass needs exit 0, thresholds held and a clean audit; a missing file
is inconclusive, never a pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from load.runs import main, row, table


def _run(folder: Path, *, code: int = 0, breaches: tuple[str, ...] = (), audit_ok: bool | None = True,
         samples: list[dict[str, Any]] | None = None) -> Path:
    folder.mkdir(parents=True)
    thresholds = {"requests": 30000, "failures": 0, "error_ratio": 0.0, "p50_ms": 12.0, "p95_ms": 60.0,
                  "p99_ms": 120.0, "breaches": list(breaches), "ok": not breaches}
    audit = None if audit_ok is None else {"ok": audit_ok, "anomaly_counts": {} if audit_ok else {"lost_event": 2}}
    (folder / "audit.json").write_text(json.dumps({"thresholds": thresholds, "audit": audit}))
    (folder / "run.json").write_text(json.dumps({"exit_code": code}))
    (folder / "stalls.json").write_text(json.dumps({"missed": [3, 4], "seconds": 57}))
    lines = samples if samples is not None else [{"machine": {"others": 0.1, "load1": 1.5}},
                                                 {"machine": {"others": 0.3, "load1": 2.5}}]
    (folder / "samples.jsonl").write_text("\n".join(json.dumps(s) for s in lines) + "\nnot json\n")
    return folder


def test_a_clean_run_passes_and_its_row_carries_the_artefacts_figures(tmp_path: Path) -> None:
    r = row(_run(tmp_path / "run-01"))
    assert r.verdict == "passed"
    assert r.text == "| run-01 | 30,000, 0 failed | 12 / 60 / 120 | clean | 2 of 57 | 0.20 | 2.0 | 0 |"


@pytest.mark.parametrize("kwargs", [
    {"code": 1, "breaches": ("p95 120 ms > 100 ms",)},
    {"code": 1, "audit_ok": False},
    {"code": 0, "audit_ok": None},  # the audit never ran: not clean
    {"code": 1},  # thresholds and audit fine, the run still failed
    {"code": 0, "breaches": ("p99 300 ms > 250 ms",)},  # a breach with exit 0 is still a failure
])
def test_any_broken_part_fails_the_run(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    assert row(_run(tmp_path / "run", **kwargs)).verdict == "failed"


def test_a_folder_without_its_files_is_inconclusive(tmp_path: Path) -> None:
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    r = row(crashed)
    assert r.verdict == "inconclusive" and "INCONCLUSIVE" in r.text and "audit.json" in r.text
    half = _run(tmp_path / "half")
    (half / "run.json").unlink()
    assert row(half).verdict == "inconclusive"


def test_the_count_and_the_exit_code_fail_closed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = [_run(tmp_path / f"run-{i}") for i in range(3)]
    assert main([str(f) for f in good]) == 0
    assert capsys.readouterr().out.endswith("3 of 3 passed\n")
    empty = tmp_path / "run-9"
    empty.mkdir()
    assert main([str(f) for f in [*good, empty]]) == 1
    assert capsys.readouterr().out.endswith("3 of 4 passed (1 inconclusive)\n")
    text, counts = table([*good, _run(tmp_path / "bad", code=1)])
    assert counts == {"passed": 3, "failed": 1, "inconclusive": 0} and text.count("\n") == 5


def test_no_samples_show_as_dashes_and_a_bad_argument_is_a_usage_error(tmp_path: Path) -> None:
    r = row(_run(tmp_path / "run", samples=[]))
    assert "| – | – |" in r.text
    assert main([]) == 2 and main([str(tmp_path / "nope")]) == 2


def test_files_beside_the_folders_are_skipped_but_a_missing_path_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "run-01")
    log = tmp_path / "run-01.log"
    log.write_text("the run's terminal output")
    assert main([str(run), str(log)]) == 0
    captured = capsys.readouterr()
    assert captured.out.endswith("1 of 1 passed\n") and "skipped" in captured.err
    assert main([str(log)]) == 2
    assert main([str(run), str(tmp_path / "run-02")]) == 2


@pytest.mark.parametrize("record", [
    {"crash_postgres_at": [25.0], "events": {"postgres_crashes": [{"at": 25.0, "error": "pg_ctl failed"}]}},
    {"crash_postgres_at": [25.0, 40.0], "events": {"postgres_crashes": [
        {"at": 25.0, "killed_at": 1.0, "gone_at": 1.1, "back_at": 2.0, "first_200_at": 2.5}]}},
    {"crash_postgres_at": [25.0], "events": {}},  # the crash never came: the run ended first
    {"crash_postgres_at": [25.0], "events": {"postgres_crashes": [
        {"at": 25.0, "killed_at": 1.0, "gone_at": 1.1, "back_at": 2.0, "first_200_at": None}]}},
    {"restart_core_at": 12.0, "events": {}},  # the restart failed before it was timed
    {"kill_db_connections_at": [10.0, 20.0], "events": {"db_connections_killed": [12]}},  # the second never came
])
def test_a_chaos_run_whose_fault_did_not_happen_or_was_not_survived_is_no_pass(tmp_path: Path,
                                                                                record: dict[str, Any]) -> None:
    folder = _run(tmp_path / "run")
    (folder / "run.json").write_text(json.dumps({"exit_code": 0, **record}))
    assert row(folder).verdict != "passed"


def test_a_chaos_run_whose_every_fault_happened_and_was_survived_passes(tmp_path: Path) -> None:
    folder = _run(tmp_path / "run")
    crash = {"at": 25.0, "killed_at": 1.0, "gone_at": 1.1, "back_at": 2.0, "first_200_at": 2.5}
    record = {"exit_code": 0, "crash_postgres_at": [25.0], "restart_core_at": 12.0, "kill_db_connections_at": [8.0],
              "events": {"postgres_crashes": [crash], "restart_seconds": 1.2, "db_connections_killed": [0]}}
    (folder / "run.json").write_text(json.dumps(record))
    assert row(folder).verdict == "passed"
