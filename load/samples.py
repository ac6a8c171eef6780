"""A per-second record of a load run: our CPU by part, the machine's, Postgres's waits and work, the core's GC.

A stall (a few seconds of a run whose latency jumps) has many candidate triggers: a full collection in a
core worker, autovacuum or a checkpoint in Postgres, new connections, our own generator, or another job on
a shared machine. ``Sampler`` writes, once a second, what would tell them apart into ``samples.jsonl``:

* ``cpu``: cores busy in that second by role of *our* processes (load/cpu.py: the process tree under this
  process and the embedded postmaster), ``ours`` their sum;
* ``machine``: its CPUs (``cpus``), cores busy on all of them (``busy``), of them not ours (``others``),
  steal and iowait, the load average, and the CPU pressure stall (``psi_some_ms``: ms in that second some runnable task
  waited for a CPU, from ``/proc/pressure/cpu`` when the kernel has it);
* ``pg``: the database's sessions by state and by wait event (``waits``, e.g. ``LWLock:WALWrite``; four
  snapshots a second summed, so a count of 4 is one session waiting all second), client connections,
  autovacuum workers running and the tables they vacuum, and deltas of checkpoints, buffers written,
  commits and rollbacks since the previous second.

The core's workers write their own collections (core/gcstats.py) into ``gc/`` beside it when the core was
started with ``PAYHARNESS_GC_STATS_DIR``; load/stalls.py joins the three by second.

Usage::

    with Sampler(dsn, artefacts / "samples.jsonl", roots=(os.getpid(), postmaster)):
        run_the_load()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import psutil

from load.cpu import CpuMeter
from load.db import plain_dsn

ACTIVITY_PER_SECOND = 4  # pg_stat_activity snapshots summed into each second's wait counts

ACTIVITY_SQL = """
SELECT backend_type, coalesce(state, '') AS state,
       coalesce(wait_event_type || ':' || wait_event, '') AS wait, count(*) AS n
FROM pg_stat_activity WHERE pid <> pg_backend_pid()
GROUP BY 1, 2, 3
"""
VACUUM_SQL = "SELECT relid::regclass::text AS rel, phase FROM pg_stat_progress_vacuum"
# An autovacuum worker analyzing a table is not in pg_stat_progress_vacuum: without this, the stalls it made showed
# as "autovacuum (?)". The phase says which it is ("analyze: acquiring sample rows"). PostgreSQL 13+.
ANALYZE_SQL = "SELECT relid::regclass::text AS rel, 'analyze: ' || phase AS phase FROM pg_stat_progress_analyze"
# Cumulative counters; the sampler writes their change per second. pg_stat_checkpointer is PostgreSQL 17+.
COUNTERS_SQL = {
    "checkpointer": "SELECT num_timed, num_requested, write_time, sync_time, buffers_written FROM pg_stat_checkpointer",
    "bgwriter": "SELECT buffers_clean, maxwritten_clean FROM pg_stat_bgwriter",
    "database": "SELECT xact_commit, xact_rollback, blks_read, temp_files, deadlocks FROM pg_stat_database"
                " WHERE datname = current_database()",
}


def _deltas(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v) - float(before.get(k, v)), 3) for k, v in now.items()}


def _psi_total_us() -> float | None:
    """Microseconds some runnable task has waited for a CPU, since boot (Linux PSI); None without it."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=", 1) for part in first.split()[1:])
    return float(fields.get("total", "nan"))


def activity_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """pg_stat_activity's grouped rows (one or more snapshots) as counts: by state, by wait, connections."""
    states: dict[str, int] = {}
    waits: dict[str, int] = {}
    clients = autovacuum = 0
    for row in rows:
        n = int(row["n"])
        if row["backend_type"] == "client backend":
            clients += n
            states[row["state"] or "unknown"] = states.get(row["state"] or "unknown", 0) + n
            if row["wait"] and row["state"] == "active":
                waits[row["wait"]] = waits.get(row["wait"], 0) + n
        elif row["backend_type"] == "autovacuum worker":
            autovacuum += n
        elif row["wait"] and row["wait"].split(":", 1)[0] not in ("Activity",):
            # An auxiliary process (checkpointer, walwriter…) waiting on I/O or a lock, not idling in its loop.
            key = f"{row['backend_type']}/{row['wait']}"
            waits[key] = waits.get(key, 0) + n
    return {"states": states, "waits": waits, "clients": clients, "autovacuum": autovacuum}


