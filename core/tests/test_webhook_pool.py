"""The webhook path's asyncpg pool: warmed in the background without ever starving requests, enums known."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from core.db.session import make_pool, warm_pool
from core.services import Services
from core.settings import DatabaseSettings
from core.tests.apikit import make_settings
from core.webhooks import store
from core.webhooks.recording import once_more_on_a_dead_connection


async def test_warming_takes_at_most_half_the_pool_and_gives_it_back(database: Any) -> None:
    pool = await make_pool(DatabaseSettings(url=database.url, webhook_pool_size=4))
    try:
        assert await asyncio.wait_for(warm_pool(pool, 10), timeout=30) == 2  # half of 4, not 10: no deadlock
        assert pool.get_size() == 2 and pool.get_idle_size() == 2
        # The warmed connections already know the enum types: a status comes back as its label.
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT 'paid'::order_status") == "paid"
            # The session the hot path's statements are planned in (core/db/session.py says why).
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
            assert await conn.fetchval("SHOW jit") == "off"
    finally:
        await pool.close()


async def test_warming_against_a_database_that_does_not_answer_leaves_the_pool_cold() -> None:
    pool = await make_pool(DatabaseSettings(url="postgresql://nobody@127.0.0.1:9/nothing"))
    try:
        assert await asyncio.wait_for(warm_pool(pool, 4), timeout=30) == 0
    finally:
        await pool.close()


async def test_a_dead_connection_retires_the_pool_before_the_one_retry(database: Any) -> None:
    pool = await make_pool(DatabaseSettings(url=database.url, webhook_pool_size=4))
    try:
        held = [await pool.acquire() for _ in range(2)]
        before = {await c.fetchval("SELECT pg_backend_pid()") for c in held}
        for conn in held:
            await pool.release(conn)
        attempts = 0

        async def work() -> int:
            nonlocal attempts
            attempts += 1
            async with pool.acquire() as conn:
                if attempts == 1:  # as a connection whose backend was terminated fails
                    raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
                return int(await conn.fetchval("SELECT pg_backend_pid()"))

        assert await once_more_on_a_dead_connection(pool, work) not in before
        assert attempts == 2

        async def always_dead() -> int:
            raise asyncpg.ConnectionDoesNotExistError("the database is down")

        with pytest.raises(asyncpg.ConnectionDoesNotExistError):  # twice: it propagates (a 5xx, a retry later)
            await once_more_on_a_dead_connection(pool, always_dead)
    finally:
        await pool.close()


async def test_a_core_stopped_while_its_pool_warms_stops_promptly(database: Any) -> None:
    settings = make_settings(database.url, db={"url": database.url, "pool_size": 10, "max_overflow": 0,
                                               "warm_connections": 5})
    for delay in (0, 0.001, 0.002, 0.004, 0.007, 0.01, 0.015, 0.02, 0.03, 0.05):  # stop mid-warming
        services = Services.build(settings)
        await services.open()
        await asyncio.sleep(delay)
        await asyncio.wait_for(services.aclose(), timeout=15)


async def test_the_cores_pool_plans_the_hot_statements_on_each_new_connection(database: Any, conn: Any) -> None:
    """A connection's first read and guarded write cost 3-6 ms each, under 1 ms after; the core's pool pays
    that when the connection opens (store.prime), not on a webhook — and priming writes nothing."""
    settings = make_settings(database.url, db={"url": database.url, "pool_size": 2, "max_overflow": 0,
                                               "webhook_pool_size": 2, "warm_connections": 0})
    services = Services.build(settings)
    await services.open()
    try:
        async with services.webhook_pool.acquire() as fresh:
            planned = await fresh.fetch("SELECT statement, generic_plans FROM pg_prepared_statements")
    finally:
        await services.aclose()
    plans = {row["statement"]: row["generic_plans"] for row in planned}
    for statement in (store.GUARDED_WRITE, *store.READ.values(), *store.FRESH_WRITE.values(), store.FIRST_EVENT):
        assert plans.get(statement, 0) >= 1, statement[:60]
    for table in ("webhook_events", "payment_anomalies", "orders", "order_transactions"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
