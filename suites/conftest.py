"""Fixtures for the live suites: one stack per run (simulators + core with 2 uvicorn workers), reset per test.

The core serves one database for the whole run (restarting it per test would cost a second each);
``live`` empties the core's tables (TRUNCATE … RESTART IDENTITY) and resets the simulators before each
test, so every test starts from the same empty state. Tests that attack the schema itself use the root
``database`` fixture instead: a fresh clone per test.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import httpx
import pytest

from harness.databases import DatabaseFactory
from harness.postgres import PostgresHandle
from harness.stack import Stack, simulator_credentials

CORE_TABLES = ("payment_anomalies", "webhook_event_conflicts", "webhook_events", "idempotency_keys",
               "efecty_payments", "order_transactions", "orders")


@dataclass(frozen=True)
class Live:
    """The running stack as a test sees it."""

    urls: dict[str, str]
    creds: dict[str, dict[str, str]]
    core_env: dict[str, str]
    db_dsn: str


@pytest.fixture(scope="session")
def stack(postgres: PostgresHandle, db_factory: DatabaseFactory) -> Iterator[Stack]:
    name = db_factory.clone(f"payharness_core_{db_factory.worker}_{secrets.token_hex(3)}")
    try:
        # One client IP (127.0.0.1) runs every test: the per-IP limit is raised so only the rate-limit
        # tests meet it; the per-buyer limit is 20/minute (each test uses fresh buyers).
        extra = {"PAYHARNESS_LIMITS__PAYMENTS_PER_IP": "100000/minute",
                 "PAYHARNESS_LIMITS__PAYMENTS_PER_BUYER": "20/minute"}
        with Stack.start(database=name, postgres=postgres, core_workers=2, core_extra_env=extra) as running:
            yield running
    finally:
        db_factory.drop(name)


@pytest.fixture
async def live(stack: Stack) -> AsyncIterator[Live]:
    """A clean stack for this test: empty core tables, simulators reset and pointed at the core."""
    dsn = stack.postgres.database_dsn(stack.database)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"TRUNCATE {', '.join(CORE_TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("payu", "wompi", "efecty"):
            (await client.post(f"{stack.urls[name]}/__admin/reset")).raise_for_status()
        (await client.put(f"{stack.urls['wompi']}/__admin/wompi/events-url",
                          json={"url": f"{stack.urls['core']}/webhooks/wompi"})).raise_for_status()
    yield Live(urls=dict(stack.urls), creds=simulator_credentials(), core_env=dict(stack.core_env), db_dsn=dsn)


@pytest.fixture
async def core(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.urls["core"], timeout=30) as client:
        yield client


@pytest.fixture
async def core_db(live: Live) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(live.db_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def seed_transaction(conn: asyncpg.Connection, *, gateway: str, amount: Decimal = Decimal("50000.00"),
                           gateway_transaction_id: str | None = None, status: str = "pending",
                           buyer_id: str = "buyer-1") -> dict[str, object]:
    """An order and one pending attempt, as the core's checkout would have left them."""
    order_ref = f"ORD-{secrets.token_hex(5)}"
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ($1, $2, $3) RETURNING id",
        order_ref, buyer_id, amount)
    reference = f"{order_ref}-{secrets.token_hex(4)}"
    txn_id = await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
        " amount, currency, status) VALUES ($1, $2, $3, $4, 'CARD', $5, 'COP', $6) RETURNING id",
        order_id, gateway, gateway_transaction_id, reference, amount, status)
    return {"order_id": order_id, "transaction_id": txn_id, "reference": reference, "amount": amount,
            "gateway_transaction_id": gateway_transaction_id}