def stack_sampler(postgres_kind: str, dsn: str, path: Path) -> Sampler:
    """A sampler for a run on a harness stack: our process tree, plus the postmaster when it is embedded (a
    server given by DSN or in Docker is shared or out of reach: its CPU is not ours to count)."""
    return Sampler(plain_dsn(dsn), path, postgres_is_ours=postgres_kind == "embedded")


class Sampler:
    """Writes one line a second into ``path`` from a thread until the ``with`` block ends."""

    def __init__(self, dsn: str | None, path: Path, *, roots: tuple[int, ...] = (),
                 postgres_is_ours: bool = False) -> None:
        self.dsn, self.path, self.postgres_is_ours = dsn, path, postgres_is_ours
        self.meter = CpuMeter(roots=roots or (os.getpid(),))
        self.lines = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="samples", daemon=True)

    def __enter__(self) -> Sampler:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _main(self) -> None:
        try:
            asyncio.run(self._loop())
        except Exception as exc:  # a sampler must never end the run it watches
            self.error = f"{type(exc).__name__}: {exc}"

    async def _connect(self) -> asyncpg.Connection | None:
        if not self.dsn:
            return None
        try:
            return await asyncpg.connect(self.dsn, timeout=2,
                                         server_settings={"application_name": "payharness-samples"})
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return None

    async def _open(self) -> tuple[asyncpg.Connection | None, dict[str, str]]:
        """A connection and the counter queries this server answers; the postmaster's CPU joins ours."""
        conn = await self._connect()
        counters: dict[str, str] = {}
        if conn is None:
            return None, counters
        for name, sql in COUNTERS_SQL.items():
            try:
                await conn.fetchrow(sql)
                counters[name] = sql
            except asyncpg.PostgresError:
                pass  # an older server (no pg_stat_checkpointer): that group is left out
        if self.postgres_is_ours:
            # pg_ctl starts the postmaster outside our tree; a backend's parent is the postmaster (a new one
            # after a crash and restart: it joins the roots then).
            with contextlib.suppress(psutil.Error):
                postmaster = psutil.Process(int(await conn.fetchval("SELECT pg_backend_pid()"))).ppid()
                if postmaster not in self.meter.roots:
                    self.meter.roots = (*self.meter.roots, postmaster)
        return conn, counters

    async def _loop(self) -> None:
        conn, counters = await self._open()
        self.meter.begin()
        before_cpu: dict[str, float] = {}
        before_counters: dict[str, dict[str, float]] = {}
        before_machine, before_psi, before_t = psutil.cpu_times(), _psi_total_us(), time.time()
        deadline = time.monotonic()
        with self.path.open("a", buffering=1) as out:
            while not self._stop.is_set():
                # Paced by a deadline, not by sleeps: the queries' own time would otherwise stretch each line
                # past a second, and now and then a second would have no line.
                deadline += 1.0
                pg: dict[str, Any] | None = None
                try:
                    if conn is None and self.dsn:
                        conn, counters = await self._open()  # the server restarted, or was not up yet
                        before_counters = {}  # a restarted server's counters start again
                    pg = await self._postgres(conn, counters, before_counters, deadline)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    pg = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                    conn = None
                    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
                now = time.time()
                span = max(now - before_t, 1e-6)
                cpu = self.meter.sample()
                machine, psi = psutil.cpu_times(), _psi_total_us()
                line: dict[str, Any] = {"t": round(now, 3), "span": round(span, 3)}
                line["cpu"] = {role: round((v - before_cpu.get(role, 0.0)) / span, 3)
                               for role, v in sorted(cpu.items())}
                ours = sum(line["cpu"].values())
                line["cpu"]["ours"] = round(ours, 3)
                line["machine"] = self._machine(machine, before_machine, span, ours, psi, before_psi)
                if pg is not None:
                    line["pg"] = pg
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
                self.lines += 1
                before_cpu, before_machine, before_psi, before_t = cpu, machine, psi, now
        if conn is not None:
            await conn.close()

    async def _postgres(self, conn: asyncpg.Connection | None, counters: dict[str, str],
                        before: dict[str, dict[str, float]], deadline: float) -> dict[str, Any] | None:
        """The second's Postgres part (None without a connection); sleeps until ``deadline`` meanwhile."""
        activity: list[dict[str, Any]] = []
        for n in range(ACTIVITY_PER_SECOND, 0, -1):  # snapshots spread over the second
            if conn is not None:
                activity += [dict(r) for r in await conn.fetch(ACTIVITY_SQL)]
            await asyncio.sleep(max(0.0, deadline - (n - 1) / ACTIVITY_PER_SECOND - time.monotonic()))
        if conn is None:
            return None
        vacuuming = [dict(r) for r in await conn.fetch(VACUUM_SQL)]
        with contextlib.suppress(asyncpg.UndefinedTableError):  # an older server: vacuums only
            vacuuming += [dict(r) for r in await conn.fetch(ANALYZE_SQL)]
        pg: dict[str, Any] = {**activity_summary(activity), "vacuuming": vacuuming}
        for name, sql in counters.items():
            row = {k: float(v or 0) for k, v in dict(await conn.fetchrow(sql) or {}).items()}
            pg[name] = _deltas(row, before.get(name, row))
            before[name] = row
        return pg

    @staticmethod
    def _machine(now: Any, before: Any, span: float, ours: float, psi: float | None,
                 before_psi: float | None) -> dict[str, Any]:
        def cores(field: str) -> float:
            return max(0.0, getattr(now, field, 0.0) - getattr(before, field, 0.0)) / span

        idle = cores("idle") + cores("iowait")
        # guest time is already inside user time on Linux
        total = sum(cores(f) for f in now._fields if f not in ("guest", "guest_nice"))
        busy = max(0.0, total - idle)
        load1, load5, _ = os.getloadavg()
        return {
            "cpus": os.cpu_count(),  # the machine's, whatever this process is pinned to: busy is the machine's too
            "busy": round(busy, 3),
            "others": round(max(0.0, busy - ours), 3),
            "steal": round(cores("steal"), 3),
            "iowait": round(cores("iowait"), 3),
            "load1": round(load1, 2),
            "load5": round(load5, 2),
            "psi_some_ms": None if psi is None or before_psi is None else round((psi - before_psi) / 1000 / span, 1),
        }


