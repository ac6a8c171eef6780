"""``payharness bench-load``: the sustained signed-webhook rate of the core against the raw ceiling, in one run.

Phases, all on this machine, against one Postgres:

1. generator: one Locust process sending signed events to a null endpoint — what the load generator can
   offer at most here (if it is not well above the steps, the steps run with ``--workers``);
2. search: the core at offered rates chosen by load/bench_search.py (``--step-seconds`` each) — from
   ``--start`` up by ``--growth`` until a step does not hold, then bisecting between the highest rate held
   and the lowest not held down to ``--resolution``, all within ``--budget`` seconds; a step *holds* when
   p99 < 100 ms over its steady window (the first 2 s — spawning, each worker opening its connections — and
   the last second are left out; Locust's whole-run percentiles are kept beside), errors < 0.1 % and the
   achieved rate is ≥ 95 % of the offered one (``load.thresholds.StepLimits``); with ``--pacing open`` the
   latency counts from each send's scheduled instant and one send refused by a user's in-flight cap is a
   miss. When the budget ends before any step failed, the best held rate is a lower bound, and so is its
   ratio: ``bench.json`` says so rather than report them as measured (load/bench_result.py);
3. hold: the best held rate for ``--hold`` seconds, with the consistency audit; if it does not hold that
   long, 90 %, 80 % … of it down to the lowest held step, then that step (``bench_search.hold_rates``); the
   sustained rate is the one a hold confirmed;
4. ceilings, unpaced (64 users sending as fast as answers come back): the core and the core's own
   statements through bare asyncpg behind a bare endpoint (``load.bare``), alternating for
   ``--ceiling-rounds`` rounds each, the median round counting (with ``--verified``, also the verified endpoint:
   the core's checks and recording without its HTTP layer); then pgbench running them with 16 clients;
5. with ``--bare-paced``, the bare endpoint searched and held as the core was, and with ``--verified`` too, the
   verified endpoint: what share of the bare ceiling each yardstick itself sustains here;
6. ratios, ``bench.json``, a table. Every phase also gets its CPU by part of the stack over its steady
   window (load/cpu.py), counting only our processes.

``PHASES`` is that list as data; ``run`` starts the stack and runs them in order.

Usage::

    payharness bench-load                                  # ~6 min, writes artefacts/bench/bench.json
    payharness bench-load --start 300 --budget 120 --step-seconds 10 --hold 30
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import platform
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from core.gcstats import ENV as GC_STATS_ENV
from core.httpserver import HTTP_PROTOCOL
from harness.argtypes import (
    non_negative_float,
    plain,
    positive_float,
    positive_int,
)
from harness.databases import PREFIX as DB_PREFIX
from harness.postgres import PostgresHandle
from harness.stack import KEEP_ALIVE_SECONDS, Stack, simulator_credentials
from load.bench_pgbench import run_pgbench
from load.bench_result import median_round, print_table, search_text, verdict
from load.bench_search import SearchPlan, hold_rates, search
from load.cpu import CpuMeter
from load.db import plain_dsn, run_sync
from load.ledger import read_ledger
from load.locust_proc import Plan, locust_plan, run_locust
from load.runner import LOAD_CORE_ENV, REPO, redact
from load.samples import copy_window, stack_sampler, window_means
from load.shapes import CLOSED, MAX_IN_FLIGHT, OPEN_USERS, PACINGS
from load.stalls import analyse_phase
from load.thresholds import NOT_SENT, STEP_LIMITS
from supervise import Service, run_scratch

P99_LIMIT_MS = STEP_LIMITS.p99_ms
ERROR_LIMIT = STEP_LIMITS.max_error_ratio
ACHIEVED_SHARE = STEP_LIMITS.achieved_share
CEILING_USERS = 64
USER_RATE = 5.0  # closed pacing's events/s per paced user unless --user-rate says otherwise
# The benchmark's throw-away embedded server: at ~2,500 writes/s the default max_wal_size (1GB) requested a
# checkpoint inside every 60 s hold, and on 2 cores its work was a stall (load/README.md, "Issue 16, the next
# round"). Room for the whole benchmark's WAL between checkpoints, and no timed one within a run; the data
# directory is in RAM (/dev/shm) when it fits, so the WAL costs memory, at most about this much.
POSTGRES_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "30min"}
SETTING_NAME = re.compile(r"[a-z][a-z0-9_]*")


def postgres_setting(text: str) -> tuple[str, str]:
    """``--postgres-setting NAME=VALUE``: one more server setting for the benchmark's throw-away Postgres."""
    name, sep, value = text.partition("=")
    if not sep or not SETTING_NAME.fullmatch(name) or not value or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a Postgres setting, e.g. autovacuum_max_workers=1), "
                                         f"got {text!r}")
    return name, value
