"""``payharness test`` leaves nothing in the temp directory: no ``pytest-of-<user>``, no file a test forgot.

pytest keeps its last three ``tmp_path`` roots in ``/tmp/pytest-of-<user>`` for ever; every run of ours left
one behind. The Ctrl-C case is in ``test_cli_interrupt.py`` (its probe uses ``tmp_path`` too).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("tmp_probe.py")


def test_a_test_run_leaves_nothing_in_the_temp_directory(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"}}
    env["TMPDIR"] = str(temp)
    argv = [sys.executable, "-m", "harness.cli", "test", "--artefacts", str(tmp_path / "artefacts"),
            "-p", "no:cacheprovider", "-q", str(PROBE)]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
    assert sorted(p.name for p in temp.iterdir()) == [], "left in the temp directory"


@pytest.mark.slow
def test_a_load_run_exec_d_in_the_clis_place_removes_its_own_temp_folder(tmp_path: Path) -> None:
    """``payharness load`` (and ``bench-load``) replace the CLI's process (exec): no ``finally`` of the CLI runs
    after it, so the load runner makes and removes its own folder. Each left an empty one before."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_XDIST_WORKER", "PAYHARNESS_DATABASE_URL"}}
    env["TMPDIR"] = str(temp)
    argv = [sys.executable, "-m", "harness.cli", "load", "--rate", "5", "--duration", "2",
            "--artefacts", str(tmp_path / "artefacts")]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in temp.iterdir()) == [], "left in the temp directory"
