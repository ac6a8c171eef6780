"""A pytest run leaves no temporary folder behind: not after it passes, not after a Ctrl-C, not under xdist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.pytest_tmp import PREFIX, sweep_stale

USES_TMP = '''
import json, os, pathlib


def test_writes_a_file(tmp_path):
    (tmp_path / "money.txt").write_text("65000.00")
    out = pathlib.Path(os.environ["RECORD"]) / f"{os.getpid()}.json"
    out.write_text(json.dumps(str(tmp_path)))


def test_writes_another(tmp_path):
    (tmp_path / "other.txt").write_text("1")
'''

INTERRUPTED = '''
import json, os, pathlib, signal


def test_interrupted(tmp_path):
    (tmp_path / "half.txt").write_text("...")
    (pathlib.Path(os.environ["RECORD"]) / "tmp.json").write_text(json.dumps(str(tmp_path)))
    os.kill(os.getpid(), signal.SIGINT)
'''


def _run(project: Path, tmp: Path, record: Path, test: str, *args: str) -> subprocess.CompletedProcess[str]:
    (project / "test_it.py").write_text(test)
    env = {**os.environ, "TMPDIR": str(tmp), "RECORD": str(record)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "harness.pytest_tmp", *args,
           "test_it.py"]
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False)


def _layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    project, tmp, record = tmp_path / "project", tmp_path / "tmp", tmp_path / "record"
    for p in (project, tmp, record):
        p.mkdir()
    return project, tmp, record


def _recorded(record: Path) -> list[Path]:
    return [Path(json.loads(f.read_text())) for f in sorted(record.glob("*.json"))]


def test_a_run_uses_a_folder_of_its_own_and_removes_it(tmp_path: Path) -> None:
    project, tmp, record = _layout(tmp_path)
    done = _run(project, tmp, record, USES_TMP)
    assert done.returncode == 0, done.stdout + done.stderr
    used = _recorded(record)
    assert len(used) == 1 and used[0].is_relative_to(tmp) and used[0].parent.name.startswith(PREFIX)
    assert not used[0].exists()
    assert list(tmp.iterdir()) == []  # in particular no pytest-of-<user>


def test_a_ctrl_c_still_removes_the_folder(tmp_path: Path) -> None:
    project, tmp, record = _layout(tmp_path)
    done = _run(project, tmp, record, INTERRUPTED)
    assert done.returncode == 2, done.stdout + done.stderr  # pytest's "interrupted"
    (used,) = _recorded(record)
    assert used.is_relative_to(tmp) and not used.exists()
    assert list(tmp.iterdir()) == []


def test_xdist_workers_share_the_controllers_folder_and_it_goes(tmp_path: Path) -> None:
    project, tmp, record = _layout(tmp_path)
    done = _run(project, tmp, record, USES_TMP, "-n", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    (used,) = _recorded(record)
    assert used.is_relative_to(tmp) and not used.exists()
    assert list(tmp.iterdir()) == []


def test_a_given_basetemp_is_left_to_its_owner(tmp_path: Path) -> None:
    project, tmp, record = _layout(tmp_path)
    mine = tmp_path / "mine"
    done = _run(project, tmp, record, USES_TMP, f"--basetemp={mine}")
    assert done.returncode == 0, done.stdout + done.stderr
    (used,) = _recorded(record)
    assert used.is_relative_to(mine) and used.exists()
    assert list(tmp.iterdir()) == []


def test_folders_of_runs_that_were_killed_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f"{PREFIX}{dead.stdout.strip()}-abc"
    alive = tmp_path / f"{PREFIX}{os.getppid()}-def"
    foreign = tmp_path / f"{PREFIX}notapid-ghi"
    for folder in (stale, alive, foreign):
        (folder / "pytest-0").mkdir(parents=True)
    assert sweep_stale(tmp_path) == [stale]
    assert not stale.exists() and alive.exists() and foreign.exists()
