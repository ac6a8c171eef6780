"""``payharness load``: a fresh stack, headless Locust at a given rate and duration, the audit, the artefacts.

Everything listens on 127.0.0.1 and stops by itself: the shape ends the run after ``--duration``, Locust's
``-t`` stops it a little later if the shape did not, and a hard timeout here kills what is left.

Usage::

    payharness load --rate 500 --duration 60 --mix dup=0.10,ooo=0.05,invalid=0.02
    payharness load --rate 300 --duration 30 --workers 2 --restart-core-at 12
    payharness load --rate 300 --duration 60 --crash-postgres-at 25
    python -m load.runner --rate 50 --duration 5 --artefacts /tmp/load-smoke
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from core.gcstats import ENV as GC_STATS_ENV
from harness.argtypes import (
    defect_name,
    non_negative_float,
    non_negative_int,
    plain,
    positive_float,
    positive_int,
    ratio_or_off,
)
from harness.defects import ENV as DEFECTS_ENV
from harness.defects import Seeding
from harness.postgres import PostgresUnavailable, choose_provider, provide_postgres
from harness.stack import Stack
from load.crash import describe, outage_figures
from load.db import run_sync
from load.ledger import read_ledger
from load.locust_proc import CONFIG, LOCUSTFILE, REPO, Plan, locust_plan, run_locust
from load.openloop import late_figures
from load.payloads import Mix
from load.samples import stack_sampler
from load.shapes import CLOSED, MAX_IN_FLIGHT, OPEN, OPEN_USERS, PACINGS
from load.stalls import print_after_run
from supervise import run_scratch

__all__ = ["CONFIG", "LOAD_CORE_ENV", "LOCUSTFILE", "REPO", "Plan", "build_parser", "locust_commands", "main", "redact",
           "run"]
ALL_USERS = ("WompiWebhookUser", "PayUWebhookUser", "WompiGatewayUser", "CheckoutUser", "EfectyUser")
# The checkout's per-IP limit protects a real shop; here every request comes from 127.0.0.1.
# Order reads and 401s are limited per IP as well: no user reads orders or sends a bad token today, raised so
# one that does later measures the core, not its limits.
LOAD_CORE_ENV = {"PAYHARNESS_LIMITS__PAYMENTS_PER_IP": "100000/minute",
                 "PAYHARNESS_LIMITS__ORDERS_PER_IP": "100000/minute",
                 "PAYHARNESS_LIMITS__READS_PER_IP": "100000/minute",
                 "PAYHARNESS_LIMITS__AUTH_FAILURES_PER_IP": "100000/minute"}


def _mix(text: str) -> str:
    """``--mix`` as Locust will read it, checked here first (names and probabilities)."""
    try:
        Mix.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _env_pair(text: str) -> str:
    key, sep, _ = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: use KEY=VALUE")
    return text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="payharness load", description=plain(__doc__))
    p.add_argument("--rate", type=positive_float, default=100.0, help="webhook events per second, overall")
    p.add_argument("--duration", type=positive_float, default=30.0, help="seconds of load")
    p.add_argument("--workers", type=non_negative_int, default=0,
                   help="Locust worker processes (0: one local process)")
    p.add_argument("--mix", type=_mix, default=None,
                   help="chaos per story, e.g. dup=0.10,ooo=0.05,invalid=0.02; 'none' for none (default: locust.conf)")
    p.add_argument("--shape", choices=["steady", "ramp", "spike"], default="steady",
                   help="steady rate, a ramp up to --rate, or a spike in the middle (default: steady)")
    p.add_argument("--user-rate", type=positive_float, default=None,
                   help="closed pacing: events/s per webhook user (default: locust.conf); refused with --pacing "
                        "open, where --open-users carry the rate")
    p.add_argument("--pacing", choices=PACINGS, default=None,
                   help="closed: each webhook user waits for its answer before its next request; open: each sends "
                        "on a fixed schedule and latency counts from the scheduled instant (default: locust.conf, "
                        "closed; load/README.md)")
    p.add_argument("--open-users", type=positive_int, default=None, metavar="N",
                   help=f"open pacing: webhook users per Locust process, whatever the rate; they share it evenly "
                        f"(default: {OPEN_USERS})")
    p.add_argument("--max-in-flight", type=positive_int, default=None, metavar="N",
                   help=f"open pacing: requests in flight per webhook user; a scheduled send past it is not sent "
                        f"and counts as a failure (default: {MAX_IN_FLIGHT})")
    p.add_argument("--users", nargs="*", choices=ALL_USERS, default=list(ALL_USERS), metavar="CLASS",
                   help=f"Locust user classes to run (default: all of {', '.join(ALL_USERS)})")
    p.add_argument("--core-workers", type=positive_int, default=2, help="uvicorn worker processes of the core")
    p.add_argument("--restart-core-at", type=non_negative_float, default=None, metavar="S",
                   help="restart the core this many seconds into the load (before --duration ends)")
    p.add_argument("--kill-db-connections-at", type=non_negative_float, action="append", default=[], metavar="S",
                   help="terminate the core's database sessions this many seconds in; repeatable")
    p.add_argument("--crash-postgres-at", type=non_negative_float, action="append", default=[], metavar="S",
                   help="SIGKILL the embedded Postgres this many seconds in and restart it on the same data "
                        "(the run's server is durable: fsync on); repeatable")
    p.add_argument("--crash-mode", choices=["postmaster", "all"], default="postmaster",
                   help="postmaster: SIGKILL the postmaster alone (its backends finish their statement, then exit); "
                        "all: every server process at once, so a commit can die before its answer")
    p.add_argument("--restart-mode", choices=["term", "kill"], default="term",
                   help="term: graceful stop; kill: SIGKILL the core and its workers")
    p.add_argument("--artefacts", default=None, help="folder for the ledger, audit.json, Locust CSV and HTML")
    p.add_argument("--defect-env", type=_env_pair, action="append", default=[], metavar="K=V",
                   help="extra environment for the core (e.g. a seeded defect); repeatable")
    p.add_argument("--defect", type=defect_name, action="append", default=[], metavar="NAME",
                   help="start the core with this seeded defect (payharness defects lists them); repeatable")
    p.add_argument("--defect-record", default=None, metavar="DIR",
                   help="folder where the schema step and each core worker record the defects they applied "
                        "(harness.defects.applied_parts reads it; payharness defects --load passes one)")
    p.add_argument("--check-p95", type=non_negative_float, default=None, metavar="MS",
                   help="fail when the webhooks' p95 exceeds this many ms; 0 = off (default: locust.conf)")
    p.add_argument("--check-p99", type=non_negative_float, default=None, metavar="MS",
                   help="fail when the webhooks' p99 exceeds this many ms; 0 = off (default: locust.conf)")
    p.add_argument("--check-error-ratio", type=ratio_or_off, default=None, metavar="R",
                   help="fail above this failed-request ratio (0..1); -1 = off (default: locust.conf)")
    p.add_argument("--locust-arg", action="append", default=[], metavar="ARG",
                   help="passed to Locust as is; repeatable")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and cross-check: every error here exits 2 before anything starts."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pacing == OPEN and args.user_rate is not None:
        parser.error("argument --user-rate: closed pacing only; with --pacing open a fixed number of users per "
                     "Locust process carries the rate (--open-users)")
    for flag, at in [("--restart-core-at", args.restart_core_at)] + [
        ("--kill-db-connections-at", t) for t in args.kill_db_connections_at
    ] + [("--crash-postgres-at", t) for t in args.crash_postgres_at]:
        if at is not None and at >= args.duration:
            parser.error(f"argument {flag}: {at:g} s is not within --duration {args.duration:g} s")
    if args.crash_postgres_at:
        try:
            kind = choose_provider()
        except PostgresUnavailable as exc:
            parser.error(f"argument --crash-postgres-at: {exc}")
        if kind != "embedded":
            parser.error(f"argument --crash-postgres-at: needs the embedded Postgres, whose processes the harness "
                         f"owns; this run would use {kind} (unset PAYHARNESS_DATABASE_URL, or set "
                         f"PAYHARNESS_POSTGRES=embedded)")
    return args


def locust_commands(args: argparse.Namespace, stack: Stack, artefacts: Path) -> Plan:
    opts = [
        "--headless",
        "--host",
        stack.urls["core"],
        "--database-url",
        stack.urls["database"],
        "--wompi-url",
        stack.urls["wompi"],
        "--efecty-url",
        stack.urls["efecty"],
        # One argument, "--opt=value": a generated secret may begin with "-", which would read as an option.
        f"--token-secret={stack.core_env['PAYHARNESS_AUTH__TOKEN_SECRET']}",
        "--rate",
        f"{args.rate:g}",
        "--duration",
        f"{args.duration:g}",
        "--shape",
        args.shape,
        "-t",
        f"{int(args.duration + 15)}s",
        "--stop-timeout",
        "0",
        "--artefacts",
        str(artefacts),
        "--csv",
        str(artefacts / "locust"),
        "--html",
        str(artefacts / "locust.html"),
        "--only-summary",
    ]
    for flag, value in (
        ("--mix", args.mix),
        ("--user-rate", args.user_rate),
        ("--pacing", args.pacing),
        ("--open-users", args.open_users),
        ("--max-in-flight", args.max_in_flight),
        ("--check-p95", args.check_p95),
        ("--check-p99", args.check_p99),
        ("--check-error-ratio", args.check_error_ratio),
    ):
        if value is not None:
            opts += [flag, str(value)]
    if args.restart_core_at is not None or args.kill_db_connections_at or args.crash_postgres_at:
        # While the core is down requests fail and wait, then their retries land: that is the point of the
        # run, so only the audit judges it unless limits were given explicitly.
        for flag, given, relaxed in (
            ("--check-error-ratio", args.check_error_ratio, "0.2"),
            ("--check-p95", args.check_p95, "0"),
            ("--check-p99", args.check_p99, "0"),
        ):
            if given is None:
                opts += [flag, relaxed]
    opts += list(args.locust_arg)
    return locust_plan(opts, args.users, workers=args.workers)


def restart_core(stack: Stack, mode: str, *, workers: int, extra_env: dict[str, str]) -> float:
    """Stop the core (gracefully, or SIGKILL it and its workers) and start it again on the same socket."""
    started = time.perf_counter()
    service = stack.core_service
    if mode == "kill" and service is not None and service.proc is not None:
        with contextlib.suppress(ProcessLookupError):  # the core's process group: its supervisor and workers
            os.killpg(service.proc.pid, signal.SIGKILL)
        service.proc.wait()
    stack.stop_core()
    stack.start_core(workers=workers, extra_env=extra_env)
    return time.perf_counter() - started


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--defect-env {pair!r}: use KEY=VALUE")
        env[key] = value
    return env


def defect_environment(args: argparse.Namespace) -> dict[str, str]:
    env = parse_env(args.defect_env)
    names = [n.strip() for n in [*env.get("PAYHARNESS_DEFECTS", "").split(","), *args.defect] if n.strip()]
    if names:
        env["PAYHARNESS_DEFECTS"] = ",".join(dict.fromkeys(names))
    return env


# What stands for a run's result in its folder: an earlier run's, left in a folder given again, would be read as
# this run's when this one ends before writing its own (a stack that fails to start writes neither JSON), and an
# earlier ledger would be audited with this run's.
RESULT_FILES = ("audit.json", "run.json", "stalls.json", "samples.jsonl")
RESULT_FOLDERS = ("ledger", "gc")


def clear_earlier_run(artefacts: Path) -> list[str]:
    """Remove an earlier run's results from ``artefacts`` (see ``RESULT_FILES``); returns the names removed."""
    removed = []
    for name in RESULT_FILES:
        if (artefacts / name).is_file():
            (artefacts / name).unlink()
            removed.append(name)
    for name in RESULT_FOLDERS:
        if (artefacts / name).is_dir():
            shutil.rmtree(artefacts / name)
            removed.append(f"{name}/")
    return removed


