"""The benchmark's CPU meter: roles found up the process tree, real CPU time counted by role, ours only."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import asyncpg
import psutil
import pytest

from harness.postgres import PostgresHandle
from load.bench import postmaster_pid
from load.cpu import CpuMeter, role_of
from load.db import plain_dsn, run_sync

PROCESSES = {
    1: (0, 0.0, "/sbin/init"),
    10: (1, 0.0, "python -m uvicorn core.app:app_from_env --factory --workers 2"),
    11: (10, 0.0, "python -c from multiprocessing.spawn import spawn_main; spawn_main() --multiprocessing-fork"),
    20: (1, 0.0, "python -m uvicorn load.bare:app_from_env --factory"),
    21: (20, 0.0, "python -c from multiprocessing.spawn import spawn_main; spawn_main() --multiprocessing-fork"),
    30: (1, 0.0, "/opt/pg/bin/postgres -D /dev/shm/data -p 5432"),
    31: (30, 0.0, "postgres: postgres payharness 127.0.0.1(51234) idle"),
    40: (1, 0.0, "python -m locust -f load/locustfile.py --headless"),
    50: (1, 0.0, "bash"),
}


@pytest.mark.parametrize(("pid", "role"), [(11, "core"), (21, "bare"), (31, "postgres"), (30, "postgres"),
                                           (40, "generator"), (50, "other"), (99, "other")])
def test_a_process_takes_the_role_of_the_nearest_known_ancestor(pid: int, role: str) -> None:
    assert role_of(pid, PROCESSES) == role


def test_worker_shares_are_each_workers_part_of_their_cpu_inside_the_window_largest_first() -> None:
    meter = CpuMeter()
    meter.workers = [(0.0, {}), (1.0, {"core 11": 1.0, "core 12": 1.0, "bare 21": 5.0}),
                     (2.0, {"core 11": 2.2, "core 12": 1.8, "bare 21": 9.0}), (3.0, {"core 11": 9.0, "core 12": 2.0})]
    assert meter.worker_shares("core", 1.0, 2.0) == [0.6, 0.4]  # 1.2 and 0.8 CPU seconds inside the window
    assert meter.worker_shares("bare", 1.0, 2.0) == [1.0]
    assert meter.worker_shares("core", 2.5, 3.0) == []  # one sample: no window


def test_the_split_shown_is_the_serving_apps_not_the_idle_core_beside_a_yardstick() -> None:
    """A bare endpoint's phase: the core idles beside it (a few hundredths of a second, unevenly), the bare
    endpoint's two workers do the work evenly — the split shown must be the bare endpoint's."""
    meter = CpuMeter()
    meter.workers = [(1.0, {"core 11": 0.04, "core 12": 0.03, "bare 21": 0.5, "bare 22": 0.5}),
                     (2.0, {"core 11": 0.06, "core 12": 0.04, "bare 21": 2.5, "bare 22": 2.5})]
    assert meter.serving_shares(1.0, 2.0) == [0.5, 0.5]
    meter.workers = [(1.0, {"core 11": 0.5, "core 12": 0.5, "bare 21": 0.01}),
                     (2.0, {"core 11": 2.9, "core 12": 2.1, "bare 21": 0.02})]
    assert meter.serving_shares(1.0, 2.0) == [0.6, 0.4]
    assert meter.serving_shares(5.0, 6.0) == []  # no samples in the window


@pytest.mark.skipif(not CpuMeter.available(), reason="needs a process table psutil can read")
def test_cpu_burnt_by_a_process_born_inside_the_phase_is_counted_for_its_role() -> None:
    burn = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"
    with CpuMeter(interval=0.1) as meter:
        # The marker in the command line makes it the "generator", as Locust would be.
        subprocess.run([sys.executable, "-c", burn, "-m", "locust"], check=True, timeout=30)
    seconds, span = meter.between(0.0, float("inf"))  # the whole phase
    assert seconds.get("generator", 0.0) >= 0.5
    assert span > 0.5


BURN = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"
# Starts the burner in its own session and exits at once: the burner is re-parented away from our tree, as
# another job's Locust on a shared machine would be. It prints the burner's pid.
DETACH = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', sys.argv[1], '-m', 'locust'], start_new_session=True,\n"
    "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(child.pid)"
)


def _detached_burner() -> int:
    out = subprocess.run([sys.executable, "-c", DETACH, BURN], check=True, timeout=30, capture_output=True, text=True)
    return int(out.stdout.strip())


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"the detached burner {pid} did not end"
        time.sleep(0.05)


@pytest.mark.skipif(not CpuMeter.available(), reason="needs a process table psutil can read")
def test_a_foreign_process_with_our_command_line_is_not_counted_but_our_own_child_is() -> None:
    with CpuMeter(interval=0.1) as meter:
        foreign = _detached_burner()
        assert foreign not in {p.pid for p in psutil.Process().children(recursive=True)}
        subprocess.run([sys.executable, "-c", BURN, "-m", "locust"], check=True, timeout=30)
        _wait_gone(foreign)  # it burnt its 0.6 s while the meter was sampling
    seconds, _ = meter.between(0.0, float("inf"))
    assert 0.5 <= seconds.get("generator", 0.0) < 0.9  # our child's 0.6 s, not the foreign one's besides


@pytest.mark.skipif(not CpuMeter.available(), reason="needs a process table psutil can read")
def test_a_detached_process_given_as_a_root_is_counted_as_ours() -> None:
    # The embedded postmaster is such a process: pg_ctl starts it outside our tree.
    foreign = _detached_burner()
    with CpuMeter(interval=0.1, roots=(os.getpid(), foreign)) as meter:
        _wait_gone(foreign)
    seconds, _ = meter.between(0.0, float("inf"))
    assert seconds.get("generator", 0.0) >= 0.3  # what it burnt after the meter's baseline


async def _busy_query(dsn: str) -> None:
    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        await conn.fetchval("SELECT sum(i) FROM generate_series(1, 4000000) AS i")
    finally:
        await conn.close()


def test_the_embedded_postmaster_is_a_root_and_its_backends_count_as_postgres(postgres: PostgresHandle) -> None:
    if postgres.kind != "embedded":
        pytest.skip(f"a {postgres.kind} Postgres is not the harness's own: its CPU is not counted")
    # Asked twenty times: the backend it asks ends with its connection, so a lookup after closing loses the
    # race now and then (one in five here).
    found = {postmaster_pid(postgres) for _ in range(20)}
    assert len(found) == 1
    pid = found.pop()
    assert pid is not None and pid not in {p.pid for p in psutil.Process().children(recursive=True)}
    assert "postgres" in psutil.Process(pid).cmdline()[0]
    with CpuMeter(interval=0.1, roots=(os.getpid(), pid)) as meter:
        run_sync(lambda: _busy_query(postgres.dsn))  # a new backend, forked by the postmaster
    seconds, _ = meter.between(0.0, float("inf"))
    assert seconds.get("postgres", 0.0) >= 0.1
