"""Webhook load on a profiled service, then a consistency audit through the profile's observe queries.

``python -m load.target --profile shop.toml --rate 20 --duration 10``: the service is brought up as its
profile says, ``--payments`` payments are started through its API and left pending, and Locust posts
signed approvals of them at ``--rate`` events/s for ``--duration`` seconds — each approval many times, from
several users at once. Then every payment that had an approval answered 2xx must be paid exactly once:
amount paid equal to its total, at most one approved transaction, and (when the profile observes stored
events) its event recorded once. Writes ``audit.json`` (the core's load format: the report reads both),
Locust's CSV and HTML, and the ledger. Exit 0 when the audit is clean, 1 on an anomaly or a Locust error,
2 on a profile mistake; a profile with no webhook to load says why and exits 0 without measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.argtypes import positive_float, positive_int
from harness.target.applicability import webhook_gateway
from harness.target.preflight import PreflightFailed, preflight
from harness.target.profile import Profile, ProfileError, load_profile
from harness.target.run import TargetFailed, TargetRun
from harness.target.target import Target
from load.locust_proc import Plan, run_locust
from load.payloads import Attempt, payu_confirmation, wompi_event

LOCUSTFILE = Path(__file__).resolve().with_name("target_locustfile.py")
TOTAL = Decimal("50000.00")


@dataclass(frozen=True)
class Pending:
    order_id: str
    attempt: Attempt


async def _prepare(run: TargetRun, gateway: str, count: int) -> list[Pending]:
    async with Target(run) as target:
        await preflight(target)
        await target.reset()
        pending = []
        for _ in range(count):
            order = await target.create_order(TOTAL)
            assert order.order_id is not None
            paid = await target.pay(gateway, order.order_id, TOTAL)
            if not 200 <= paid.status < 300 or paid.reference is None:
                raise TargetFailed(f"api.pay.{gateway}: answered {paid.status} while preparing the load: "
                                   f"{paid.text[:120]}")
            gateway_id = paid.gateway_id or f"{secrets.randbelow(10**6)}-{secrets.token_hex(5)}"
            pending.append(Pending(order.order_id, Attempt(gateway, "a", order.order_id, str(paid.reference),
                                                           str(gateway_id), TOTAL)))
        return pending


def _events(profile: Profile, run: TargetRun, gateway: str, pending: list[Pending]) -> list[dict[str, Any]]:
    values, path = run.values, profile.webhooks[gateway]  # type: ignore[index]
    events = []
    for i, p in enumerate(pending):
        signed = (wompi_event(p.attempt, "APPROVED", secret=values["wompi_events_secret"]) if gateway == "wompi"
                  else payu_confirmation(p.attempt, "APPROVED", api_key=values["payu_api_key"],
                                         merchant_id=values["payu_merchant_id"]))
        events.append({"payment": i, "gateway": gateway, "path": path, "body": signed.body.decode(),
                       "headers": signed.headers})
    return events


async def _audit(run: TargetRun, pending: list[Pending], answers: dict[int, Counter[int]]) -> dict[str, Any]:
    anomalies: dict[str, list[dict[str, str]]] = {}

    def note(kind: str, subject: str, detail: str) -> None:
        anomalies.setdefault(kind, []).append({"subject": subject, "detail": detail})

    async with Target(run) as target:
        words = {"APPROVED", "PAID"} | {w.upper() for w in (run.profile.observe.status_map.paid
                                                            if run.profile.observe.status_map else [])}
        for i, p in enumerate(pending):
            accepted = sum(n for status, n in answers.get(i, Counter()).items() if 200 <= status < 300)
            if not accepted:
                continue
            subject = f"order {p.order_id}"
            paid = await target.amount_paid(p.order_id)
            if paid != p.attempt.amount:
                note("amount_paid_wrong", subject,
                     f"{accepted} approvals answered 2xx; paid {paid} of {p.attempt.amount}")
            rows = await target.transactions(p.order_id)
            approved = [r for r in rows if str(r.get("status", "")).upper() in words]
            if len(approved) > 1:
                note("transaction_doubled", subject, f"{len(approved)} approved rows: {approved[:3]}")
            if run.profile.observe.webhook_events is not None:
                stored = await target.webhook_events(str(p.attempt.gateway_id))
                if stored != 1:
                    note("event_not_recorded_once", subject, f"event {p.attempt.gateway_id} answered 2xx "
                                                             f"{accepted} times, stored {stored} times")
    counts = {kind: len(found) for kind, found in anomalies.items()}
    by_code = Counter[int]()
    for c in answers.values():
        by_code.update(c)
    settled = sum(1 for i in range(len(pending)) if any(200 <= s < 300 for s in answers.get(i, {})))
    return {"ok": not anomalies, "anomaly_counts": counts, "anomalies": anomalies,
            "stats": {"payments": len(pending), "payments_approved": settled,
                      "by_code": {str(k): v for k, v in sorted(by_code.items())}}}


def _ledger(folder: Path) -> dict[int, Counter[int]]:
    answers: dict[int, Counter[int]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                answers.setdefault(int(entry["payment"]), Counter())[int(entry["status"])] += 1
    return answers


def _thresholds(prefix: Path) -> dict[str, Any]:
    """Requests, failures and percentiles from Locust's aggregated row (latency is judged in the report)."""
    try:
        with prefix.with_name(prefix.name + "_stats.csv").open(newline="") as f:
            row = next(r for r in csv.DictReader(f) if r.get("Name") == "Aggregated")
    except (OSError, StopIteration):
        return {"requests": 0, "failures": 0, "error_ratio": 0.0, "breaches": []}
    requests, failures = int(row["Request Count"]), int(row["Failure Count"])
    return {"requests": requests, "failures": failures, "error_ratio": failures / requests if requests else 0.0,
            "p50_ms": row["50%"], "p95_ms": row["95%"], "p99_ms": row["99%"], "breaches": []}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.target", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profile", required=True, type=Path, help="the target profile (TOML)")
    parser.add_argument("--rate", type=positive_float, default=20.0, help="webhook events per second (default 20)")
    parser.add_argument("--duration", type=positive_float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--payments", type=positive_int, default=20, help="pending payments approved (default 20)")
    parser.add_argument("--users", type=positive_int, default=4, help="Locust users (default 4)")
    parser.add_argument("--artefacts", type=Path, required=True, help="folder for audit.json, Locust's files")
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    gateway = webhook_gateway(profile)
    if gateway is None:
        print("load not runnable: the profile gives no gateway with both [api.pay.<gateway>] and [webhooks]")
        return 0
    out = args.artefacts.resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with TargetRun.start(profile, log_dir=out / "logs") as run:
            pending = asyncio.run(_prepare(run, gateway, args.payments))
            events_file = out / "events.json"
            events_file.write_text(json.dumps(_events(profile, run, gateway, pending)))
            os.environ.update({"PAYHARNESS_TARGET_EVENTS": str(events_file),
                               "PAYHARNESS_TARGET_LEDGER": str(out / "ledger"),
                               "PAYHARNESS_TARGET_USER_RATE": str(args.rate / args.users)})
            plan = Plan(master=[sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                                "--host", run.base_url, "-u", str(args.users), "-r", str(args.users),
                                "-t", f"{args.duration:g}s", "--csv", str(out / "locust"), "--csv-full-history",
                                "--html", str(out / "locust.html"), "--only-summary", "--stop-timeout", "5",
                                "TargetWebhookUser"])
            code = run_locust(plan, log_dir=out / "logs", timeout=args.duration + 120)
            audit = asyncio.run(_audit(run, pending, _ledger(out / "ledger")))
    except (TargetFailed, PreflightFailed) as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return 2
    result = {"rate": args.rate, "mix": f"{args.payments} approvals, each repeated", "locust_exit": code,
              "target": profile.name, "thresholds": _thresholds(out / "locust"), "audit": audit}
    (out / "audit.json").write_text(json.dumps(result, indent=2))
    print(f"load: {result['thresholds']['requests']} events, {audit['stats']['by_code']}; audit "
          f"{'clean' if audit['ok'] else audit['anomaly_counts']}")
    # Locust exits 1 when any request failed: refusals are the service's answers, judged by the audit.
    return 0 if audit["ok"] and code in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