WARMUP_SECONDS = 3  # the history's first seconds include spawning
TASKSET = ("taskset", "-c")
# A step's wall time beyond its --step-seconds (seeding, Locust starting and stopping, settling): the search's
# first guess of what a step costs, replaced by the longest step it has seen.
STEP_OVERHEAD_SECONDS = 5.0


@dataclass
class Measure:
    """One Locust run: what was offered and what came back."""

    name: str
    offered: float  # events/s asked for (0: unpaced)
    seconds: float
    achieved: float = 0.0  # steady state, from the ledger (see _steady)
    window_seconds: float = 0.0
    achieved_overall: float = 0.0  # Locust's own: requests over the whole run, ramp included
    median_rps: float = 0.0
    requests: int = 0
    failures: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    # The same percentiles over the steady window only (the ledger's own latencies, spawning and pool
    # warm-up excluded): a 10 s step's p99 is otherwise its first 0.3 s, when each worker opens connections.
    steady_p50_ms: float = 0.0
    steady_p95_ms: float = 0.0
    steady_p99_ms: float = 0.0
    # Open pacing: the same window's p99 of how late sends started after their scheduled instants (the
    # generator's share of the latency above, which counts from the instants), and the sends a user's in-flight
    # cap refused over the whole run (each a failure, and a miss however few).
    pacing: str = CLOSED
    steady_late_p99_ms: float = 0.0
    not_sent: int = 0
    # CPU over the same steady window, by part of the stack (load/cpu.py): milliseconds per answered request
    # and average cores busy. On a small machine the parts share the cores; this is where a webhook's cost goes.
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    cpu_cores: dict[str, float] = field(default_factory=dict)
    # Each core (or bare) worker's share of their CPU over the same window, largest first: [0.5, 0.5] is an even
    # split; with every worker accepting from the shared socket, keep-alive users could pile up on one.
    worker_cpu_shares: list[float] = field(default_factory=list)
    # The machine over the same window (load/samples.py): cores busy in processes not ours, and the load
    # average. On a shared machine they say how many of its cores this phase really had.
    others_cores: float | None = None
    load1: float | None = None
    # Seconds of a paced phase whose webhooks missed p99 or the offered rate (load/stalls.py, its stalls.json
    # beside the phase's samples.jsonl and its slice of the core's GC counters in gc/); None: not analysed.
    missed_seconds: int | None = None
    # Locust's count of exceptions in our users' code (audit.json's ``exceptions``); None: not recorded. A phase
    # with any is not held: the generator did not send what the phase meant.
    generator_exceptions: int | None = None
    held: bool = False
    audit_ok: bool | None = None
    audit_counts: dict[str, int] = field(default_factory=dict)
    locust_workers: int = 0
    command: list[str] = field(default_factory=list)


def _versions() -> dict[str, str]:
    names = ("locust", "fastapi", "starlette", "uvicorn", "sqlalchemy", "asyncpg", "pydantic", "httpx")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def _machine() -> dict[str, Any]:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(), "load_average": os.getloadavg()}


def _history_median(path: Path) -> float:
    if not path.exists():
        return 0.0
    with path.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["Name"] == "Aggregated"]
    rates = [float(r["Requests/s"]) for r in rows[WARMUP_SECONDS:] if float(r["Requests/s"]) > 0]
    return round(statistics.median(rates), 1) if rates else 0.0


@dataclass(frozen=True)
class Steady:
    rate: float = 0.0
    window_seconds: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    late_p99_ms: float = 0.0
    start: float = 0.0  # the window, epoch seconds
    end: float = 0.0


