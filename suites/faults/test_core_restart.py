"""The core killed in the middle of a webhook: the gateway's retry delivers the event exactly once after a restart.

The webhook is caught in flight by holding its order's row lock from outside (the handler's write takes the
order's lock before it writes anything), then every core process is SIGKILLed — a crash, not a graceful
stop. Wompi sees the connection die and schedules its retry (+30 min). The statement the dead core left
waiting may still finish once the lock is free (Postgres notices a vanished client only when it answers):
the event is then recorded but was never acknowledged, like a commit whose answer was lost. Either way the
core comes back on the same port and the retry lands exactly once. Needs a stack it can restart, so it does
not run with ``--target``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from harness.stack import Stack
from suites.conftest import Live
from suites.support.api import Actor, advance_clock
from suites.support.http import client
from suites.support.target import SUITE_CORE_ENV, WOMPI_SETTLE_SECONDS

pytestmark = [pytest.mark.scenario("WH-RETRY-DELIVERY"), pytest.mark.slow]
WOMPI_FIRST_RETRY_SECONDS = 30 * 60


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the uvicorn workers of the core's supervisor process)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _crash(stack: Stack) -> None:
    """SIGKILL the core's workers and its supervisor: nothing gets to finish a request or clean up."""
    service = stack.core_service
    assert service is not None and service.proc is not None
    for worker in _children(service.proc.pid):
        os.kill(worker, signal.SIGKILL)
    service.proc.kill()
    service.proc.wait(timeout=10)
    stack.stop_core()


@pytest.fixture
async def restartable(stack: Stack) -> AsyncIterator[Stack]:
    """The session stack, with its core running again after the test whatever happened in it."""
    port = int(stack.urls["core"].rsplit(":", 1)[1])
    try:
        yield stack
    finally:
        service = stack.core_service
        if service is None or service.proc is None or service.proc.poll() is not None:
            stack.stop_core()
            await asyncio.to_thread(stack.start_core, workers=2, port=port, extra_env=dict(SUITE_CORE_ENV))


async def _wait_for_lock_waiter(db: asyncpg.Connection, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the webhook never reached the order lock")


async def _wait_for_orphans(db: asyncpg.Connection, seconds: float = 10.0) -> None:
    """Until no other session of this database runs a statement (the dead core's may finish or fail)."""
    for _ in range(int(seconds / 0.05)):
        busy = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
            " AND pid <> pg_backend_pid()"
        )
        if not busy:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a statement of the killed core is still running")


async def _deliveries(live: Live) -> list[dict[str, object]]:
    async with client() as http:
        response = await http.get(f"{live.urls['wompi']}/__admin/deliveries")
    response.raise_for_status()
    return list(response.json())


async def test_a_core_killed_mid_webhook_gets_the_event_once_from_the_gateways_retry(
    live: Live, restartable: Stack, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order("73000.00")
    paid = await buyer.pay(core, order["id"], "73000.00", "wompi.nequi", nequi_phone="3991111111")
    assert paid.status_code == 200 and paid.json()["transaction"]["status"] == "pending", paid.text

    holder = await asyncpg.connect(live.db_dsn)
    lock = holder.transaction()
    await lock.start()
    await holder.execute("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", order["id"])
    # The transaction settles at Wompi and the event is posted; the handler blocks on the order's lock.
    delivery = asyncio.create_task(advance_clock(live, "wompi", WOMPI_SETTLE_SECONDS))
    try:
        await _wait_for_lock_waiter(core_db)
        await asyncio.to_thread(_crash, restartable)
        await asyncio.wait_for(delivery, timeout=30)
    finally:
        await lock.rollback()
        await holder.close()
    [first] = await _deliveries(live)
    assert first["outcome"] == "retry_scheduled" and first["status"] != 200, first
    await _wait_for_orphans(core_db)
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") in (0, 1)  # never acknowledged

    await asyncio.to_thread(
        restartable.start_core, workers=2, port=int(live.urls["core"].rsplit(":", 1)[1]), extra_env=dict(SUITE_CORE_ENV)
    )
    await advance_clock(live, "wompi", WOMPI_FIRST_RETRY_SECONDS)

    attempts = await _deliveries(live)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "retry_scheduled"), (2, "delivered")], attempts
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1
    row = await core_db.fetchrow(
        "SELECT o.status, o.approved_amount, t.status AS txn FROM orders o"
        " JOIN order_transactions t ON t.order_id = o.id WHERE o.id = $1",
        order["id"],
    )
    assert dict(row) == {"status": "paid", "approved_amount": Decimal("73000.00"), "txn": "approved"}
