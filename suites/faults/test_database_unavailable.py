"""Postgres unavailable under the live core: webhooks get a 5xx (never a 200 for an unrecorded event), then recover."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from harness.stack import Stack
from suites.conftest import Live, seed_transaction
from suites.support.events import wompi_event

pytestmark = pytest.mark.scenario("DB-UNAVAILABLE")


@pytest.fixture
async def database_switch(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    """An admin connection (to the maintenance database) that can cut the core's database off; always restores."""
    admin = await asyncpg.connect(stack.postgres.dsn)
    try:
        yield admin
    finally:
        await admin.execute(f'ALTER DATABASE "{stack.database}" ALLOW_CONNECTIONS true')
        await admin.close()


async def _cut_off(admin: asyncpg.Connection, database: str) -> None:
    await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)


@pytest.mark.scenario("WH-ALWAYS-200")
async def test_a_webhook_arriving_while_the_database_is_down_is_not_acknowledged_and_a_retry_lands_once(
    live: Live, stack: Stack, core: httpx.AsyncClient, core_db: asyncpg.Connection,
    database_switch: asyncpg.Connection,
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-3-00001")
    body, headers = wompi_event(tx_id="118437-3-00001", status="APPROVED", amount_in_cents=5_000_000,
                                reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"])
    await core_db.close()
    await _cut_off(database_switch, stack.database)
    down = [await core.post("/webhooks/wompi", content=body, headers=headers) for _ in range(3)]
    assert all(r.status_code >= 500 for r in down), [r.status_code for r in down]
    for response in down:
        error = response.json()["error"]
        assert error["support_reference"].startswith("SUP-")
        assert "asyncpg" not in response.text and "Traceback" not in response.text
    await database_switch.execute(f'ALTER DATABASE "{stack.database}" ALLOW_CONNECTIONS true')
    # The gateway retries (Wompi: +30 min); the core has recovered without a restart.
    retry = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "applied"
    check = await asyncpg.connect(live.db_dsn)
    try:
        assert await check.fetchval("SELECT count(*) FROM webhook_events") == 1
        assert await check.fetchval("SELECT status FROM orders") == "paid"
    finally:
        await check.close()


async def test_health_reports_the_database_down_with_503_and_up_again(
    live: Live, stack: Stack, core: httpx.AsyncClient, database_switch: asyncpg.Connection
) -> None:
    await _cut_off(database_switch, stack.database)
    assert (await core.get("/health")).status_code == 503
    await database_switch.execute(f'ALTER DATABASE "{stack.database}" ALLOW_CONNECTIONS true')
    recovered = await core.get("/health")
    assert recovered.status_code == 200
    assert recovered.json()["checks"]["database"]["status"] == "ok"
