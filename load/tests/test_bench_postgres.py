"""bench-load's throw-away Postgres gets its own server settings (harness/postgres.py applies them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from load import bench


class Started(Exception):
    pass


@pytest.fixture
def started_with(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What bench-load passes to Stack.start; the run stops there, before anything is started."""
    given: dict[str, Any] = {}

    def start(**kwargs: Any) -> None:
        given.update(kwargs)
        raise Started

    monkeypatch.setattr(bench.Stack, "start", start)
    return given


def run_until_start(tmp_path: Path, *options: str) -> None:
    args = bench.build_parser().parse_args(["--artefacts", str(tmp_path), *options])
    with pytest.raises(Started):
        bench.run(args, bench.search_plan(args))


def test_bench_load_starts_its_stack_with_them(tmp_path: Path, started_with: dict[str, Any]) -> None:
    run_until_start(tmp_path)
    assert started_with["postgres_settings"] == bench.POSTGRES_SETTINGS
    assert bench.POSTGRES_SETTINGS["max_wal_size"] == "4GB"


def test_a_setting_given_on_the_command_line_joins_them_and_wins(tmp_path: Path,
                                                                 started_with: dict[str, Any]) -> None:
    run_until_start(tmp_path, "--postgres-setting", "autovacuum_max_workers=1", "--postgres-setting",
                    "max_wal_size=1GB")
    assert started_with["postgres_settings"] == {**bench.POSTGRES_SETTINGS, "autovacuum_max_workers": "1",
                                                 "max_wal_size": "1GB"}


@pytest.mark.parametrize("text", ["autovacuum_max_workers", "=1", "Bad-Name=1", "work_mem=", "a=b c"])
def test_a_malformed_setting_is_refused_before_anything_starts(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.build_parser().parse_args(["--postgres-setting", text])
    assert exit_.value.code == 2 and "expected NAME=VALUE" in capsys.readouterr().err
