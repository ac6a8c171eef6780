"""The core's database engine: one asyncpg-backed SQLAlchemy engine per app, made by the app's lifespan.

Usage::

    engine = make_engine(settings.db)
    async with engine.begin() as conn:
        await conn.execute(...)
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.settings import DatabaseSettings


def make_engine(db: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        db.url,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        # After a database restart every pooled connection is dead; without a ping each one would fail one
        # request with a 5xx before the pool notices. The ping is one short round trip per checkout.
        pool_pre_ping=True,
        connect_args={"server_settings": {"statement_timeout": str(db.statement_timeout_ms),
                                          "application_name": "payharness-core"}},
    )
