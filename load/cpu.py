"""Where a benchmark phase's CPU went: seconds of CPU per part of the stack, counted over our processes only.

A webhook's cost on one machine is shared by the core, Postgres and the load generator; on 2 cores
they compete, so a rate that holds is a budget split three ways. ``CpuMeter`` samples the user+system
time of *our* processes while a phase runs — the process tree under each root (by default this process:
the stack, Locust and pgbench are its children; the benchmark adds the embedded postmaster, which
``pg_ctl`` detaches from our tree) — and sums it by *role*, found by walking each process's parents to a
command line the role is known by (a uvicorn worker is a bare ``spawn_main`` child: its parent says
whether it serves the core or the bare endpoint). On a shared machine another job's Postgres or Locust
has the same command line as ours, which is why the roots, not the command lines, decide what is ours.
Processes that start and end inside the phase are counted from their last sample. Postgres that the
harness did not start (a DSN, Docker) is not among the roots: that role is then simply absent.

psutil reads the process table on Linux, macOS and the BSDs alike.

Usage::

    with CpuMeter(roots=(os.getpid(), postmaster_pid)) as meter:
        run_the_phase()
    seconds, span = meter.between(window_start, window_end)  # ({"core": 9.1, "postgres": 5.2, ...}, 9.5)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import psutil

# (role, what its command line contains); the first role found up the parent chain wins.
ROLES: tuple[tuple[str, str], ...] = (
    ("core", "core.app:app_from_env"),
    ("bare", "load.bare:app_from_env"),
    ("verified", "load.bare:verified_from_env"),
    ("generator", "-m locust"),
    ("simulators", "-m simulators"),
    ("generator", "/pgbench "),
    ("postgres", "postgres:"),  # a backend or auxiliary process names itself "postgres: …"
    ("postgres", "/bin/postgres"),
)

WORKER = "spawn_main"  # a multiprocessing child's command line: uvicorn's workers (and supervise.balance's)


def _snapshot(roots: Sequence[int]) -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds so far, command line), for the roots and everything below them."""
    found: dict[int, tuple[int, float, str]] = {}
    for root in roots:
        try:
            top = psutil.Process(root)
            tree = [top, *top.children(recursive=True)]
        except psutil.Error:
            continue  # the root is gone
        for proc in tree:
            try:
                with proc.oneshot():
                    parent, times = proc.ppid(), proc.cpu_times()
            except psutil.Error:
                continue  # gone meanwhile
            try:
                cmdline = " ".join(proc.cmdline())
            except psutil.Error:
                cmdline = ""  # exited, not yet reaped: no command line any more
            found[proc.pid] = (parent, times.user + times.system, cmdline)
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
    """Samples the process trees under ``roots`` (default: this process) every ``interval`` seconds in a thread.

    ``series`` holds, per sample, the wall-clock time and each role's CPU seconds since the start, so a
    phase can be judged on its steady window only (``between``), spawning and seeding left out.
    """

    def __init__(self, interval: float = 0.5, roots: Sequence[int] = ()) -> None:
        self.interval = interval
        self.roots = tuple(roots) or (os.getpid(),)
        self.series: list[tuple[float, dict[str, float]]] = []
        # Per sample, each worker process's CPU seconds since the start (a uvicorn worker: a ``spawn_main``
        # child), keyed "role pid": how evenly a phase's load fell on the core's workers (``worker_shares``).
        self.workers: list[tuple[float, dict[str, float]]] = []
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[float, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    @staticmethod
    def available() -> bool:
        try:
            psutil.Process().cpu_times()
        except (psutil.Error, NotImplementedError):
            return False
        return True

    def begin(self) -> None:
        """The baseline: what every process running now had used before the phase (``__enter__`` calls it)."""
        self._first = {pid: cpu for pid, (_, cpu, _) in _snapshot(self.roots).items()}
        self.series.append((time.time(), {}))
        self.workers.append((time.time(), {}))

    def sample(self) -> dict[str, float]:
        """Take one sample now (without the thread, e.g. from a sampler of its own): CPU seconds by role since
        ``begin``."""
        self._sample()
        return self.series[-1][1]

    def _sample(self) -> None:
        processes = _snapshot(self.roots)
        for pid, (_, cpu, cmdline) in processes.items():
            self._first.setdefault(pid, 0.0)  # born during the phase: all its CPU counts
            # An exited process not yet reaped has no command line any more: it keeps the role it had.
            known = self._last.get(pid)
            role = known[1] if known and not cmdline else role_of(pid, processes)
            self._last[pid] = (cpu, role)
        totals: dict[str, float] = {}
        for pid, (cpu, role) in self._last.items():  # a process that ended keeps its last reading
            totals[role] = totals.get(role, 0.0) + max(0.0, cpu - self._first[pid])
        now = time.time()
        self.series.append((now, totals))
        self.workers.append((now, {f"{self._last[pid][1]} {pid}": max(0.0, cpu - self._first[pid])
                                   for pid, (_, cpu, cmdline) in processes.items() if WORKER in cmdline}))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> CpuMeter:
        if self.available():
            self.begin()
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.series:
            self._stop.set()
            self._thread.join()
            self._sample()

    def worker_shares(self, role: str, start: float, end: float) -> list[float]:
        """Each ``role`` worker's share of the CPU all of them used between ``start`` and ``end``, largest first:
        [0.5, 0.5] when the load fell evenly on two workers; [] without two samples in the window."""
        return _shares(self._worker_use(role, start, end))

    def serving_shares(self, start: float, end: float, roles: Sequence[str] = ("core", "bare", "verified"),
                       ) -> list[float]:
        """``worker_shares`` of whichever of ``roles`` served the window: the one whose workers used the most CPU
        in it. Both servers run through a yardstick's phase — the core idles beside it — so the first role that
        has workers at all is not the one that served: taken so, a bare endpoint's phase showed the idle core's
        split of a few hundredths of a second (0.67/0.33, 1.00/0.00) while its own two workers were even."""
        uses = [self._worker_use(role, start, end) for role in roles]
        return _shares(max(uses, key=lambda used: sum(used.values()), default={}))

    def _worker_use(self, role: str, start: float, end: float) -> dict[str, float]:
        """CPU seconds each ``role`` worker used between the first and last samples inside the window ({} without
        two samples)."""
        inside = [s for s in self.workers if start <= s[0] <= end]
        if len(inside) < 2:
            return {}
        first, last = inside[0][1], inside[-1][1]
        return {key: last[key] - first.get(key, 0.0) for key in last if key.split(" ")[0] == role}

    def between(self, start: float, end: float) -> tuple[dict[str, float], float]:
        """CPU seconds by role between the samples nearest to ``start`` and ``end`` (epoch seconds), and the
        wall time those samples span."""
        inside = [s for s in self.series if start <= s[0] <= end]
        if len(inside) < 2:
            return {}, 0.0
        (t0, first), (t1, last) = inside[0], inside[-1]
        return {role: round(last[role] - first.get(role, 0.0), 3) for role in sorted(last)}, t1 - t0


def _shares(used: dict[str, float]) -> list[float]:
    """Each worker's share of the CPU ``used`` holds, largest first; [] when they used none."""
    total = sum(used.values())
    return sorted((round(value / total, 3) for value in used.values()), reverse=True) if total > 0 else []