def run(args: argparse.Namespace) -> int:
    artefacts = Path(args.artefacts or REPO / "artefacts" / f"load-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    artefacts.mkdir(parents=True, exist_ok=True)
    removed = clear_earlier_run(artefacts)
    if removed:
        print(f"payharness load: {artefacts} held an earlier run's results; removed {', '.join(removed)}",
              file=sys.stderr)
    # The core's workers count their garbage collections per second for the samples (core/gcstats.py).
    extra_env = {**LOAD_CORE_ENV, GC_STATS_ENV: str(artefacts / "gc"), **defect_environment(args)}
    # Seeded defects are a value the stack applies (schema and core); their names leave the core's environment.
    try:
        record = Path(args.defect_record).resolve() if args.defect_record else None
        seeding = Seeding.named(extra_env.pop(DEFECTS_ENV, "").split(","), record=record)
    except KeyError as exc:
        raise SystemExit(f"payharness load: {exc.args[0]}") from None
    return _run(args, artefacts, extra_env, seeding)


def _run(args: argparse.Namespace, artefacts: Path, extra_env: dict[str, str], seeding: Seeding) -> int:
    events: dict[str, object] = {}
    with contextlib.ExitStack() as servers:
        # A crash is survivable only as far as the server's commits are durable: fsync and synchronous
        # commit on for such a run (the embedded default turns both off).
        postgres = servers.enter_context(provide_postgres(durable=True)) if args.crash_postgres_at else None
        stack = servers.enter_context(Stack.start(core_workers=args.core_workers, core_extra_env=extra_env,
                                                  seeding=seeding, log_dir=artefacts / "logs", postgres=postgres))
        events["postgres"] = {"kind": stack.postgres.kind, "durable": stack.postgres.durable}
        plan = locust_commands(args, stack, artefacts)
        done = threading.Event()
        chaos = threading.Thread(target=_chaos, args=(stack, args, artefacts, extra_env, events, done), daemon=True)
        chaos.start()
        samples = stack_sampler(stack.postgres.kind, stack.urls["database"], artefacts / "samples.jsonl")
        try:  # Locust's processes are stopped in run_locust whatever happens, a Ctrl-C included
            with samples:  # per second: CPU by part, the machine, Postgres (load/samples.py)
                code = run_locust(plan, log_dir=artefacts, timeout=args.duration + 180)
        finally:
            done.set()
            chaos.join(timeout=60)
    if "postgres_crashes" in events:
        events["postgres_crashes"] = outage_figures(read_ledger(artefacts / "ledger"),
                                                    events["postgres_crashes"])  # type: ignore[arg-type]
    if args.pacing == OPEN:
        events["open_pacing"] = late_figures(read_ledger(artefacts / "ledger"))
    _write_run(artefacts, args, plan, code, events)
    _print_outcome(artefacts, code)
    if args.pacing == OPEN:
        print(open_text(events["open_pacing"], artefacts))  # type: ignore[arg-type]
    for line in describe(events.get("postgres_crashes", [])):  # type: ignore[arg-type]
        print(line)
    print_after_run(artefacts, args.rate)
    return code


def _chaos(
    stack: Stack,
    args: argparse.Namespace,
    artefacts: Path,
    extra_env: dict[str, str],
    events: dict[str, object],
    done: threading.Event,
) -> None:
    """Restart the core, kill its database connections, crash Postgres at their times, from the load's start."""
    plan = sorted(
        [(t, "kill_db") for t in args.kill_db_connections_at]
        + ([(args.restart_core_at, "restart")] if args.restart_core_at is not None else [])
        + [(t, "crash_postgres") for t in args.crash_postgres_at]
    )
    if not plan:
        return
    # The load starts once the run's orders are seeded, which is when the ledger folder appears.
    while not (artefacts / "ledger").exists():
        if done.wait(0.1):
            return
    started = time.monotonic()
    for at, action in plan:
        if done.wait(max(0.0, at - (time.monotonic() - started))):
            return
        if action == "restart":
            took = restart_core(stack, args.restart_mode, workers=args.core_workers, extra_env=extra_env)
            events["restart_seconds"] = round(took, 3)
        elif action == "crash_postgres":
            crashes: list[dict[str, object]] = events.setdefault("postgres_crashes", [])  # type: ignore[assignment]
            try:
                timing = stack.postgres.crash_and_restart(everything=args.crash_mode == "all")
                crashes.append({"at": at, **timing.to_dict()})
            except PostgresUnavailable as exc:  # not restarted: the run goes on against a dead server
                crashes.append({"at": at, "error": str(exc)})
        else:
            killed = run_sync(lambda: kill_db_connections(stack))
            kills: list[int] = events.setdefault("db_connections_killed", [])  # type: ignore[assignment]
            kills.append(killed)


async def kill_db_connections(stack: Stack) -> int:
    """Terminate every other session on the core's database: in-flight transactions fail mid-way."""
    import asyncpg

    conn = await asyncpg.connect(stack.postgres.dsn)
    try:
        return len(
            await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                stack.database,
            )
        )
    finally:
        await conn.close()