def _rank(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    return values[max(0, math.ceil(share * len(values)) - 1)]


def _steady(ledger_dir: Path, *, trim: float = 2.0, seconds: float = 0.0) -> Steady:
    """Answered requests/s and latency percentiles between the first and last ``trim`` seconds (spawning,
    stopping).

    From the ledger's own send times and latencies: Locust's rates average over a sliding window that is
    still filling during a short run, and its percentiles include the warm-up. The window runs to the phase's
    end (``seconds`` after the first answer, less the trim) even when the answers stopped before it: requests
    cut off when the phase stops are no failures and carry no latency, so a core that stopped answering midway
    shows only in the rate over the seconds it was silent."""
    entries = [e for e in read_ledger(ledger_dir) if e.code is not None] if ledger_dir.exists() else []
    if len(entries) < 10:
        return Steady()
    start, end = entries[0].at + trim, max(entries[-1].at, entries[0].at + seconds - trim / 2) - trim / 2
    window = [e for e in entries if start <= e.at <= end]
    if end <= start or not window:
        return Steady()
    inside = sorted(e.ms for e in window)
    p50, p95, p99 = (round(_rank(inside, q), 1) for q in (0.50, 0.95, 0.99))
    late = round(_rank(sorted(e.late_ms for e in window), 0.99), 1)
    return Steady(round(len(inside) / (end - start), 1), round(end - start, 1), p50, p95, p99, late, start, end)


def _aggregated_rps(path: Path, names: str = "webhook") -> float:
    if not path.exists():
        return 0.0
    with path.open() as handle:
        # A send the open loop's cap refused is a failure under its own name, and no request the server saw.
        return round(sum(float(r["Requests/s"]) for r in csv.DictReader(handle)
                         if r["Name"].startswith(names) and not r["Name"].endswith(f" {NOT_SENT}")), 1)


def locust_run(
    name: str,
    *,
    host: str,
    stack: Stack,
    out: Path,
    offered: float,
    seconds: float,
    user_rate: float,
    audit: bool,
    workers: int = 0,
    pool_rate: float | None = None,
    cpu_roots: Sequence[int] = (),
    cpus: str | None = None,
    core_gc: Path | None = None,
    pacing: str = CLOSED,
    max_in_flight: int = MAX_IN_FLIGHT,
    open_users: int = OPEN_USERS,
) -> Measure:
    """One headless Locust run of WompiWebhookUser (plain stories: one new APPROVED event each); ``cpus``
    pins Locust's processes to those CPUs (``taskset -c``); ``core_gc`` is the folder the core writes its GC
    counters into, whose lines of this run are copied into ``out/gc``; ``pacing`` (load/shapes.py) is how a
    paced run's users send — an unpaced one (offered 0) is closed whatever it says: it measures how fast
    answers come back; open, ``open_users`` users per Locust process carry the rate, ``max_in_flight`` each."""
    # A phase folder reused from an earlier run must not lend it ledger lines, samples, GC lines or analyses.
    shutil.rmtree(out / "ledger", ignore_errors=True)
    shutil.rmtree(out / "gc", ignore_errors=True)
    for stale in ("audit.json", "samples.jsonl", "stalls.json"):  # not ``name``: that is the phase's
        (out / stale).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    # Unpaced (offered 0): CEILING_USERS users, each asking for far more than any answer allows.
    rate = offered or CEILING_USERS * user_rate
    pacing = pacing if offered else CLOSED
    # Each pacing's own knobs only: a command line (kept in bench.json) names what set the users.
    users = (["--open-users", str(open_users), "--max-in-flight", str(max_in_flight)] if pacing != CLOSED
             else ["--user-rate", f"{user_rate:g}"])
    opts = [
        "--headless",
        "--host",
        host,
        "--database-url",
        stack.urls["database"],
        "--mix",
        "none",
        "--rate",
        f"{rate:g}",
        "--pacing",
        pacing,
        *users,
        "--duration",
        f"{seconds:g}",
        "-t",
        f"{int(seconds + 20)}s",
        "--stop-timeout",
        "0",
        "--artefacts",
        str(out),
        "--csv",
        str(out / "locust"),
        "--only-summary",
        "--check-p95",
        "0",
        "--check-p99",
        f"{P99_LIMIT_MS:g}",
        "--check-error-ratio",
        f"{ERROR_LIMIT:g}",
        "--settle",
        "1",
        "--pool-rate",
        f"{pool_rate or offered:g}",
    ]
    if not audit:
        opts.append("--no-audit")
    plan = locust_plan(opts, ["WompiWebhookUser"], workers=workers)
    argv = plan.master
    if cpus:
        plan = Plan([*TASKSET, cpus, *plan.master], [[*TASKSET, cpus, *w] for w in plan.workers])
    samples = stack_sampler(stack.postgres.kind, stack.urls["database"], out / "samples.jsonl")
    began = time.time()
    with CpuMeter(roots=cpu_roots) as meter, samples:
        run_locust(plan, log_dir=out, timeout=seconds + 120, name="locust")
    if core_gc is not None:
        copy_window(core_gc, out / "gc", began, time.time())
    m = _measure(name, out, offered, seconds, workers, argv, meter, pacing=pacing)
    m.missed_seconds = analyse_phase(out, offered)
    return m


def _measure(name: str, out: Path, offered: float, seconds: float, workers: int, argv: list[str],
             meter: CpuMeter | None = None, *, pacing: str = CLOSED) -> Measure:
    m = Measure(name, offered, seconds, locust_workers=workers, command=redact(argv), pacing=pacing)
    result_path = out / "audit.json"
    if result_path.exists():
        result = json.loads(result_path.read_text())
        t = result["thresholds"]
        m.requests, m.failures = t["requests"], t["failures"]
        m.p50_ms, m.p95_ms, m.p99_ms = t["p50_ms"], t["p95_ms"], t["p99_ms"]
        if "audit" in result:
            m.audit_ok, m.audit_counts = result["audit"]["ok"], result["audit"]["anomaly_counts"]
        m.not_sent = int((result.get("pacing") or {}).get("not_sent") or 0)
        m.generator_exceptions = result.get("exceptions")
    steady = _steady(out / "ledger", seconds=seconds)
    m.achieved, m.window_seconds = steady.rate, steady.window_seconds
    m.steady_p50_ms, m.steady_p95_ms, m.steady_p99_ms = steady.p50_ms, steady.p95_ms, steady.p99_ms
    m.steady_late_p99_ms = steady.late_p99_ms
    if meter is not None and steady.window_seconds:
        cpu, span = meter.between(steady.start, steady.end)
        answered = steady.rate * steady.window_seconds
        if span and answered:
            m.cpu_cores = {role: round(value / span, 3) for role, value in cpu.items() if value}
            m.cpu_ms_per_request = {role: round(1000 * value / answered, 3) for role, value in cpu.items() if value}
        m.worker_cpu_shares = meter.serving_shares(steady.start, steady.end)
    if steady.window_seconds:
        machine = window_means(out / "samples.jsonl", steady.start, steady.end)
        m.others_cores, m.load1 = machine.get("others"), machine.get("load1")
    m.achieved_overall = _aggregated_rps(out / "locust_stats.csv")
    m.median_rps = _history_median(out / "locust_stats_history.csv")
    m.held = STEP_LIMITS.holds(requests=m.requests, failures=m.failures, steady_p99_ms=m.steady_p99_ms,
                               offered=offered, achieved=m.achieved, not_sent=m.not_sent) \
        and m.generator_exceptions == 0
    return m


def open_text(m: Measure) -> str:
    """``, started late p99 3.1 ms, not sent 0`` for an open-loop run, else nothing."""
    if m.pacing == CLOSED:
        return ""
    return f", started late p99 {m.steady_late_p99_ms:g} ms, not sent {m.not_sent}"


def cpu_text(m: Measure) -> str:
    """``; CPU ms/request core 1.42, postgres 0.81, generator 0.86 (1.71 cores busy; workers 0.51/0.49)`` or
    nothing."""
    if not m.cpu_ms_per_request:
        return ""
    parts = ", ".join(f"{role} {value:g}" for role, value in sorted(m.cpu_ms_per_request.items(),
                                                                   key=lambda item: -item[1]) if value >= 0.01)
    shares = f"; workers {'/'.join(f'{share:.2f}' for share in m.worker_cpu_shares)}" if m.worker_cpu_shares else ""
    return f"; CPU ms/request {parts} ({sum(m.cpu_cores.values()):.2f} cores busy{shares})"


def bare_server(mode: str, *, dsn: str, workers: int, log_dir: Path, null_delay_ms: float = 0.0) -> Service:
    # Served as the core is (harness/stack.py): the same server, HTTP protocol and keep-alive; only the app differs.
    factory = "load.bare:verified_from_env" if mode == "verified" else "load.bare:app_from_env"
    argv = [sys.executable, "-m", "supervise.asgi", factory, "--factory", "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS),
            "--http", HTTP_PROTOCOL]
    env = {**os.environ, "PAYHARNESS_BARE_DSN": dsn, "PAYHARNESS_BARE_MODE": mode,
           "PAYHARNESS_BARE_NULL_DELAY_MS": f"{null_delay_ms:g}"}
    if mode == "verified":  # it checks the events' signatures as the core does: the stack's secret
        env["PAYHARNESS_BARE_EVENTS_SECRET"] = simulator_credentials()["wompi"]["events_secret"]
    return Service(f"bare-{mode}", argv, log_dir=log_dir, env=env, cwd=REPO).start()


def _url(service: Service) -> str:
    return service.url


@dataclass
class Run:
    """What every phase reads and adds to: the options, the stack, the report being built."""

    args: argparse.Namespace
    plan: SearchPlan
    out: Path
    stack: Stack
    report: dict[str, Any]
    cpu_roots: tuple[int, ...] = ()
    generator_rate: float = 0.0
    core_gc: Path | None = None  # where the core's workers write their GC counters (core/gcstats.py)

    def workers_for(self, rate: float) -> int:
        # A second process only when one cannot offer the rate: on a small machine it costs the core CPU.
        if self.args.workers is not None:
            return int(self.args.workers)
        return 0 if self.generator_rate >= 1.5 * rate else 2

    def paced(self, name: str, host: str, rate: float, seconds: float, *, audit: bool,
              folder: str | None = None) -> Measure:
        """A paced phase (a step or a hold) at ``rate`` against ``host``, with the run's pacing and generator;
        its files in ``folder`` (default: its name) under the benchmark's artefacts."""
        args = self.args
        return locust_run(
            name,
            host=host,
            stack=self.stack,
            out=self.out / (folder or name),
            offered=rate,
            seconds=seconds,
            user_rate=args.user_rate or USER_RATE,
            pacing=args.pacing,
            max_in_flight=args.max_in_flight,
            open_users=args.open_users,
            audit=audit,
            workers=self.workers_for(rate),
            cpu_roots=self.cpu_roots,
            cpus=args.generator_cpus,
            core_gc=self.core_gc,
        )


def _generator(run: Run) -> None:
    """What one Locust process can offer on this machine, against a null endpoint."""
    args, stack, out = run.args, run.stack, run.out
    null = bare_server("null", dsn=stack.urls["database"], workers=args.core_workers, log_dir=stack.log_dir)
    try:
        gen = locust_run(
            "generator",
            host=_url(null),
            stack=stack,
            out=out / "generator",
            offered=0,
            seconds=args.ceiling_seconds,
            user_rate=1000,
            audit=False,
            pool_rate=2000,
            cpu_roots=run.cpu_roots,
            cpus=args.generator_cpus,
            core_gc=run.core_gc,
        )
    finally:
        null.stop()
    run.report["generator"] = asdict(gen)
    run.generator_rate = gen.achieved
    print(f"generator: one Locust process offers {gen.achieved:g} events/s against a null endpoint")


def _search(run: Run) -> None:
    """Steps up until one fails, then bisects (load/bench_search.py), within ``--budget`` seconds."""
    args, stack = run.args, run.stack
    run.report["steps"] = []

    def step(rate: float) -> bool:
        m = run.paced(f"step-{rate:g}", stack.urls["core"], rate, args.step_seconds, audit=False)
        run.report["steps"].append(asdict(m))
        print(
            f"step {rate:>6g}/s ({m.locust_workers or 1} Locust process(es)):"
            f" achieved {m.achieved:g}/s, steady p50 {m.steady_p50_ms:g} p95 {m.steady_p95_ms:g}"
            f" p99 {m.steady_p99_ms:g} ms (whole run p99 {m.p99_ms:g}),"
            f" failures {m.failures}{open_text(m)} -> {'held' if m.held else 'NOT held'}{cpu_text(m)}"
        )
        return m.held

    found = search(step, run.plan, first_cost=args.step_seconds + STEP_OVERHEAD_SECONDS)
    run.report["search"] = found.to_dict()
    spent = f"{found.elapsed_s:.0f} s of a {run.plan.budget_s:g} s budget"
    print(f"search: {search_text(run.report['search'])} after {spent}")


def _holds(run: Run) -> None:
    """The best held rate for ``--hold`` seconds, audited; if it does not hold that long, the rates below it."""
    args, stack = run.args, run.stack
    run.report["holds"] = []
    held_rates = hold_rates([s["offered"] for s in run.report["steps"] if s["held"]])
    for rate in held_rates if args.hold > 0 else []:
        hold = run.paced("hold", stack.urls["core"], rate, args.hold, audit=True, folder=f"hold-{rate:g}")
        run.report["holds"].append(asdict(hold))
        print(
            f"hold {hold.offered:g}/s for {args.hold:g} s: achieved {hold.achieved:g}/s, steady p99"
            f" {hold.steady_p99_ms:g} ms (whole run {hold.p99_ms:g}){open_text(hold)}, "
            f"audit {'clean' if hold.audit_ok else hold.audit_counts} -> {'held' if hold.held else 'NOT held'}"
            f"{cpu_text(hold)}; "
            + ("stalls not analysed" if hold.missed_seconds is None
               else f"seconds missed {hold.missed_seconds} (hold-{rate:g}/stalls.json)")
        )
        if hold.held and hold.audit_ok:
            break


def _ceilings(run: Run) -> None:
    """Unpaced ceilings of the core and of bare asyncpg, in alternating rounds; the median round of each counts.

    One 15 s ceiling on this shared machine varied by a third between runs (bare 671-901/s), more than
    anything the ratio is meant to show; which goes first alternates too."""
    args, stack, out = run.args, run.stack, run.out

    def ceiling(name: str, host: str) -> dict[str, Any]:
        m = locust_run(
            name,
            host=host,
            stack=stack,
            out=out / name,
            offered=0,
            seconds=args.ceiling_seconds,
            user_rate=1000,
            audit=False,
            workers=int(args.workers or 0),
            pool_rate=args.pool_rate,
            cpu_roots=run.cpu_roots,
            cpus=args.generator_cpus,
            core_gc=run.core_gc,
        )
        print(f"{name}: {m.achieved:g}/s, p50 {m.p50_ms:g} p99 {m.p99_ms:g} ms, failures {m.failures}{cpu_text(m)}")
        return asdict(m)

    modes = {"bare_ceiling": "sql", **({"verified_ceiling": "verified"} if args.verified else {})}
    hosts = {"core_ceiling": stack.urls["core"]}
    rounds: dict[str, list[dict[str, Any]]] = {key: [] for key in ("core_ceiling", *modes)}
    yardsticks: list[Service] = []
    try:  # a yardstick that fails to start stops the ones already started
        for key, mode in modes.items():
            yardsticks.append(bare_server(mode, dsn=stack.urls["database"], workers=args.core_workers,
                                          log_dir=stack.log_dir))
            hosts[key] = _url(yardsticks[-1])
        for n in range(1, max(1, args.ceiling_rounds) + 1):
            for key in ceiling_order(list(hosts), n):
                rounds[key].append(ceiling(f"{key.replace('_', '-')}-{n}", hosts[key]))
    finally:
        for server in yardsticks:
            server.stop()
    for key, measured in rounds.items():
        run.report[f"{key}_rounds"] = measured
        run.report[key] = median_round(measured)
        each = ", ".join(f"{m['achieved']:g}" for m in measured)
        print(f"{key.replace('_', ' ')}: median of {len(measured)} rounds {run.report[key]['achieved']:g}/s ({each})")


def ceiling_order(keys: list[str], n: int) -> list[str]:
    """Round ``n``'s order of the ceilings: each round starts one later, so none always runs first (or last)."""
    shift = (n - 1) % len(keys)
    return keys[shift:] + keys[:shift]


# What the benchmark's phases write; emptied before a yardstick's paced phase (``empty_written_tables``).
_KEPT_TABLES = ("alembic_version",)


async def empty_written_tables(dsn: str) -> list[str]:
    """Empty every table of the benchmark's throw-away database but the schema's version, then checkpoint.

    The core's search and holds run first, on empty tables; by the yardsticks' paced phases the earlier phases
    have written a million events and more, and their 60 s holds paid for it (autovacuum on tables that size,
    the core's unflushed buffers): in one run the bare endpoint held 1,320/s in 10 s steps and only 900/s for a
    minute. Each paced phase now starts from the state the core's started from. Returns the tables emptied."""
    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        if not str(await conn.fetchval("SELECT current_database()")).startswith(DB_PREFIX):
            raise RuntimeError("refusing to empty a database the benchmark did not create")
        tables = [row[0] for row in await conn.fetch(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' AND NOT tablename = ANY($1)"
            " ORDER BY tablename", list(_KEPT_TABLES))]
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")  # names quoted by Postgres
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):  # a server the user gave, as a non-superuser
            await conn.execute("CHECKPOINT")
        return tables
    finally:
        await conn.close()


