"""The webhook path's asyncpg pool: warmed in the background without ever starving requests, enums known."""

from __future__ import annotations

import asyncio
from typing import Any

from core.db.session import make_pool, warm_pool
from core.settings import DatabaseSettings


async def test_warming_takes_at_most_half_the_pool_and_gives_it_back(database: Any) -> None:
    pool = await make_pool(DatabaseSettings(url=database.url, pool_size=2, max_overflow=2))
    try:
        assert await asyncio.wait_for(warm_pool(pool, 10), timeout=30) == 2  # half of 4, not 10: no deadlock
        assert pool.get_size() == 2 and pool.get_idle_size() == 2
        # The warmed connections already know the enum types: a status comes back as its label.
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT 'paid'::order_status") == "paid"
    finally:
        await pool.close()


async def test_warming_against_a_database_that_does_not_answer_leaves_the_pool_cold() -> None:
    pool = await make_pool(DatabaseSettings(url="postgresql://nobody@127.0.0.1:9/nothing"))
    try:
        assert await asyncio.wait_for(warm_pool(pool, 4), timeout=30) == 0
    finally:
        await pool.close()
