"""The guard of ``store.write_conflict``: copies of one event with the same different data race past the
``NOT EXISTS`` of its insert, so each write first takes the event's advisory lock (``store.CONFLICT_LOCK``).
Attacked directly: while another transaction holds that lock, a conflict write must wait for it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import asyncpg

from core.db.models import EventOutcome, Gateway
from core.webhooks import store

if TYPE_CHECKING:
    from conftest import Database


async def test_a_conflict_write_waits_for_the_events_conflict_lock_and_keeps_one_row_per_data(
    database: Database, conn: asyncpg.Connection
) -> None:
    event_id = await conn.fetchval(
        "INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload, outcome)"
        " VALUES ('wompi', 'evt-1', 'transaction.updated', 'sig', repeat('0', 64), '{}', 'applied') RETURNING id")
    first = store.FirstEvent(event_id, "0" * 64, EventOutcome.APPLIED, None)

    async def write(connection: asyncpg.Connection) -> None:
        await store.write_conflict(connection, first, gateway=Gateway.WOMPI, payload_sha256="1" * 64,
                                   payload={"copy": "with other data"}, detail={"reason": "other amount"})

    holder, writer = await asyncpg.connect(database.dsn), await asyncpg.connect(database.dsn)
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute(store.CONFLICT_LOCK, event_id)  # as a racing copy's write would hold it
        writing = asyncio.create_task(write(writer))
        await asyncio.sleep(0.3)
        blocked = not writing.done()
        await held.rollback()
        await asyncio.wait_for(writing, timeout=5)
        await write(holder)  # the same data again: nothing new
    finally:
        await holder.close()
        await writer.close()
    assert blocked, "the conflict write did not wait for the event's lock"
    assert await conn.fetchval("SELECT count(*) FROM webhook_event_conflicts WHERE webhook_event_id = $1",
                               event_id) == 1
    assert await conn.fetchval("SELECT count(*) FROM payment_anomalies WHERE kind = 'identity_conflict'") == 1
