"""The async engine and the schema, created at start on the (empty) database the shop is given."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from examples.seed_shop.app.config import Settings
from examples.seed_shop.app.models import Tables


def make_engine(settings: Settings) -> AsyncEngine:
    # The seed's own advice on pool size (section 5): concurrent webhooks each hold a connection.
    return create_async_engine(settings.async_database_url, pool_size=20, max_overflow=40, pool_pre_ping=True)


async def create_schema(engine: AsyncEngine, tables: Tables) -> None:
    """CREATE TABLE ... for every table not there yet (no migrations: the shop is small)."""
    async with engine.begin() as conn:
        await conn.run_sync(tables.metadata.create_all)
