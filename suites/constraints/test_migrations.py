"""Alembic is the one way the schema reaches a database: it goes up, down and up again, and matches the models."""

from __future__ import annotations

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from conftest import Database
from core.db import migrate
from core.db.models import Base

pytestmark = pytest.mark.scenario("DB-MIGRATIONS")


async def _tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_the_migrated_schema_matches_the_models(database: Database) -> None:
    engine = create_async_engine(database.url, poolclass=NullPool)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    await engine.dispose()
    assert diff == []


def test_migrations_go_down_to_nothing_and_up_again(database: Database) -> None:
    import asyncio

    migrate.downgrade(database.url, "base")
    assert asyncio.run(_tables(database.dsn)) == {"alembic_version"}
    migrate.upgrade(database.url)
    assert set(Base.metadata.tables) <= asyncio.run(_tables(database.dsn))