def _paced_yardstick(run: Run, mode: str, key: str) -> None:
    """The yardstick ``mode`` of load/bare.py searched and held as the core was (same plan, pacing and limits),
    from the same empty tables (``empty_written_tables``); no audit (``sql`` keeps no ledger of its own;
    ``verified``'s is the core's, but it is not the core)."""
    args = run.args
    found_steps: list[dict[str, Any]] = []
    holds: list[dict[str, Any]] = []
    emptied = run_sync(lambda: empty_written_tables(run.stack.urls["database"]))
    server = bare_server(mode, dsn=run.stack.urls["database"], workers=args.core_workers, log_dir=run.stack.log_dir)
    label = "bare" if mode == "sql" else mode

    def step(rate: float) -> bool:
        m = run.paced(f"{label}-step-{rate:g}", _url(server), rate, args.step_seconds, audit=False)
        found_steps.append(asdict(m))
        print(f"{label} step {rate:>6g}/s: achieved {m.achieved:g}/s, steady p99 {m.steady_p99_ms:g} ms, failures "
              f"{m.failures}{open_text(m)} -> {'held' if m.held else 'NOT held'}{cpu_text(m)}")
        return m.held

    try:
        found = search(step, run.plan, first_cost=args.step_seconds + STEP_OVERHEAD_SECONDS)
        for rate in hold_rates([s["offered"] for s in found_steps if s["held"]]) if args.hold > 0 else []:
            hold = run.paced(f"{label}-hold-{rate:g}", _url(server), rate, args.hold, audit=False)
            holds.append(asdict(hold))
            verdict_text = "held" if hold.held else "NOT held"
            print(f"{label} hold {rate:g}/s for {args.hold:g} s: achieved {hold.achieved:g}/s, steady p99 "
                  f"{hold.steady_p99_ms:g} ms{open_text(hold)} -> {verdict_text}{cpu_text(hold)}")
            if hold.held:
                break
    finally:
        server.stop()
    run.report[key] = {"search": found.to_dict(), "steps": found_steps, "holds": holds, "emptied_first": emptied}
    print(f"{label} search: {search_text(run.report[key]['search'])}")


