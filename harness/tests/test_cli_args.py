"""The payharness command line: every --help is plain text with every option explained, and bad values stop
the parser (exit 2, one line naming the argument) before anything starts. load and bench-load parse in a
child process: their cases are in load/tests/test_cli_args.py."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import cli

ROOT = Path(__file__).resolve().parents[2]

# (load and bench-load parse in their own process: load/tests/test_cli_args.py.)
# Any command given one of these must fail in argparse; anything reaching the command's body would start
# Postgres or Locust, which the guard below turns into a test failure.
BAD = [
    ("up", ["--defect", "nope"], "--defect"),
    ("up", ["--simulator-arg", "wompi=--finalize-dely=30"], "--simulator-arg"),
    ("up", ["--simulator-arg", "wompi=--finalize-delay=soon"], "--simulator-arg"),
    ("up", ["--simulator-arg", "stripe=--finalize-delay=30"], "--simulator-arg"),
    ("up", ["--simulator-arg", "wompi"], "--simulator-arg"),
    ("bench-db", ["--runs", "0"], "--runs"),
    ("defects", ["--only", "nope"], "--only"),
    ("defects", ["--parallel", "0"], "--parallel"),
    ("defects", ["--timeout", "-1"], "--timeout"),
    ("mutants", ["--budget", "0"], "--budget"),
    ("mutants", ["--jobs", "0"], "--jobs"),
    ("audit", ["--skip", "nope"], "--skip"),
    ("audit", ["--findings", "findings.toml"], "--findings"),
    ("audit", ["--no-load"], "--no-load"),
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
        cli.main(["up", "--defect", "nope"])
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


IN_PROCESS = [name for name in cli.ORDER if name not in cli.MODULES]


@pytest.mark.parametrize("command", IN_PROCESS)
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


def test_load_replaces_the_harness_process_which_imports_no_load_code() -> None:
    """``payharness load`` execs ``python -m load.runner``; before that, the harness never imports ``load``."""
    probe = (
        "import os, sys; from harness import cli; "
        "os.execv = lambda path, argv: print('EXEC', argv[1:]); cli.main(['load', '--rate', '-1']); "
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] == 'load'))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False,
                         cwd=ROOT)
    assert "EXEC ['-m', 'load.runner', '--rate', '-1']" in run.stdout, run.stdout + run.stderr
    assert "LOADED []" in run.stdout, run.stdout


def test_payharness_load_reaches_the_load_parser(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "harness.cli", "load", "--rate", "-1"], capture_output=True,
                         text=True, timeout=60, check=False, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stderr.rstrip().splitlines()[-1] == "payharness load: error: argument --rate: must be > 0, got -1"
