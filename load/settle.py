"""After the load: let the Wompi simulator finish, run its retries, and read what it knows for the audit.

The simulator finalizes each payment two simulated seconds after it was created and posts the event;
a delivery that failed (the core was down) waits for Wompi's retries at +30 min, +3 h and +24 h. Here we
wait until nothing is pending for real-time reasons, then move the simulator's clock a day and an hour
forward so every retry runs now — after which each event must be in the core exactly once.

Why only after the load: events created after the jump would carry timestamps a day ahead of the core's
clock and be refused as "future", so the jump is the last thing that happens to the simulator.

Usage: ``view = settle_wompi_simulator("http://127.0.0.1:8082")`` → ``SimView(deliveries, transactions)``
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from load.audit import SimView

log = logging.getLogger("payharness.load")
RETRY_HORIZON_SECONDS = 25 * 3600  # past Wompi's last retry at +24 h


def _get(client: httpx.Client, path: str) -> Any:
    response = client.get(path)
    response.raise_for_status()
    return response.json()


def _quiet(client: httpx.Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    txs = _get(client, "/__admin/wompi/transactions")["data"]
    deliveries = _get(client, "/__admin/deliveries/summary")
    return txs, deliveries


def _in_flight(txs: list[dict[str, Any]], deliveries: list[dict[str, Any]]) -> bool:
    # PENDING transactions will finalize soon; a delivery with no attempt yet is about to be tried.
    return any(t.get("status") == "PENDING" for t in txs) or any(
        d.get("status") == "pending" and not d.get("attempts") for d in deliveries
    )


def settle_wompi_simulator(url: str, *, timeout: float = 30.0) -> SimView:
    """Wait for the simulator to go quiet, run every due retry, and return its deliveries and transactions."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=30.0) as client:
        txs, deliveries = _quiet(client)
        while _in_flight(txs, deliveries) and time.monotonic() < deadline:
            time.sleep(0.25)
            txs, deliveries = _quiet(client)
        if any(d.get("status") == "pending" for d in deliveries):
            waiting = sum(1 for d in deliveries if d.get("status") == "pending")
            log.warning("payharness load: %d simulator deliveries await a retry; advancing its clock 25 h", waiting)
            client.post("/__admin/clock/advance", json={"seconds": RETRY_HORIZON_SECONDS}).raise_for_status()
            txs, deliveries = _quiet(client)
    return SimView(deliveries=deliveries, transactions=txs)