def window_means(path: Path, start: float, end: float) -> dict[str, float]:
    """The machine's means over the samples covering ``start``..``end`` (epoch seconds): ``busy``, ``others``,
    ``load1``, ``psi_some_ms``; empty without samples there."""
    if not path.exists():
        return {}
    lines = [json.loads(raw) for raw in path.read_text().splitlines() if raw.strip()]
    inside = [line["machine"] for line in lines if start <= line["t"] - line.get("span", 1.0) / 2 <= end]
    means: dict[str, float] = {}
    for key in ("busy", "others", "load1", "psi_some_ms"):
        values = [float(m[key]) for m in inside if m.get(key) is not None]
        if values:
            means[key] = round(sum(values) / len(values), 3)
    return means


def copy_window(source: Path, dest: Path, start: float, end: float) -> int:
    """The lines of each ``source/*.jsonl`` stamped (``t``) from ``start`` to ``end`` (epoch seconds) into a file
    of the same name in ``dest``, emptied first; returns how many lines. A bench-load phase's slice of the core's
    GC counters: one core runs through every phase, each worker appending to its own file (core/gcstats.py)."""
    shutil.rmtree(dest, ignore_errors=True)
    copied = 0
    for path in sorted(source.glob("*.jsonl")) if source.is_dir() else []:
        kept = [raw for raw in path.read_text().splitlines() if raw.strip() and start <= json.loads(raw)["t"] <= end]
        if kept:
            dest.mkdir(parents=True, exist_ok=True)
            (dest / path.name).write_text("\n".join(kept) + "\n")
            copied += len(kept)
    return copied
