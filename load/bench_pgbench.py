"""pgbench running the webhook path's SQL (``bench_pgbench.sql``): the database's own ceiling for that work.

The seeded orders are the same kind the load uses (pending attempts with Wompi ids), so each pgbench
transaction finds, locks, inserts and updates exactly what a new event makes the core do.

Usage: ``figures = run_pgbench(stack, seconds=15, clients=16, threads=2, out=Path("artefacts/bench"))``
"""

from __future__ import annotations

import re
import secrets
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.stack import Stack, simulator_credentials
from load.db import run_sync, seed_run
from load.payloads import WOMPI_MERCHANT_NUMBER, Attempt, Mix, wompi_event

SCRIPT = Path(__file__).resolve().parent / "bench_pgbench.sql"
SEEDED = 100_000


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
        str(SCRIPT),
        "-D",
        f"prefix={WOMPI_MERCHANT_NUMBER}-{run_id}-",
        "-D",
        f"n={SEEDED}",
        "-D",
        f"payload={payload}",
        dsn,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
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
    }
