"""Where a benchmark phase's CPU went: seconds of CPU per part of the stack, read from Linux's /proc.

A webhook's cost on one machine is shared by the core, Postgres and the load generator; on 2 cores
they compete, so a rate that holds is a budget split three ways. ``CpuMeter`` samples every process's
user+system time while a phase runs and sums it by *role*, found by walking each process's parents
to a command line the role is known by (a uvicorn worker is a bare ``spawn_main`` child: its parent says
whether it serves the core or the bare endpoint). Processes that start and end inside the phase are
counted from their last sample. Not Linux, or Postgres not on this machine (a DSN, Docker): those roles
are simply absent from the figures.

Why not psutil: four fields of /proc/<pid>/stat and the command line are all this needs.

Usage::

    with CpuMeter() as meter:
        run_the_phase()
    seconds, span = meter.between(window_start, window_end)  # ({"core": 9.1, "postgres": 5.2, ...}, 9.5)
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")
# (role, what its command line contains); the first role found up the parent chain wins.
ROLES: tuple[tuple[str, str], ...] = (
    ("core", "core.app:app_from_env"),
    ("bare", "load.bare:app_from_env"),
    ("generator", "-m locust"),
    ("simulators", "-m simulators"),
    ("generator", "/pgbench "),
    ("postgres", "postgres:"),  # a backend or auxiliary process names itself "postgres: …"
    ("postgres", "/bin/postgres"),
)


def _snapshot() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds so far, command line)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float, str]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmdline)
    return found


def role_of(pid: int, processes: dict[int, tuple[int, float, str]]) -> str:
    seen = 0
    while pid in processes and seen < 32:
        parent, _, cmdline = processes[pid]
        for role, marker in ROLES:
            if marker in cmdline:
                return role
        pid, seen = parent, seen + 1
    return "other"


class CpuMeter:
    """Samples /proc in a thread every ``interval`` seconds between ``__enter__`` and ``__exit__``.

    ``series`` holds, per sample, the wall-clock time and each role's CPU seconds since the start, so a
    phase can be judged on its steady window only (``between``), spawning and seeding left out.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.series: list[tuple[float, dict[str, float]]] = []
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[float, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    @staticmethod
    def available() -> bool:
        return (PROC / "self" / "stat").exists()

    def _sample(self) -> None:
        processes = _snapshot()
        for pid, (_, cpu, cmdline) in processes.items():
            self._first.setdefault(pid, 0.0)  # born during the phase: all its CPU counts
            # An exited process not yet reaped has no command line any more: it keeps the role it had.
            known = self._last.get(pid)
            role = known[1] if known and not cmdline else role_of(pid, processes)
            self._last[pid] = (cpu, role)
        totals: dict[str, float] = {}
        for pid, (cpu, role) in self._last.items():  # a process that ended keeps its last reading
            totals[role] = totals.get(role, 0.0) + max(0.0, cpu - self._first[pid])
        self.series.append((time.time(), totals))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> CpuMeter:
        if self.available():
            # The baseline: what every process running now had used before the phase.
            self._first = {pid: cpu for pid, (_, cpu, _) in _snapshot().items()}
            self.series.append((time.time(), {}))
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.series:
            self._stop.set()
            self._thread.join()
            self._sample()

    def between(self, start: float, end: float) -> tuple[dict[str, float], float]:
        """CPU seconds by role between the samples nearest to ``start`` and ``end`` (epoch seconds), and the
        wall time those samples span."""
        inside = [s for s in self.series if start <= s[0] <= end]
        if len(inside) < 2:
            return {}, 0.0
        (t0, first), (t1, last) = inside[0], inside[-1]
        return {role: round(last[role] - first.get(role, 0.0), 3) for role in sorted(last)}, t1 - t0
