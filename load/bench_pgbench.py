"""pgbench running the webhook path's SQL: the database's own ceiling for that work.

The script is generated from the core's own statements (core/webhooks/store.py: FRESH_WRITE, and READ
then GUARDED_WRITE when the attempt was no longer untouched — as the core does), with the parameters a new
APPROVED Wompi event gives them, and written next to the results (``pgbench.sql``). The seeded orders are
the same kind the load uses (pending attempts with Wompi ids), so each pgbench run of the script locks,
inserts and updates exactly what such an event makes the core do.

Usage: ``figures = run_pgbench(stack, seconds=15, clients=16, threads=2, out=Path("artefacts/bench"))``
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.db.session import webhook_pool_options
from core.settings import DatabaseSettings
from core.webhooks.store import FRESH_WRITE, GUARDED_WRITE, READ
from harness.stack import Stack, simulator_credentials
from load.db import run_sync, seed_run
from load.payloads import WOMPI_MERCHANT_NUMBER, Attempt, Mix, wompi_event

SEEDED = 100_000
_WOMPI_ID = "(:prefix || lpad(:i::text, 6, '0'))"
# The core's parameters ($n) as pgbench sees them: :variables, \gset results and literals.
_READ_PARAMS = {1: "'wompi'", 2: _WOMPI_ID}
_WRITE = {
    1: "'wompi'", 2: "('pgbench-' || :i || '-' || :r)", 3: "'transaction.updated'", 4: "'pgbench'",
    5: "repeat('0', 64)", 6: ":payload", 7: ":o_transaction_id", 8: ":o_order_id", 9: "'applied'", 10: "'apply'",
    11: ":o_transaction_id", 12: "'approved'", 13: ":o_order_id", 14: "'paid'", 15: ":o_total_amount::numeric",
    16: "NULL", 17: "NULL", 18: "NULL",
    19: ":o_order_status", 20: ":o_approved_amount::numeric", 21: ":o_flagged_for_refund::boolean",
    22: ":o_transaction_status", 23: ":o_gateway_transaction_id",
}

# FRESH_WRITE: the event row and effects of a first approval, the premise ledger.untouched gives it. The
# event's amount is the seeded attempt's (they vary per story): read inside the statement, one index probe
# more than the core's, which has it from the signed event.
_AMOUNT = ("(SELECT amount FROM order_transactions WHERE gateway = 'wompi' AND gateway_transaction_id ="
           " (:prefix || lpad(:i::text, 6, '0')))")
_FRESH = {
    1: "'wompi'", 2: "('pgbench-' || :i || '-' || :r)", 3: "'transaction.updated'", 4: "'pgbench'",
    5: "repeat('0', 64)", 6: ":payload", 7: "'applied'", 8: "'apply'", 9: "'approved'", 10: "'paid'",
    11: _AMOUNT, 12: "NULL", 13: "NULL", 14: "NULL", 15: _WOMPI_ID, 16: "NULL",
    17: _AMOUNT, 18: "'COP'", 19: "'pending'", 20: "0", 21: "false", 22: "'pending'",
}


def _bind(sql: str, values: dict[int, str]) -> str:
    return re.sub(r"\$(\d+)", lambda m: values[int(m.group(1))], " ".join(sql.split()))


def script() -> str:
    """The pgbench script: one new APPROVED event for a random seeded attempt, the core's statements."""
    return "\n".join([
        "-- Generated from core/webhooks/store.py for pgbench -M prepared. Variables: :prefix, :n, :payload.",
        "\\set i random(0, :n - 1)",
        "\\set r random(1, 1000000000000)",
        _bind(FRESH_WRITE["gateway_transaction_id"], _FRESH) + " \\gset f_",
        "\\if :f_exists",
        "\\else",
        _bind(READ["gateway_transaction_id"], _READ_PARAMS) + " \\gset o_",
        _bind(GUARDED_WRITE, _WRITE) + ";",
        "\\endif",
        "",
    ])


def _parse(output: str) -> dict[str, Any]:
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    latency = re.search(r"latency average = ([\d.]+) ms", output)
    done = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    return {
        "tps": float(tps.group(1)) if tps else 0.0,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "transactions": int(done.group(1)) if done else 0,
        "failed": int(failed.group(1)) if failed else 0,
    }


def run_pgbench(stack: Stack, *, seconds: float, clients: int, threads: int, out: Path) -> dict[str, Any]:
    """Seed, run pgbench, return its figures (``{"skipped": reason}`` without a pgbench binary)."""
    bin_dir = stack.postgres.bin_dir
    if bin_dir is None or not (bin_dir / "pgbench").exists():
        return {"skipped": f"no pgbench next to a {stack.postgres.kind} Postgres", "tps": 0.0}
    run_id = "pgb" + secrets.token_hex(2)
    dsn = stack.urls["database"]
    run_sync(lambda: seed_run(dsn, run_id, Mix.parse("none"), {"wompi": SEEDED}))
    sample = Attempt("wompi", "a", "O", "O-a", f"{WOMPI_MERCHANT_NUMBER}-{run_id}-000001", Decimal("50000.00"))
    payload = wompi_event(sample, "APPROVED", secret=simulator_credentials()["wompi"]["events_secret"]).body.decode()
    script_path = out / "pgbench.sql"
    script_path.write_text(script())
    argv = [
        str(bin_dir / "pgbench"),
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        str(threads),
        "-T",
        str(int(seconds)),
        "-f",
        str(script_path),
        "-D",
        f"prefix={WOMPI_MERCHANT_NUMBER}-{run_id}-",
        "-D",
        f"n={SEEDED}",
        "-D",
        f"payload={payload}",
        dsn,
    ]
    # The session the core's webhook pool runs these statements in (core/db/session.py).
    session = webhook_pool_options(DatabaseSettings(url=dsn), application_name="payharness-pgbench")["server_settings"]
    options = " ".join(f"-c {name}={value}" for name, value in session.items())
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False,
                            env={**os.environ, "PGOPTIONS": options})
    (out / "pgbench.log").write_text(result.stdout + result.stderr)
    figures = _parse(result.stdout)
    redacted = [
        "<database>" if a.startswith("postgresql://") else ("payload=<event>" if a.startswith("payload=") else a)
        for a in argv
    ]
    return figures | {
        "exit_code": result.returncode,
        "clients": clients,
        "threads": threads,
        "seconds": seconds,
        "command": redacted,
        "pgoptions": options,
    }
