"""Ctrl-C on ``payharness test`` or ``up`` leaves nothing of ours: no Postgres, service, data directory, temp file.

Drives the real CLI — ``test`` runs pytest on ``sigint_probe.py`` (embedded Postgres, simulators, a core with
two workers, then a long wait); ``up`` brings the same up itself — interrupts it once the core is up, and
looks for what is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("sigint_probe.py")
CORE_MARKER = "core.app:app_from_env"

pytestmark = pytest.mark.slow


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


def _ours(pid: int, data_parent: Path) -> list[psutil.Process]:
    """The CLI's process tree, and the Postgres processes of its data directory (pg_ctl leaves its
    server to init, outside the tree)."""
    postgres = [p for p in psutil.process_iter() if str(data_parent) in _cmdline(p)]
    return [p for p in {*_tree(pid), *postgres} if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture
def watched() -> Iterator[list[psutil.Process]]:
    """Processes the test saw; whatever a failed run left of them is killed, not left for the machine."""
    seen: list[psutil.Process] = []
    yield seen
    for process in seen:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


@pytest.fixture
def sandbox(tmp_path: Path, watched: list[psutil.Process]) -> Iterator[tuple[Path, Path]]:
    # A short path: Postgres puts its Unix socket in the data folder, and a socket path has ~107 bytes.
    root = Path(tempfile.mkdtemp(prefix="phx-"))
    data_parent, temp = root / "pg", root / "tmp"
    data_parent.mkdir()
    temp.mkdir()
    try:
        yield data_parent, temp
    finally:
        watched.extend(p for p in psutil.process_iter() if str(root) in _cmdline(p))
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param(["test", "-p", "no:cacheprovider", "-q", str(PROBE)], 130, id="test"),
        pytest.param(["up"], 0, id="up"),  # 0: interrupted once it said it was up (130 while starting)
    ],
)
def test_ctrl_c_on_the_cli_stops_postgres_services_and_removes_their_files(
    command: list[str], expected: int, sandbox: tuple[Path, Path], tmp_path: Path, watched: list[psutil.Process]
) -> None:
    data_parent, temp = sandbox
    env = {k: v for k, v in os.environ.items() if k not in {"PAYHARNESS_DATABASE_URL", "PYTEST_XDIST_WORKER"}}
    env.update({"PAYHARNESS_POSTGRES": "embedded", "PAYHARNESS_PG_DATA_DIR": str(data_parent), "TMPDIR": str(temp),
                "PAYHARNESS_ARTEFACTS": str(tmp_path / "artefacts")})
    argv = [sys.executable, "-m", "harness.cli", command[0], *(["--artefacts", str(tmp_path / "artefacts")]
                                                               if command[0] == "test" else []), *command[1:]]
    with (tmp_path / "cli.log").open("wb") as log:
        cli = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not any(CORE_MARKER in _cmdline(p) for p in _tree(cli.pid)) or (
                command[0] == "up" and "Ctrl-C to stop" not in (tmp_path / "cli.log").read_text()):
            watched.extend(_tree(cli.pid))
            assert cli.poll() is None, (tmp_path / "cli.log").read_text()
            assert time.monotonic() < deadline, "the core never started"
            time.sleep(0.2)
        time.sleep(1.0)  # every worker up
        before = _ours(cli.pid, data_parent)
        watched.extend(before)
        assert any("postgres" in _cmdline(p) for p in before), "no Postgres of ours found to watch"

        cli.send_signal(signal.SIGINT)
        code = cli.wait(timeout=120)

        _gone, alive = psutil.wait_procs(before, timeout=15)
        log_text = (tmp_path / "cli.log").read_text(errors="replace")
        assert code == expected, log_text
        assert [_cmdline(p) for p in alive] == [], log_text
        assert _ours(cli.pid, data_parent) == []
        assert list(data_parent.iterdir()) == [], "the data directory was left behind"
        assert list(temp.iterdir()) == [], "files were left in the temp directory"
        assert list((tmp_path / "artefacts" / "logs").glob("*/core.log")), "the core's log is not in the artefacts"
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()
