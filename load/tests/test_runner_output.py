"""When Locust fails, ``payharness load`` quotes the end of its logs instead of only naming the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from load.runner import _print_outcome, log_tail


def test_a_failed_run_prints_the_tail_of_each_locust_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "locust-master.log").write_text("".join(f"line {n}\n" for n in range(1, 41)))
    (tmp_path / "locust-worker-0.log").write_text("ImportError: no module named nope\n")
    _print_outcome(tmp_path, 1)
    err = capsys.readouterr().err
    assert "line 40" in err and "line 21" in err and "line 20\n" not in err
    assert "ImportError: no module named nope" in err and "locust-worker-0.log" in err


def test_a_clean_run_prints_no_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "locust-master.log").write_text("all fine\n")
    _print_outcome(tmp_path, 0)
    assert "all fine" not in capsys.readouterr().err


def test_the_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "absent.log") == ""
    (tmp_path / "short.log").write_text("a\nb\n")
    assert log_tail(tmp_path / "short.log", lines=1) == "b"
