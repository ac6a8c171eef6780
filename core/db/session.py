"""The core's database handles, made by the app's lifespan: a SQLAlchemy engine (the API) and a bare asyncpg
pool (the webhook hot path; core/webhooks/store.py says why).

Usage::

    engine = make_engine(settings.db)
    async with engine.begin() as conn:
        await conn.execute(...)
    pool = await make_pool(settings.db)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.settings import DatabaseSettings

logger = logging.getLogger(__name__)
WARM_TIMEOUT_SECONDS = 5.0
# The database cannot be reached or went away under a session: a refused or reset connection (the server is
# down), "the database system is starting up" or "in recovery mode" (a server restarting after a crash), a
# session ended by a shutdown or a crash. core/errors.py answers these 503: nothing is wrong with the request.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` is, or was raised from, one of ``UNAVAILABLE``: SQLAlchemy wraps what asyncpg raises
    (a commit cut by a crash reaches the API as ``sqlalchemy.exc.DBAPIError``)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UNAVAILABLE) or getattr(seen, "connection_invalidated", False):
            return True
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return False
Prime = Callable[[asyncpg.Connection], Awaitable[None]]


def make_engine(db: DatabaseSettings) -> AsyncEngine:
    """The API's engine: every checkout is pinged, so a connection that died with the database never fails a
    request."""
    return create_async_engine(
        db.url,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_pre_ping=True,
        connect_args={"server_settings": _server_settings(db)},
    )


# The webhook pool's session: every statement on it is a point lookup or write by a unique key.
# - jit off: no OLTP statement here gains from compiling, and Postgres would consider it for catalog queries;
# - generic plans always: the guarded write's generic plan looks costlier to the planner than one planned
#   for the actual values (which folds the CTEs a NULL switches off), so by default Postgres re-planned
#   that five-CTE statement on every execution. Measured with pgbench on the webhook script, one client:
#   1,030 transactions/s by default, 1,290 with generic plans, 700 with custom plans forced.
WEBHOOK_SESSION = {"jit": "off", "plan_cache_mode": "force_generic_plan"}
APPLICATION_NAME = "payharness-core"  # how the core's sessions show in pg_stat_activity


async def make_pool(db: DatabaseSettings, *, prime: Prime | None = None,
                    application_name: str = APPLICATION_NAME) -> asyncpg.Pool:
    """The webhook path's pool. No ping: a ping (three round trips) was a third of the path's database time;
    the path retries its transaction once on a dead connection instead (core/webhooks/recording.py), which
    costs nothing until an outage. Connections open on demand (min_size 0), so the core starts, as with
    the engine, even while the database is still coming up. ``prime`` runs on every new connection, after
    the enum types are learnt (the core passes ``store.prime``: the hot statements, planned once)."""
    dsn = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def init(conn: asyncpg.Connection) -> None:
        await _learn_enum_types(conn)
        if prime is not None:
            await prime(conn)

    return await asyncpg.create_pool(dsn, min_size=0, init=init,
                                     **webhook_pool_options(db, application_name=application_name))


def webhook_pool_options(db: DatabaseSettings, *, application_name: str = APPLICATION_NAME) -> dict[str, Any]:
    """The webhook pool's size, session settings and release, for the core and for whatever measures itself
    against it (the benchmark's bare endpoint, load/bare.py, under its own ``application_name``), which must pay
    per connection and per release exactly what the core pays."""
    return {"max_size": db.webhook_pool_size,
            "server_settings": _server_settings(db, application_name) | WEBHOOK_SESSION, "reset": keep_session}


# asyncpg learns a type it has no codec for (our enums) by an introspection query, per connection, on
# the first statement that uses it: three such queries on a new connection's first webhook, 15-25 ms of
# database CPU each. One query naming every enum, when the connection is made, costs one.
_ENUMS = "SELECT NULL::gateway, NULL::order_status, NULL::transaction_status, NULL::event_outcome, NULL::anomaly_kind"


async def _learn_enum_types(conn: asyncpg.Connection) -> None:
    await conn.fetchrow(_ENUMS)


async def warm_pool(pool: asyncpg.Pool, connections: int) -> int:
    """Open up to ``connections`` pool connections one after another, then give them back; returns how many.

    Run in the background at start-up: never fails the core (a database still coming up just leaves the
    pool cold), one at a time so the warming itself is no burst of new backends, and never more than
    half the pool, so requests arriving meanwhile always find a connection.
    """
    held: list[asyncpg.Connection] = []
    connections = min(connections, pool.get_max_size() // 2)
    try:
        for _ in range(connections):
            held.append(await pool.acquire(timeout=WARM_TIMEOUT_SECONDS))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        logger.info("webhook pool warmed with %d of %d connections: the database did not answer", len(held),
                    connections)
    finally:
        for conn in held:
            await pool.release(conn)
    return len(held)


async def keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset on release. asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET
    ALL) is one more round trip per webhook; the hot path never sets session state, and asyncpg itself
    still rolls back a transaction left open before this is called."""


def _server_settings(db: DatabaseSettings, application_name: str = APPLICATION_NAME) -> dict[str, str]:
    return {"statement_timeout": str(db.statement_timeout_ms), "application_name": application_name}
