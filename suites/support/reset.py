"""The per-test reset of the live stack: quiesce first, then empty; a reset that cannot finish is an error of the run.

Order matters. Each simulator's ``/__admin/reset`` first lets every webhook delivery already on the wire get
its answer (the core answers only after its commit), then forgets the rest and its state. The core's
database is then waited on until no client session has a transaction open — every uvicorn worker's work
shows there, whichever worker it landed on — and only then are its tables emptied. No failed TRUNCATE is
retried: a TRUNCATE racing a request still in flight was the flake this replaces (Postgres broke the deadlock by
cancelling one side), and a retry hides the race instead of removing it.

Quiet is not the end of it: the core also starts work by itself. Its webhook pool primes every new connection
(``core.webhooks.store.prime``), and warms at start-up one connection after another, so a priming statement may
begin just after the quiet check. A TRUNCATE locks its tables one at a time, children first, and waits at the
first one a statement of the core holds; the core's hot statements take the order first and the event tables
after (GUARDED_WRITE), some the other way round (WRITE: the event, then the order; the Efecty reconciliation: the
voucher, then the order). No one order of the TRUNCATE's locks fits them all, so the reset takes all its locks at
once or none: ``LOCK TABLE … NOWAIT`` in a transaction, given up and tried again shortly while any table is
held. It never waits while holding a lock, which is what a deadlock needs; the core's statement, never cancelled,
finishes, and the next try gets every table. Then the TRUNCATE, in the same transaction, waits for nothing.

Usage: ``await reset_stack(urls, db_dsn)``; on failure it raises ``ResetError`` naming what was still
running, which the ``live`` fixture turns into the end of the session (not into a result of the test).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from suites.support.http import client

CORE_TABLES = (
    "payment_anomalies",
    "webhook_event_conflicts",
    "webhook_events",
    "idempotency_keys",
    "efecty_payments",
    "order_transactions",
    "orders",
)
SIMULATORS = ("payu", "wompi", "efecty")
QUIET_BUDGET_SECONDS = 15.0
LOCK_RETRY_SECONDS = 0.02
# How the reset's own session shows in pg_stat_activity (and is told apart there by the suites' own tests).
APPLICATION_NAME = "payharness-reset"
logger = logging.getLogger(__name__)
# Other client sessions on the core's database with a transaction open (autovacuum and the like are not
# client backends, and do not conflict with TRUNCATE's wait the way a request does).
_BUSY = """
SELECT pid, state, now() - xact_start AS open_for, left(query, 160) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend' AND xact_start IS NOT NULL
"""


class ResetError(RuntimeError):
    """The stack could not be brought to the empty, quiet state a test starts from."""


async def reset_simulators(urls: dict[str, str]) -> None:
    """Reset every simulator (deliveries on the wire answered first) and point Wompi's events at the core."""
    async with client(timeout=30) as http:
        for name in SIMULATORS:
            response = await http.post(f"{urls[name]}/__admin/reset")
            response.raise_for_status()
            cancelled = response.json().get("cancelled_deliveries", 0)
            if cancelled:
                raise ResetError(f"{name}: {cancelled} webhook deliveries were still running after the drain "
                                 "budget and were cut off; the core may still be working on them")
        response = await http.put(f"{urls['wompi']}/__admin/wompi/events-url",
                                  json={"url": f"{urls['core']}/webhooks/wompi"})
        response.raise_for_status()


async def wait_until_quiet(conn: asyncpg.Connection, budget_seconds: float = QUIET_BUDGET_SECONDS) -> None:
    """Return once no other client session of this database has a transaction open; ``ResetError`` after budget."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_seconds
    while busy := await conn.fetch(_BUSY):
        if loop.time() > deadline:
            shown = "; ".join(f"pid {r['pid']} {r['state']} for {r['open_for']}: {r['query']}" for r in busy)
            raise ResetError(f"the core's database did not go quiet in {budget_seconds:.0f} s: {shown}")
        await asyncio.sleep(0.02)


async def truncate_all_at_once(conn: asyncpg.Connection, budget_seconds: float = QUIET_BUDGET_SECONDS) -> None:
    """Empty the core's tables (identities restarted) once every one of them can be locked at the same time.

    Each try locks them all ``NOWAIT`` in one transaction, then truncates; a table still held by someone ends
    the try at once, releasing what it had (see the module's docstring for why not one fixed order).
    ``ResetError`` when no try got them all within ``budget_seconds``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_seconds
    tables = ", ".join(CORE_TABLES)
    while True:
        try:
            async with conn.transaction():
                await conn.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE NOWAIT")
                await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            return
        except asyncpg.LockNotAvailableError as exc:
            if loop.time() > deadline:
                raise ResetError(f"the core's tables stayed in use for {budget_seconds:.0f} s: {exc}") from None
            logger.debug("a core table is in use (%s); all of them are tried again", exc)
        await asyncio.sleep(LOCK_RETRY_SECONDS)


async def empty_core_tables(dsn: str, budget_seconds: float = QUIET_BUDGET_SECONDS) -> None:
    """Wait for the database to be quiet, then empty the core's tables (identities restarted)."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": APPLICATION_NAME})
    try:
        await wait_until_quiet(conn, budget_seconds)
        await truncate_all_at_once(conn, budget_seconds)
    finally:
        await conn.close()


async def reset_stack(urls: dict[str, str], db_dsn: str) -> None:
    """Simulators first: a webhook they still had scheduled must not land in the freshly emptied tables."""
    await reset_simulators(urls)
    await empty_core_tables(db_dsn)
