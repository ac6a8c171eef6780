"""``supervise.run``: an interrupt reaches the child, which gets to clean up; a timeout ends its whole group."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

from supervise.run import TIMED_OUT, run

# Cleans up for a second after an interrupt, as pytest's session teardown stopping Postgres does.
SLOW_TEARDOWN = textwrap.dedent("""
    import sys, time
    marker = sys.argv[1]
    open(marker, "w").write("started")
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        time.sleep(1.0)
        open(marker, "w").write("cleaned up")
        raise SystemExit(2)
""")


def _interrupt_when(marker: Path, sig: int) -> threading.Thread:
    def send() -> None:
        for _ in range(300):
            if marker.exists():
                os.kill(os.getpid(), sig)
                return
            threading.Event().wait(0.05)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_is_passed_on_and_the_child_finishes_its_clean_up_first(tmp_path: Path, sig: int) -> None:
    marker = tmp_path / "state"
    _interrupt_when(marker, sig)
    with pytest.raises(KeyboardInterrupt):
        run([sys.executable, "-c", SLOW_TEARDOWN, str(marker)], timeout=30)
    assert marker.read_text() == "cleaned up"


def test_a_timeout_ends_the_child_and_what_it_started(tmp_path: Path) -> None:
    # The child ignores SIGTERM and leaves a grandchild: both go (SIGKILL to the process group).
    script = textwrap.dedent("""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(sys.argv[1], "w").write(str(grandchild.pid))
        time.sleep(60)
    """)
    pid_file = tmp_path / "grandchild"
    assert run([sys.executable, "-c", script, str(pid_file)], timeout=2, grace=1) == TIMED_OUT
    grandchild = psutil.Process(int(pid_file.read_text())) if psutil.pid_exists(int(pid_file.read_text())) else None
    if grandchild is not None:  # killed; init may take a moment to reap it
        _gone, alive = psutil.wait_procs([grandchild], timeout=5)
        assert alive == []


def test_the_exit_code_is_the_childs() -> None:
    assert run([sys.executable, "-c", "raise SystemExit(7)"]) == 7


def test_a_run_in_a_worker_thread_is_reached_through_forwarding(tmp_path: Path) -> None:
    # Signals reach the main thread only, and the child has its own process group: without forwarding()
    # the child would sleep out its minute (tried: the marker stays "started" and the test times out).
    from concurrent.futures import ThreadPoolExecutor

    from supervise.run import forwarding

    marker = tmp_path / "state"
    _interrupt_when(marker, signal.SIGINT)
    with forwarding(), ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(run, [sys.executable, "-c", SLOW_TEARDOWN, str(marker)], timeout=30)
        with pytest.raises(KeyboardInterrupt):
            future.result(timeout=40)
    assert marker.read_text() == "cleaned up"
