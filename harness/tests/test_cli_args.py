"""The payharness command line: every --help is plain text with every option explained, and bad values stop the
parser (exit 2, one line naming the argument) before anything is started. No processes are started here."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest

from harness import cli

# Any command given one of these must fail in argparse; anything reaching the command's body would start
# Postgres or Locust, which the guard below turns into a test failure.
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
    ("load", ["--defect-env", "NOEQUALS"], "--defect-env"),
    ("up", ["--defect", "nope"], "--defect"),
    ("bench-db", ["--runs", "0"], "--runs"),
    ("defects", ["--only", "nope"], "--only"),
    ("defects", ["--parallel", "0"], "--parallel"),
    ("defects", ["--timeout", "-1"], "--timeout"),
    ("mutants", ["--budget", "0"], "--budget"),
    ("mutants", ["--jobs", "0"], "--jobs"),
    ("audit", ["--skip", "nope"], "--skip"),
    ("bench-load", ["--steps", "100,-5"], "--steps"),
    ("bench-load", ["--step-seconds", "0"], "--step-seconds"),
    ("bench-load", ["--workers", "0"], "--workers"),
    ("bench-load", ["--hold", "-1"], "--hold"),
    ("core", ["--port", "70000"], "--port"),
    ("core", ["--workers", "0"], "--workers"),
    ("token", ["--sub", "b", "--ttl", "0"], "--ttl"),
    ("simulators", ["--payu-port", "-1"], "--payu-port"),
]


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if parsing let a command through to the code that starts processes."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a process was started: the argument was not rejected by the parser")

    import subprocess

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "call", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)


@pytest.mark.parametrize(("command", "argv", "flag"), BAD, ids=[f"{c} {' '.join(a)}" for c, a, _ in BAD])
def test_a_bad_value_is_refused_by_the_parser_with_exit_2_naming_the_argument(
    command: str, argv: list[str], flag: str, nothing_starts: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"payharness {command}: error: argument {flag}" in err, err
    assert "Traceback" not in err and err.rstrip().splitlines()[-1].startswith(f"payharness {command}: error"), err


def test_an_unknown_defect_names_the_known_ones(capsys: pytest.CaptureFixture[str], nothing_starts: None) -> None:
    with pytest.raises(SystemExit):
        cli.main(["load", "--defect", "nope"])
    assert "no_row_lock" in capsys.readouterr().err


def _help_parsers(monkeypatch: pytest.MonkeyPatch, command: str) -> list[argparse.ArgumentParser]:
    """The parser(s) that answered ``payharness COMMAND --help``, caught instead of printed."""
    seen: list[argparse.ArgumentParser] = []

    def catch(self: argparse.ArgumentParser, file: Any = None) -> None:
        seen.append(self)

    monkeypatch.setattr(argparse.ArgumentParser, "print_help", catch)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    return seen


@pytest.mark.parametrize("command", cli.ORDER)
def test_every_help_is_plain_text_and_explains_every_option(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    [parser] = _help_parsers(monkeypatch, command)
    assert parser.prog == f"payharness {command}"
    texts = [parser.description or "", parser.epilog or ""]
    unexplained = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if not action.help or not action.help.strip():
            unexplained.append("/".join(action.option_strings) or action.dest)
        texts.append(action.help or "")
    assert parser.description, f"payharness {command} --help has no description"
    assert unexplained == [], f"payharness {command}: options without help: {unexplained}"
    markup = [t for t in texts if re.search(r"``|:\w+:`", t)]
    assert markup == [], f"reStructuredText markup in payharness {command} --help: {markup}"


def test_top_level_help_lists_the_audit_first_and_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    names = list(subparsers.choices)
    assert names[0] == "audit" and sorted(names) == sorted(cli.ORDER)
    assert "``" not in (parser.description or "") + parser.format_help()
