"""Locust event listeners: options, seeding at test start, ledger collection, and the audit on ``quitting``.

Who does what, by process:

* local runner (no workers): everything below, in one process;
* master: seeds the run's orders at ``test_start`` (and hands the run id to workers through the spawn
  message's options), collects every worker's ledger at ``test_stopping``, audits at ``quitting`` —
  exactly once per Locust run, whatever the number of workers;
* worker: writes its ledger; on the master's ``ledger_collect`` it stops its users, closes the ledger and
  answers ``ledger_done`` (shipping the lines when the master is on another machine).

The exit code: 1 when the audit finds an anomaly or a threshold breaks, 0 otherwise — also when some
requests failed within the allowed error ratio (Locust alone would exit 1 on any failure).

Usage: imported by ``load/locustfile.py``; nothing to call.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from load.audit import SimView, audit, sim_view_of_run
from load.db import run_sync, seed_run, take_snapshot
from load.ledger import read_ledger, write_lines
from load.payloads import Mix
from load.settle import settle_wompi_simulator
from load.shapes import CLOSED, MAX_IN_FLIGHT, OPEN_USERS, PACINGS
from load.state import LoadState, pool_sizes, state_of
from load.thresholds import Thresholds, evaluate, not_sent_count, samples_from_stats

log = logging.getLogger("payharness.load")
COLLECT_TIMEOUT = 60.0
SHIP_CHUNK = 2_000
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _opts(environment: Environment) -> Any:
    """The parsed options, custom ones included (typed Any: Locust adds our arguments at run time)."""
    assert environment.parsed_options is not None
    return environment.parsed_options


def _runner(environment: Environment) -> Any:
    assert environment.runner is not None
    return environment.runner


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any, **_: Any) -> None:
    g = parser  # Locust's own add_argument: it knows env_var, include_in_web_ui and is_secret
    g.add_argument(
        "--database-url",
        env_var="PAYHARNESS_LOAD_DATABASE_URL",
        default="",
        help="the core's database (plain postgresql:// URL): orders are seeded and audited there",
    )
    g.add_argument(
        "--wompi-url",
        env_var="PAYHARNESS_LOAD_WOMPI_URL",
        default="",
        help="the Wompi simulator (for WompiGatewayUser and the retry audit)",
    )
    g.add_argument("--efecty-url", env_var="PAYHARNESS_LOAD_EFECTY_URL", default="", help="the Efecty simulator")
    g.add_argument(
        "--token-secret",
        env_var="PAYHARNESS_LOAD_TOKEN_SECRET",
        default="",
        is_secret=True,
        help="the core's PAYHARNESS_AUTH__TOKEN_SECRET (checkout and Efecty users mint tokens with it)",
    )
    g.add_argument("--rate", type=float, default=100.0, help="webhook events per second offered, overall")
    g.add_argument("--user-rate", type=float, default=5.0,
                   help="closed pacing: events per second each webhook user offers (open pacing ignores it: "
                        "--open-users carry the rate)")
    g.add_argument("--pacing", choices=list(PACINGS), default=CLOSED,
                   help="closed: a webhook user waits for its answer before the next; open: it sends on a fixed "
                        "schedule, timed from each scheduled instant (load/README.md)")
    g.add_argument("--open-users", type=int, default=OPEN_USERS,
                   help="open pacing: webhook users per Locust process, whatever the rate; they share it evenly")
    g.add_argument("--max-in-flight", type=int, default=MAX_IN_FLIGHT,
                   help="open pacing: requests one webhook user may have in flight; a send past it is not sent "
                        "and counted as a failure")
    g.add_argument("--sim-rate", type=float, default=2.0, help="payments per second through the Wompi simulator")
    g.add_argument("--checkout-rate", type=float, default=1.0, help="checkouts per second per checkout user")
    g.add_argument("--shape", choices=["steady", "ramp", "spike"], default="steady")
    g.add_argument("--duration", type=float, default=0.0, help="shape length in s (default: --run-time, else 60)")
    g.add_argument(
        "--pool-rate",
        type=float,
        default=0.0,
        help="events/s the seeded pools are sized for (default: --rate; set it for unpaced ceiling runs)",
    )
    g.add_argument("--mix", default=str(Mix()), help="chaos per story, e.g. dup=0.10,ooo=0.05,invalid=0.02")
    g.add_argument("--artefacts", default="artefacts/load", help="where the ledger and audit.json go")
    g.add_argument("--check-p95", type=float, default=100.0, help="fail when webhook p95 (ms) exceeds this; 0 = off")
    g.add_argument("--check-p99", type=float, default=250.0, help="fail when webhook p99 (ms) exceeds this; 0 = off")
    g.add_argument("--check-error-ratio", type=float, default=0.001, help="fail above this failure ratio; -1 = off")
    g.add_argument("--check-names", default=r"^webhook", help="regex of request names the thresholds apply to")
    g.add_argument("--settle", type=float, default=2.0, help="seconds to let the core finish before the audit")
    g.add_argument("--max-tries", type=int, default=6, help="delivery attempts per event on 5xx/connection errors")
    g.add_argument("--no-audit", action="store_true", default=False, help="skip the audit (thresholds still apply)")
    # Set by the master at test start and forwarded to workers in the spawn message.
    g.add_argument("--load-run-id", default="", include_in_web_ui=False, help="(internal)")
    g.add_argument("--load-workers", type=int, default=1, include_in_web_ui=False, help="(internal)")
    g.add_argument("--load-pools", default="{}", include_in_web_ui=False, help="(internal)")


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    opts: Any = environment.parsed_options
    if opts is None:  # a bare Environment (tests)
        return
    state = LoadState(artefacts=Path(opts.artefacts), node=f"{socket.gethostname()}-{os.getpid()}")
    environment.payharness_load = state  # type: ignore[attr-defined]
    runner: Any = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("ledger_collect", _on_collect, concurrent=True)
    elif isinstance(runner, MasterRunner):
        runner.register_message("ledger_chunk", _on_chunk)
        runner.register_message("ledger_done", _on_done)


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    state, opts, runner = state_of(environment), _opts(environment), _runner(environment)
    if not isinstance(runner, WorkerRunner):
        _seed(environment)
    if not isinstance(runner, MasterRunner):
        workers = opts.load_workers if isinstance(runner, WorkerRunner) else 1
        index = getattr(runner, "worker_index", 0) if isinstance(runner, WorkerRunner) else 0
        # A worker learns the artefacts folder (like the run id) from the master's spawn message.
        state.artefacts = Path(opts.artefacts)
        state.begin(run_id=opts.load_run_id, workers=max(1, workers), index=index, pools=json.loads(opts.load_pools))
        state.open_writer()
    # What is set up by now (Locust, the run's attempts) lives as long as the run: out of the cyclic collector's
    # sight. Measured at 500/s: the generator's one full collection during a 30 s run took 100.7 ms without
    # this, 4.1 ms with it — a pause every request in flight would otherwise have counted as latency.
    gc.collect()
    gc.freeze()


def _seed(environment: Environment) -> None:
    state, opts, runner = state_of(environment), _opts(environment), _runner(environment)
    if not opts.database_url:
        raise SystemExit("payharness load: --database-url is required (`payharness up` prints it)")
    run_id = secrets.token_hex(3)
    duration = opts.duration or opts.run_time or 60.0
    pools = pool_sizes(
        rate=opts.pool_rate or opts.rate,
        duration=duration,
        mix=Mix.parse(opts.mix),
        sim_rate=opts.sim_rate,
        user_classes=runner.user_classes,
        shape=opts.shape,
    )
    started = time.perf_counter()
    orders = run_sync(lambda: seed_run(opts.database_url, run_id, Mix.parse(opts.mix), pools))
    log.warning(
        "payharness load: run %s seeded %d orders in %.1f s (%s)", run_id, orders, time.perf_counter() - started, pools
    )
    workers = runner.worker_count if isinstance(runner, MasterRunner) else 1
    opts.load_run_id, opts.load_workers, opts.load_pools = run_id, max(1, workers), json.dumps(pools)
    state.run_ids.append(run_id)


# ------------------------------------------------------------------------------------ ledger collection


@events.test_stopping.add_listener
def on_test_stopping(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    state = state_of(environment)
    state.awaiting = {c.id for c in runner.clients.all}
    for client_id in sorted(state.awaiting):
        runner.send_message("ledger_collect", {}, client_id=client_id)
    deadline = time.monotonic() + COLLECT_TIMEOUT
    while state.awaiting and time.monotonic() < deadline:
        gevent.sleep(0.1)
    if state.awaiting:
        state.incomplete.update(state.awaiting)
        log.error("payharness load: no ledger from workers %s", sorted(state.awaiting))


def _on_collect(environment: Environment, msg: Any, **_: Any) -> None:
    """Worker: stop sending, close the ledger, tell the master (shipping lines when it is elsewhere)."""
    state, runner = state_of(environment), _runner(environment)
    runner.stop()
    count = state.close_writer()
    master = getattr(environment.parsed_options, "master_host", "127.0.0.1")
    if master not in LOOPBACK and state.writer_path is not None:
        lines = state.writer_path.read_text(encoding="utf-8").splitlines()
        for start in range(0, len(lines), SHIP_CHUNK):
            runner.send_message("ledger_chunk", {"node": state.node, "lines": lines[start : start + SHIP_CHUNK]})
    runner.send_message("ledger_done", {"node": state.node, "count": count, "client_id": runner.client_id})


def _on_chunk(environment: Environment, msg: Any, **_: Any) -> None:
    state = state_of(environment)
    write_lines(state.artefacts / "ledger" / "shipped" / f"{msg.data['node']}.jsonl", msg.data["lines"])


def _on_done(environment: Environment, msg: Any, **_: Any) -> None:
    state = state_of(environment)
    state.awaiting.discard(msg.data.get("client_id") or msg.node_id)
    state.ledger_counts[msg.data["node"]] = int(msg.data["count"])


# ------------------------------------------------------------------------------------------- the audit


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    state, opts = state_of(environment), _opts(environment)
    # Headless runs have stopped by now; after a SIGTERM (web UI) Locust fires quitting with users still
    # running, so stop them first: nothing may be sent while the audit reads.
    _runner(environment).stop()
    state.close_writer()
    if not state.run_ids:
        return
    limits = Thresholds(
        p95_ms=opts.check_p95 or None,
        p99_ms=opts.check_p99 or None,
        max_error_ratio=None if opts.check_error_ratio < 0 else opts.check_error_ratio,
        names=opts.check_names,
    )
    evaluation = evaluate(samples_from_stats(environment.stats), limits)
    result: dict[str, Any] = {
        "run_ids": state.run_ids,
        "mix": opts.mix,
        "rate": opts.rate,
        "shape": opts.shape,
        "thresholds": evaluation.to_dict(),
        "ledger_nodes": state.ledger_counts,
        "pools_exhausted": sorted(state.exhausted),  # this process's users only (workers log theirs)
        "pacing": pacing_record(opts, environment.stats),
    }
    audit_ok = True
    if not opts.no_audit:
        gevent.sleep(opts.settle)
        report = run_audit(environment)
        audit_ok = report["ok"]
        result["audit"] = report
    # Errors raised in our own users' code (a payload, a pacer, the ledger): what they sent is not what was meant.
    result["exceptions"] = sum(int(e.get("count", 1)) for e in _runner(environment).exceptions.values())
    result["ok"] = audit_ok and evaluation.ok and not result["exceptions"]
    state.artefacts.mkdir(parents=True, exist_ok=True)
    (state.artefacts / "audit.json").write_text(json.dumps(result, indent=2, default=str))
    _print_summary(result, state.artefacts / "audit.json")
    environment.process_exit_code = 0 if result["ok"] else 1


def pacing_record(opts: Any, stats: Any) -> dict[str, Any]:
    """How the webhook users were paced, and (open pacing) how many scheduled sends the cap refused — every
    worker's, as the master's statistics hold them."""
    if opts.pacing == CLOSED:
        return {"mode": opts.pacing, "user_rate": opts.user_rate, "max_in_flight": None,
                "not_sent": not_sent_count(samples_from_stats(stats))}
    # Open: the rate is carried by a fixed number of users per process, so --user-rate played no part.
    return {"mode": opts.pacing, "user_rate": None, "users_per_process": opts.open_users,
            "max_in_flight": opts.max_in_flight, "in_flight_per_process": opts.open_users * opts.max_in_flight,
            "not_sent": not_sent_count(samples_from_stats(stats))}


def run_audit(environment: Environment) -> dict[str, Any]:
    state, opts = state_of(environment), _opts(environment)
    sim = SimView()
    if opts.wompi_url and state.sim_used(environment):
        sim = settle_wompi_simulator(opts.wompi_url)
    ledger = [e for e in read_ledger(state.artefacts / "ledger") if e.run in state.run_ids]
    sim = sim_view_of_run(sim, ledger)
    sim_keys = {str(d.get("event_key")) for d in sim.deliveries}
    snapshot = run_sync(lambda: take_snapshot(opts.database_url, state.run_ids, extra_keys=sim_keys))
    report = audit(ledger, snapshot, sim=sim, max_tries=opts.max_tries).to_dict()
    if state.incomplete:
        report["ok"] = False
        report["anomaly_counts"]["ledger_incomplete"] = len(state.incomplete)
        report["anomalies"]["ledger_incomplete"] = [{"subject": w, "detail": "no ledger"} for w in state.incomplete]
    return report


def _print_summary(result: dict[str, Any], path: Path) -> None:
    t = result["thresholds"]
    lines = [
        f"payharness load: webhook requests {t['requests']}, failures {t['failures']} "
        f"({t['error_ratio']:.4%}), p50 {t['p50_ms']:g} ms, p95 {t['p95_ms']:g} ms, p99 {t['p99_ms']:g} ms"
    ]
    lines += [f"  threshold broken: {b}" for b in t["breaches"]]
    pacing = result.get("pacing") or {}
    if pacing.get("mode") not in (None, CLOSED):
        lines.append(f"  pacing {pacing['mode']}: latency from each scheduled instant; not sent on time (over "
                     f"{pacing['max_in_flight']} in flight per user): {pacing['not_sent']}")
    if "audit" in result:
        a = result["audit"]
        lines.append(
            f"  audit: {'clean' if a['ok'] else 'ANOMALIES'} {a['anomaly_counts'] or ''} "
            f"({a['stats']['requests']} ledger entries, {a['stats']['event_rows']} event rows)"
        )
    lines.append(f"  {'OK' if result['ok'] else 'FAILED'}: {path}")
    print("\n".join(lines), flush=True)