def _bare_paced(run: Run) -> None:
    """With ``--bare-paced``: the bare endpoint searched and held as the core was (same plan, pacing and limits).

    The target ratio compares the core's *paced* rate with the bare endpoint's *unpaced* ceiling; what share of
    its own ceiling the bare endpoint itself holds paced, on the same machine with the same generator, is the
    floor of that ratio for any implementation of these statements (reports/floor.py)."""
    if run.args.bare_paced:
        _paced_yardstick(run, "sql", "bare_paced")


def _verified_paced(run: Run) -> None:
    """With ``--verified`` and ``--bare-paced``: the verified endpoint (the core's work without its HTTP layer)
    searched and held the same way — what share of the bare ceiling a receiver that does every check and records
    every event holds here, whatever web framework carries it."""
    if run.args.verified and run.args.bare_paced:
        _paced_yardstick(run, "verified", "verified_paced")


def _pgbench(run: Run) -> None:
    """pgbench running the core's own statements: the database's ceiling for the same work."""
    run.report["pgbench"] = run_pgbench(run.stack, seconds=run.args.ceiling_seconds, clients=16, threads=2, out=run.out)


# The benchmark, in order; each phase reads the options and the stack and adds its part to the report.
PHASES: tuple[tuple[str, Callable[[Run], None]], ...] = (
    ("generator", _generator),
    ("search", _search),
    ("holds", _holds),
    ("ceilings", _ceilings),
    ("pgbench", _pgbench),
    ("bare_paced", _bare_paced),
    ("verified_paced", _verified_paced),
)


