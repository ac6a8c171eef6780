"""Argument types for the harness's and the load's command lines: a bad value stops the parser, not a run.

Each is an argparse ``type=``: it returns the converted value or raises ``argparse.ArgumentTypeError``,
which argparse prints as ``payharness load: error: argument --rate: must be > 0, got -1`` with exit 2,
before any Postgres, simulator or core is started.

Usage::

    parser.add_argument("--rate", type=positive_float, default=100.0)
    parser.add_argument("--defect", type=defect_name, action="append", default=[])
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable


def _number(kind: Callable[[str], float], text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a{'n integer' if kind is int else ' number'}: {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def plain(doc: str | None) -> str:
    """A module docstring's first line as an argparse description: reStructuredText's double backquotes off."""
    return (doc or "").strip().splitlines()[0].replace("``", "") if doc else ""


def positive_int(text: str) -> int:
    value = int(_number(int, text))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(_number(int, text))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(float, text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(float, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def ratio_or_off(text: str) -> float:
    """A ratio in [0, 1], or -1 meaning "off" (Locust's failure-ratio threshold)."""
    value = _number(float, text)
    if value != -1 and not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (or -1: off), got {text}")
    return value


def port(text: str) -> int:
    value = int(_number(int, text))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0..65535 (0: any free one), got {text}")
    return value


def defect_name(text: str) -> str:
    """One seeded defect's name, checked against the catalogue."""
    from harness.defects import REGISTRY

    name = text.strip()
    try:
        REGISTRY[name]
    except KeyError as exc:
        raise argparse.ArgumentTypeError(str(exc.args[0])) from None
    return name


def one_of(choices: Iterable[str]) -> Callable[[str], str]:
    """A name from ``choices`` (for a comma list, where argparse's own ``choices=`` cannot look inside)."""
    allowed = tuple(choices)

    def check(text: str) -> str:
        if text.strip() not in allowed:
            raise argparse.ArgumentTypeError(f"{text.strip()!r} is not one of {', '.join(allowed)}")
        return text.strip()

    return check


def comma_list(item: Callable[[str], object]) -> Callable[[str], str]:
    """``a,b,c`` with each item checked by ``item``; the text is returned as given, for the command to split."""

    def check(text: str) -> str:
        for part in text.split(","):
            if part.strip():
                item(part)
        return text

    return check


def simulator_arg(text: str) -> tuple[str, str]:
    """``NAME=OPTION`` for one simulator of the stack (``wompi=--finalize-delay=30``), checked by that
    simulator's own parser here, so a misspelt option stops ``payharness up`` before anything starts."""
    import contextlib
    import io

    from simulators.common.settings import GATEWAYS, parse_runner_args

    name, sep, option = text.partition("=")
    name = name.strip()
    if not sep or name not in GATEWAYS or not option.startswith("--"):
        raise argparse.ArgumentTypeError(
            f"expected NAME=--option[=value] with NAME one of {', '.join(GATEWAYS)}, got {text!r}")
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            parse_runner_args(name, [option], doc=None, default_port=0)
    except SystemExit:
        why = said.getvalue().strip().splitlines()[-1:] or ["rejected"]
        raise argparse.ArgumentTypeError(f"the {name} simulator refuses {option!r}: {why[0]}") from None
    return name, option
