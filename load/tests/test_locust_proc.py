"""Locust's processes never outlive a run: not on a timeout, not on a Ctrl-C while the run waits."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import psutil
import pytest

from load.locust_proc import TIMED_OUT, Plan, locust_plan, run_locust

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _ours(marker: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if str(marker) in " ".join(process.cmdline()):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _plan(marker: Path) -> Plan:
    # A master and two workers that never finish on their own; the marker names them as this test's.
    argv = [*SLEEPER, str(marker)]
    return Plan(master=argv, workers=[argv, argv])


def test_a_run_past_its_timeout_stops_the_master_and_every_worker(tmp_path: Path) -> None:
    try:
        assert run_locust(_plan(tmp_path), log_dir=tmp_path, timeout=1) == TIMED_OUT
    finally:
        left = _ours(tmp_path)
        for process in left:
            process.kill()
    assert left == []
    assert {p.name for p in tmp_path.iterdir()} == {"locust-master.log", "locust-worker-0.log", "locust-worker-1.log"}


def test_a_ctrl_c_while_the_run_waits_stops_the_master_and_every_worker(tmp_path: Path) -> None:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_locust(_plan(tmp_path), log_dir=tmp_path, timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        left = _ours(tmp_path)
        for process in left:
            process.kill()
    assert left == []


def test_workers_are_told_the_masters_port() -> None:
    plan = locust_plan(["--headless"], ["WompiWebhookUser"], workers=2)
    port = plan.master[plan.master.index("--master-bind-port") + 1]
    assert len(plan.workers) == 2
    assert all(w[w.index("--master-port") + 1] == port for w in plan.workers)
    assert locust_plan(["--headless"], ["WompiWebhookUser"]).workers == []