def redact(argv: list[str]) -> list[str]:
    """A command line fit for an artefact: the database URL and the token secret left out."""
    return ["<database>" if a.startswith("postgresql://")
            else "--token-secret=<secret>" if a.startswith("--token-secret=") else a for a in argv]


def _write_run(artefacts: Path, args: argparse.Namespace, plan: Plan, code: int, events: dict[str, object]) -> None:
    redacted = redact(plan.master)
    record = {
        "exit_code": code,
        "rate": args.rate,
        "duration": args.duration,
        "workers": args.workers,
        "mix": args.mix,
        "shape": args.shape,
        "pacing": args.pacing or CLOSED,
        # Open: what carried the rate (the users per Locust process and each one's cap), as audit.json's pacing.
        "open_users": (args.open_users or OPEN_USERS) if args.pacing == OPEN else None,
        "max_in_flight": (args.max_in_flight or MAX_IN_FLIGHT) if args.pacing == OPEN else None,
        "restart_core_at": args.restart_core_at,
        "kill_db_connections_at": args.kill_db_connections_at,
        "restart_mode": args.restart_mode,
        "crash_postgres_at": args.crash_postgres_at,
        "crash_mode": args.crash_mode,
        "defect_env": defect_environment(args),
        "events": events,
        "locust_master": redacted,
    }
    (artefacts / "run.json").write_text(json.dumps(record, indent=2))


