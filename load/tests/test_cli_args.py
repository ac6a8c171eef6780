"""``payharness load`` and ``payharness bench-load`` refuse bad values in their parser (exit 2, one line naming
the argument) before any stack or Locust starts, and their --help explains every option in plain text."""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from load import bench, runner

MAINS: dict[str, Callable[[Sequence[str] | None], int]] = {"load": runner.main, "bench-load": bench.main}
PARSERS = {"load": runner.build_parser, "bench-load": bench.build_parser}
BAD = [
    ("load", ["--rate", "-1"], "--rate"),
    ("load", ["--rate", "nan"], "--rate"),
    ("load", ["--duration", "0"], "--duration"),
    ("load", ["--workers", "-2"], "--workers"),
    ("load", ["--core-workers", "0"], "--core-workers"),
    ("load", ["--user-rate", "0"], "--user-rate"),
    ("load", ["--defect", "nope"], "--defect"),
    ("load", ["--mix", "dup=2"], "--mix"),
    ("load", ["--mix", "typo=0.1"], "--mix"),
    ("load", ["--users", "NoSuchUser"], "--users"),
    ("load", ["--check-p99", "-5"], "--check-p99"),
    ("load", ["--check-error-ratio", "1.5"], "--check-error-ratio"),
    ("load", ["--restart-core-at", "-1"], "--restart-core-at"),
    ("load", ["--duration", "10", "--restart-core-at", "12"], "--restart-core-at"),
    ("load", ["--kill-db-connections-at", "-3"], "--kill-db-connections-at"),
    ("load", ["--crash-postgres-at", "-1"], "--crash-postgres-at"),
    ("load", ["--duration", "20", "--crash-postgres-at", "5", "--crash-postgres-at", "20"], "--crash-postgres-at"),
    ("load", ["--defect-env", "NOEQUALS"], "--defect-env"),
    ("load", ["--pacing", "half-open"], "--pacing"),
    ("load", ["--max-in-flight", "0"], "--max-in-flight"),
    ("load", ["--open-users", "0"], "--open-users"),
    ("load", ["--pacing", "open", "--user-rate", "25"], "--user-rate"),
    ("bench-load", ["--pacing", "open", "--user-rate", "25"], "--user-rate"),
    ("bench-load", ["--open-users", "0"], "--open-users"),
    ("bench-load", ["--pacing", "wide"], "--pacing"),
    ("bench-load", ["--max-in-flight", "-1"], "--max-in-flight"),
    ("bench-load", ["--start", "-5"], "--start"),
    ("bench-load", ["--budget", "0"], "--budget"),
    ("bench-load", ["--resolution", "-1"], "--resolution"),
    ("bench-load", ["--step-seconds", "0"], "--step-seconds"),
    ("bench-load", ["--workers", "0"], "--workers"),
    ("bench-load", ["--hold", "-1"], "--hold"),
]


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if parsing let a command through to the code that starts processes."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a process was started: the argument was not rejected by the parser")

    for name in ("Popen", "call", "run"):
        monkeypatch.setattr(subprocess, name, refuse)


@pytest.mark.parametrize(("command", "argv", "flag"), BAD, ids=[f"{c} {' '.join(a)}" for c, a, _ in BAD])
def test_a_bad_value_is_refused_by_the_parser_with_exit_2_naming_the_argument(
    command: str, argv: list[str], flag: str, nothing_starts: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        MAINS[command](argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"payharness {command}: error: argument {flag}" in err, err
    assert "Traceback" not in err and err.rstrip().splitlines()[-1].startswith(f"payharness {command}: error"), err


def test_an_unknown_defect_names_the_known_ones(nothing_starts: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        runner.main(["--defect", "nope"])
    assert "no_row_lock" in capsys.readouterr().err


@pytest.mark.parametrize("env", [{"PAYHARNESS_DATABASE_URL": "postgresql://me@127.0.0.1:5432/postgres"},
                                 {"PAYHARNESS_POSTGRES": "docker"}], ids=["dsn", "docker"])
def test_a_postgres_crash_is_refused_on_a_server_the_harness_does_not_own(
    env: dict[str, str], nothing_starts: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("PAYHARNESS_DATABASE_URL", "PAYHARNESS_POSTGRES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["--duration", "20", "--crash-postgres-at", "8"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument --crash-postgres-at: needs the embedded Postgres" in err, err
    runner.parse_args(["--duration", "20"])  # the same server without a crash is fine


def test_good_values_parse() -> None:
    args = runner.parse_args(["--rate", "50", "--duration", "20", "--restart-core-at", "5", "--mix", "none",
                              "--users", "WompiWebhookUser", "--defect", "no_row_lock", "--check-error-ratio", "-1"])
    assert (args.rate, args.duration, args.restart_core_at, args.users) == (50.0, 20.0, 5.0, ["WompiWebhookUser"])
    parsed = bench.build_parser().parse_args(["--start", "100", "--budget", "200.5"])
    assert (parsed.start, parsed.budget) == (100.0, 200.5)


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_the_help_is_plain_text_and_explains_every_option(command: str) -> None:
    parser = PARSERS[command]()
    assert parser.prog == f"payharness {command}" and parser.description
    unexplained = [a.dest for a in parser._actions if a.help != argparse.SUPPRESS and not (a.help or "").strip()]
    assert unexplained == []
    texts = [parser.description or "", *(a.help or "" for a in parser._actions)]
    assert [t for t in texts if re.search(r"``|:\w+:`", t)] == []
