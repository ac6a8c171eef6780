"""The benchmark's CPU meter: roles found up the process tree, and real CPU time counted by role."""

from __future__ import annotations

import subprocess
import sys

import pytest

from load.cpu import CpuMeter, role_of

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


@pytest.mark.skipif(not CpuMeter.available(), reason="needs Linux /proc")
def test_cpu_burnt_by_a_process_born_inside_the_phase_is_counted_for_its_role() -> None:
    burn = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"
    with CpuMeter(interval=0.1) as meter:
        # The marker in the command line makes it the "generator", as Locust would be.
        subprocess.run([sys.executable, "-c", burn, "-m", "locust"], check=True, timeout=30)
    seconds, span = meter.between(0.0, float("inf"))  # the whole phase
    assert seconds.get("generator", 0.0) >= 0.5
    assert span > 0.5