def _print_outcome(artefacts: Path, code: int) -> None:
    audit_path = artefacts / "audit.json"
    if audit_path.exists():
        result = json.loads(audit_path.read_text())
        t = result["thresholds"]
        print(
            f"webhooks: {t['requests']} requests, {t['failures']} failed ({t['error_ratio']:.4%}), "
            f"p50 {t['p50_ms']:g} ms, p95 {t['p95_ms']:g} ms, p99 {t['p99_ms']:g} ms"
        )
        for breach in t["breaches"]:
            print(f"  threshold broken: {breach}")
        audit = result.get("audit")
        if audit:
            state = "clean" if audit["ok"] else f"ANOMALIES {audit['anomaly_counts']}"
            stats = audit["stats"]
            print(f"audit: {state}; {stats['requests']} ledger entries, {stats['event_rows']} event rows")
            for kind, examples in audit["anomalies"].items():
                for example in examples[:3]:
                    print(f"  {kind}: {example['subject']}: {example['detail']}")
    else:
        print(f"no audit.json (Locust exited {code}); see {artefacts}/locust-master.log", file=sys.stderr)
    if code != 0:
        for log in sorted(artefacts.glob("locust-*.log")):
            tail = log_tail(log)
            if tail:
                print(f"--- last lines of {log.name} ---\n{tail}", file=sys.stderr)
    print(f"exit {code}; artefacts in {artefacts}")


def open_text(late: dict[str, float], artefacts: Path) -> str:
    """The open loop's own line: how late the sends started (the generator's share of the latency figures above,
    which count from each scheduled instant) and how many the in-flight cap refused."""
    audit_path = artefacts / "audit.json"
    refused = (json.loads(audit_path.read_text()).get("pacing") or {}).get("not_sent") if audit_path.exists() else None
    started = (f"started late p50 {late['p50_ms']:g} ms, p99 {late['p99_ms']:g} ms, max {late['max_ms']:g} ms"
               if late else "no send answered")
    return (f"open pacing (latency counted from each scheduled instant): {started} — the generator's share; "
            f"not sent on time (in-flight cap): {'unknown' if refused is None else refused}")


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log, or "" when it is missing or empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``payharness load`` (the lead wires it into harness.cli)."""
    args = parse_args(argv)
    with run_scratch():  # its temp files and its children's go when it ends (``payharness`` execs this)
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