def postmaster_pid(postgres: PostgresHandle) -> int | None:
    """The embedded server's postmaster (``pg_ctl`` starts it outside our process tree); None for a server the
    harness did not start, whose other clients' work is not ours to count."""
    if postgres.kind != "embedded":
        return None

    async def parent_of_backend() -> int | None:
        conn = await asyncpg.connect(plain_dsn(postgres.dsn))
        try:  # while connected: the backend ends with its connection
            return psutil.Process(int(await conn.fetchval("SELECT pg_backend_pid()"))).ppid()
        except psutil.Error:
            return None
        finally:
            await conn.close()

    return run_sync(parent_of_backend)


def run(args: argparse.Namespace, plan: SearchPlan) -> dict[str, Any]:
    settings = {**POSTGRES_SETTINGS, **dict(args.postgres_setting or ())}
    out = Path(args.artefacts).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": _machine(),
        "versions": _versions(),
        "core_workers": args.core_workers,
        # Each paced Locust user waits for its answer, so this sets how many requests can be in flight at a rate
        # and, with it, how an overload shows: as latency (few events/s per user) or as fewer sent (many).
        "user_rate": (args.user_rate or USER_RATE) if args.pacing == CLOSED else None,
        # closed: that wait; open: --open-users users per Locust process carry the rate whatever it is, each on a
        # fixed schedule, latency counted from each scheduled instant and a send past --max-in-flight a miss
        # (load/shapes.py). The unpaced ceilings are closed either way.
        "pacing": args.pacing,
        "open_users": args.open_users if args.pacing != CLOSED else None,
        "max_in_flight": args.max_in_flight if args.pacing != CLOSED else None,
        "limits": {"p99_ms": P99_LIMIT_MS, "error_ratio": ERROR_LIMIT, "achieved_share": ACHIEVED_SHARE},
        "started": time.strftime("%FT%T%z"),
        "phase_seconds": {},
    }
    if args.stack_cpus:
        # Before the stack starts: the core, the simulators and the postmaster inherit it; Locust is pinned apart.
        os.sched_setaffinity(0, cpu_list(args.stack_cpus))
    report["cpus"] = {"stack": args.stack_cpus, "generator": args.generator_cpus}
    # The core's workers count their collections per second for the whole benchmark; each phase keeps its slice.
    core_gc = out / "gc"
    shutil.rmtree(core_gc, ignore_errors=True)
    core_env = {**LOAD_CORE_ENV, GC_STATS_ENV: str(core_gc)}
    with Stack.start(core_workers=args.core_workers, core_extra_env=core_env, log_dir=out / "logs",
                     postgres_settings=settings) as stack:
        report["postgres"] = stack.postgres.kind
        # Only a server the harness started takes them (harness/postgres.py); another is as its owner set it.
        report["postgres_settings"] = settings if stack.postgres.kind == "embedded" else None
        postmaster = postmaster_pid(stack.postgres)
        roots = (os.getpid(),) if postmaster is None else (os.getpid(), postmaster)
        bench = Run(args, plan, out, stack, report, cpu_roots=roots, core_gc=core_gc)
        for name, phase in PHASES:
            began = time.monotonic()
            phase(bench)
            report["phase_seconds"][name] = round(time.monotonic() - began, 1)
    report["machine"]["load_average_after"] = os.getloadavg()  # other work on the machine skews every figure
    report["result"] = verdict(report)
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=str))
    print_table(report, out / "bench.json")
    return report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="payharness bench-load", description=plain(__doc__))
    p.add_argument("--start", type=positive_float, default=250.0, help="the search's first offered rate, events/s")
    p.add_argument("--growth", type=positive_float, default=1.5,
                   help="while every step holds, the next offers this many times the last (at least +resolution)")
    p.add_argument("--resolution", type=positive_float, default=25.0,
                   help="bisect until the highest rate held and the lowest not held are this close, events/s")
    p.add_argument("--budget", type=positive_float, default=240.0,
                   help="seconds for the search; a step starts only if it fits (holds and ceilings come after)")
    p.add_argument("--step-seconds", type=positive_float, default=15.0, help="seconds at each step")
    p.add_argument("--min-rate", type=positive_float, default=10.0, help="lowest rate tried when the first step fails")
    p.add_argument("--hold", type=non_negative_float, default=60.0, help="seconds at the best rate, audited (0: skip)")
    p.add_argument("--ceiling-seconds", type=positive_float, default=15.0,
                   help="seconds of each unpaced run that measures the core's and the bare apps' ceilings")
    p.add_argument("--ceiling-rounds", type=positive_int, default=3,
                   help="core and bare ceilings, alternating, this many times each; the median round counts")
    p.add_argument("--postgres-setting", type=postgres_setting, action="append", metavar="NAME=VALUE",
                   help="a further setting for the benchmark's embedded Postgres (repeatable; over "
                        f"{', '.join(f'{k}={v}' for k, v in POSTGRES_SETTINGS.items())}); kept in bench.json")
    p.add_argument("--verified", action="store_true",
                   help="also the verified endpoint (load.bare's verified mode: the core's checks and recording "
                        "without its HTTP layer): its ceiling in the alternating rounds and, with --bare-paced, "
                        "its own paced search and hold")
    p.add_argument("--bare-paced", action="store_true",
                   help="last: the same search and hold against the bare endpoint (no audit: it keeps no ledger), "
                        "so the ratio's yardstick says what share of its own ceiling it holds paced")
    p.add_argument("--user-rate", type=positive_float, default=None,
                   help=f"closed pacing: events/s per paced user (default {USER_RATE:g}); refused with --pacing open, "
                        f"where --open-users carry the rate")
    p.add_argument("--pacing", choices=PACINGS, default=CLOSED,
                   help="how the search's steps and the holds send: closed (each user waits for its answer) or "
                        "open (a fixed schedule, latency from each scheduled instant; load/README.md)")
    p.add_argument("--open-users", type=positive_int, default=OPEN_USERS,
                   help="open pacing: users per Locust process, whatever the rate; they share it evenly")
    p.add_argument("--max-in-flight", type=positive_int, default=MAX_IN_FLIGHT,
                   help="open pacing: requests in flight per user; a send past it is not sent, and the step missed")
    p.add_argument("--pool-rate", type=positive_float, default=4000.0, help="rate the unpaced pools are sized for")
    p.add_argument("--core-workers", type=positive_int, default=2, help="uvicorn workers of the core and the bare apps")
    p.add_argument("--workers", type=positive_int, default=None, help="Locust workers (default: decided by phase 1)")
    p.add_argument("--artefacts", default=str(REPO / "artefacts" / "bench"),
                   help="folder for bench.json and the runs' logs (default: artefacts/bench)")
    p.add_argument("--stack-cpus", type=cpu_set, default=None, metavar="LIST",
                   help="run the core, the simulators and Postgres on these CPUs only, e.g. 0 or 0-1 (Linux)")
    p.add_argument("--generator-cpus", type=cpu_set, default=None, metavar="LIST",
                   help="run Locust on these CPUs only (taskset -c), e.g. 1: the generator off the measured cores")
    p.add_argument("--exit-zero", action="store_true",
                   help="exit 0 whenever the benchmark ran (the audit judges the target in its report)")
    return p


