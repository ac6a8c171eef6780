"""Every test has a time ceiling (pytest-timeout, configured in pyproject.toml), and it ends a hung async test."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

HUNG = '''
import asyncio


async def test_waits_for_an_answer_that_never_comes():
    await asyncio.sleep(600)
'''


def test_the_configured_ceiling_bounds_every_test(pytestconfig: pytest.Config) -> None:
    ceiling = float(pytestconfig.getini("timeout"))
    assert 0 < ceiling <= 600


def test_a_hung_async_test_fails_at_the_ceiling_instead_of_hanging_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_hung.py").write_text(HUNG)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
           "-o", "asyncio_default_fixture_loop_scope=function", "-o", "timeout=2", "test_hung.py"]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Timeout (>2.0s)" in done.stdout and "1 failed" in done.stdout
    assert time.monotonic() - started < 100
