"""Fixtures the core's own tests share (the database ones are the root conftest's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncpg
import pytest

from core.db.session import make_pool
from core.settings import DatabaseSettings

if TYPE_CHECKING:
    from conftest import Database


@pytest.fixture
async def webhook_pool(database: Database) -> AsyncIterator[asyncpg.Pool]:
    """The webhook path's pool on the test's database: two connections, opened on demand, not primed.

    Usage: ``await record_and_apply(webhook_pool, event, match=match)``
    """
    pool = await make_pool(DatabaseSettings(url=database.url, webhook_pool_size=2))
    try:
        yield pool
    finally:
        await pool.close()
