"""The core's database engine: one asyncpg-backed SQLAlchemy engine per app, made by the app's lifespan.

Usage::

    engine = make_engine(settings.db)
    async with engine.begin() as conn:
        await conn.execute(...)
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.settings import DatabaseSettings


def make_engine(db: DatabaseSettings, *, ping: bool = True) -> AsyncEngine:
    """``ping=True`` (the API): every checkout is tested, so a connection that died with the database never
    fails a request. The webhook path uses ``ping=False``: the ping (BEGIN; ; ROLLBACK — three round trips)
    was a third of its database time; it retries its transaction once on a dead connection instead
    (core/webhooks/recording.py), which costs nothing until an outage."""
    return create_async_engine(
        db.url,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_pre_ping=ping,
        connect_args={"server_settings": {"statement_timeout": str(db.statement_timeout_ms),
                                          "application_name": "payharness-core"}},
    )