def cpu_list(text: str) -> set[int]:
    """``0,2-3`` as a set of CPU numbers (taskset's list syntax)."""
    found: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def cpu_set(text: str) -> str:
    """An argparse type: a CPU list this machine has."""
    try:
        cpus = cpu_list(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a CPU list such as 0 or 0,1 or 0-3") from None
    if not cpus or max(cpus) >= (os.cpu_count() or 1):
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has CPUs 0-{(os.cpu_count() or 1) - 1}")
    return text


def search_plan(args: argparse.Namespace) -> SearchPlan:
    """The search the options ask for; ``ValueError`` when it could not end."""
    return SearchPlan(args.start, args.growth, args.resolution, args.min_rate, args.budget)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``payharness bench-load``; 0 when the target is met (or with --exit-zero)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pacing != CLOSED and args.user_rate is not None:
        parser.error("argument --user-rate: closed pacing only; with --pacing open a fixed number of users per "
                     "Locust process carries the rate (--open-users)")
    try:
        plan = search_plan(args)
    except ValueError as error:  # before anything starts
        parser.error(str(error))
    with run_scratch():  # its temp files and its children's go when it ends (``payharness`` execs this)
        report = run(args, plan)
    return 0 if report["result"]["target_met"] or args.exit_zero else 1


if __name__ == "__main__":
    sys.exit(main())
