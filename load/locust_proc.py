"""One way to build Locust's command lines and run them: ``payharness load`` and ``bench-load`` both use it.

Locust runs as supervised children (``supervise.Child``): each in its own process group, logging into the
run's folder, stopped (SIGTERM, then SIGKILL) whatever happens — a timeout, a Ctrl-C, an error here.

Usage::

    plan = locust_plan(["--headless", "--host", url, ...], ["WompiWebhookUser"], workers=2)
    code = run_locust(plan, log_dir=artefacts, timeout=duration + 180)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.paths import repo_root
from harness.stack import free_port
from supervise import Child

LOAD_DIR = Path(__file__).resolve().parent
REPO = repo_root()
LOCUSTFILE = LOAD_DIR / "locustfile.py"
CONFIG = LOAD_DIR / "locust.conf"
TIMED_OUT = 124  # as timeout(1)


@dataclass
class Plan:
    """The processes one run starts, as argument lists (kept in the result for the report)."""

    master: list[str]
    workers: list[list[str]] = field(default_factory=list)


def locust_plan(options: Sequence[str], users: Sequence[str], *, workers: int = 0) -> Plan:
    """Headless Locust with ``options``; with ``workers`` > 0, a master and that many worker processes."""
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--config", str(CONFIG)]
    if workers <= 0:
        return Plan(master=[*base, *options, *users])
    # Locust's master binds its own port and cannot take a socket: a free port picked now is the best here.
    port = str(free_port())
    master = [*base, *options, "--master", "--expect-workers", str(workers), "--master-bind-host", "127.0.0.1",
              "--master-bind-port", port, *users]
    worker = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", port, *users]
    return Plan(master=master, workers=[list(worker) for _ in range(workers)])


def run_locust(plan: Plan, *, log_dir: Path, timeout: float, name: str = "locust-master") -> int:
    """Start the plan's processes, wait for the master (``TIMED_OUT`` after ``timeout`` s), stop them all.

    Logs: ``log_dir/<name>.log`` and ``log_dir/locust-worker-<n>.log``, each new for this run.
    """
    master = Child(name, plan.master, log_dir=log_dir, cwd=REPO)
    workers = [Child(f"locust-worker-{n}", argv, log_dir=log_dir, cwd=REPO) for n, argv in enumerate(plan.workers)]
    for child in (master, *workers):
        child.log_path.unlink(missing_ok=True)
    try:
        master.start()
        for worker in workers:
            worker.start()
        code = master.wait(timeout)
        if code is None:
            print(f"Locust still running after {timeout:.0f} s; stopping it", file=sys.stderr)
            return TIMED_OUT
        for worker in workers:
            worker.wait(20)  # workers quit when the master does; stop() below ends one that did not
        return code
    finally:
        master.stop(grace=15)
        for worker in workers:
            worker.stop(grace=5)
