"""The webhook hot path's SQL on bare asyncpg: lock the order, read the transaction, write in one statement.

Why not SQLAlchemy here, when the rest of the core uses it: profiled under load, its async path (greenlet
hops, result processing, the dialect's statement wrapper) was about 6 of the 9 ms of CPU a webhook cost.
The same statements through asyncpg's own prepared-statement cache cost a fraction of that. The logic
stays in one place — ``ledger.change_for`` decides, this module only carries the writes out — and the SQL
is plain text that the benchmark's bare endpoint and pgbench run verbatim (load/bare.py), so "the same
transaction" there means the same statements.

One database transaction per event, five round trips: BEGIN, ``LOCK_ORDER`` (find the transaction and
lock its order: ``SELECT … FOR UPDATE``), ``READ_TRANSACTION`` (a new statement, so under READ
COMMITTED it sees the status as of the lock — see ledger.py), ``WRITE`` (insert the event ``ON CONFLICT
DO NOTHING``; only if it was new: update the transaction, the order, add the anomaly), COMMIT.

Usage::

    async with pool.acquire() as conn, conn.transaction():
        order = await lock_order_of(conn, match)
        txn = await read_transaction(conn, match)
        event_id = await write(conn, event_row, change=change, order_id=order.id, transaction_id=txn.id)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from core.db.models import AnomalyKind, EventOutcome, Gateway, OrderStatus, TransactionStatus
from core.payments.ledger import Change, LockedOrder, TransactionRow

MatchColumn = Literal["id", "gateway_transaction_id", "reference"]


@dataclass(frozen=True)
class TransactionMatch:
    """Which transaction of ours an event is about: ``gateway`` and one unique column's value."""

    gateway: Gateway
    column: MatchColumn
    value: int | str


# Written out per column (not formatted in) so each statement is a literal the benchmark can reuse.
LOCK_ORDER: dict[MatchColumn, str] = {
    "id": (
        "SELECT id, status, total_amount, approved_amount, currency, flagged_for_refund FROM orders"
        " WHERE id = (SELECT order_id FROM order_transactions WHERE gateway = $1 AND id = $2) FOR UPDATE"
    ),
    "gateway_transaction_id": (
        "SELECT id, status, total_amount, approved_amount, currency, flagged_for_refund FROM orders"
        " WHERE id = (SELECT order_id FROM order_transactions"
        " WHERE gateway = $1 AND gateway_transaction_id = $2) FOR UPDATE"
    ),
    "reference": (
        "SELECT id, status, total_amount, approved_amount, currency, flagged_for_refund FROM orders"
        " WHERE id = (SELECT order_id FROM order_transactions WHERE gateway = $1 AND reference = $2) FOR UPDATE"
    ),
}
READ_TRANSACTION: dict[MatchColumn, str] = {
    "id": (
        "SELECT id, order_id, gateway, status, amount, currency, reference, gateway_transaction_id"
        " FROM order_transactions WHERE gateway = $1 AND id = $2"
    ),
    "gateway_transaction_id": (
        "SELECT id, order_id, gateway, status, amount, currency, reference, gateway_transaction_id"
        " FROM order_transactions WHERE gateway = $1 AND gateway_transaction_id = $2"
    ),
    "reference": (
        "SELECT id, order_id, gateway, status, amount, currency, reference, gateway_transaction_id"
        " FROM order_transactions WHERE gateway = $1 AND reference = $2"
    ),
}
# Data-modifying CTEs all run; the updates and the anomaly happen only when the event row was new
# (``EXISTS (SELECT FROM ev)``), so a replay that lost the ON CONFLICT race changes nothing.
WRITE = """
WITH ev AS (
    INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload,
                                transaction_id, order_id, outcome, detail)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
    ON CONFLICT ON CONSTRAINT uq_webhook_events_identity DO NOTHING
    RETURNING id
), txn AS (
    UPDATE order_transactions SET status = $12::transaction_status
    WHERE id = $11 AND $12::transaction_status IS NOT NULL AND EXISTS (SELECT FROM ev)
), ord AS (
    UPDATE orders SET status = $14::order_status, approved_amount = $15,
                      flagged_for_refund = flagged_for_refund OR $16::text IS NOT NULL,
                      flag_reason = COALESCE($16::text, flag_reason)
    WHERE id = $13 AND $14::order_status IS NOT NULL AND EXISTS (SELECT FROM ev)
), anomaly AS (
    INSERT INTO payment_anomalies (kind, detail, gateway, order_id, transaction_id, webhook_event_id)
    SELECT $17::anomaly_kind, $18::jsonb, $1, $13, $11, ev.id FROM ev WHERE $17::anomaly_kind IS NOT NULL
)
SELECT id FROM ev
"""
FIRST_EVENT = "SELECT id, payload_sha256, outcome, detail FROM webhook_events WHERE gateway = $1 AND event_key = $2"
CONFLICT = """
WITH c AS (
    INSERT INTO webhook_event_conflicts (webhook_event_id, payload_sha256, payload) VALUES ($1, $2, $3::jsonb)
)
INSERT INTO payment_anomalies (kind, detail, gateway, webhook_event_id) VALUES ('identity_conflict', $4::jsonb, $5, $1)
"""


@dataclass(frozen=True)
class FirstEvent:
    id: int
    payload_sha256: str
    outcome: EventOutcome
    detail: str | None


def dumps(value: Any) -> str:
    """JSON for a JSONB column; Decimals (never floats) become strings."""
    return json.dumps(value, default=str, separators=(",", ":"))


async def lock_order_of(conn: asyncpg.Connection, match: TransactionMatch) -> LockedOrder | None:
    """Find the transaction ``match`` selects and lock its order (one statement)."""
    row = await conn.fetchrow(LOCK_ORDER[match.column], match.gateway.value, match.value)
    if row is None:
        return None
    return LockedOrder(row[0], OrderStatus(row[1]), row[2], row[3], row[4], row[5])


async def read_transaction(conn: asyncpg.Connection, match: TransactionMatch) -> TransactionRow | None:
    row = await conn.fetchrow(READ_TRANSACTION[match.column], match.gateway.value, match.value)
    if row is None:
        return None
    return TransactionRow(row[0], row[1], Gateway(row[2]), TransactionStatus(row[3]), row[4], row[5], row[6], row[7])


async def write(
    conn: asyncpg.Connection,
    event_row: dict[str, Any],
    *,
    change: Change | None,
    order_id: int | None,
    transaction_id: int | None,
    anomaly: tuple[AnomalyKind, dict[str, Any]] | None = None,
) -> int | None:
    """Insert the event; when it is new, carry out ``change`` and record the anomaly. Returns the new event's id.

    ``event_row`` is what goes into webhook_events (recording._event_row); ``order_id`` and
    ``transaction_id`` are the rows ``change`` applies to, and the anomaly's links.
    """
    if change is not None and anomaly is None:
        anomaly = change.anomaly
    order_status = change.order_status if change else None
    kind, detail = anomaly if anomaly else (None, None)
    return await conn.fetchval(
        WRITE,
        event_row["gateway"].value,
        event_row["event_key"],
        event_row["event_type"],
        event_row["signature"],
        event_row["payload_sha256"],
        dumps(event_row["payload"]),
        event_row.get("transaction_id"),
        event_row.get("order_id"),
        event_row["outcome"].value,
        event_row["detail"],
        transaction_id,
        change.transaction_status.value if change and change.transaction_status else None,
        order_id,
        order_status.value if order_status else None,
        change.approved_amount if change else None,
        change.flag_reason if change else None,
        kind.value if kind else None,
        dumps(detail) if detail is not None else None,
    )


async def first_event(conn: asyncpg.Connection, gateway: Gateway, event_key: str) -> FirstEvent:
    row = await conn.fetchrow(FIRST_EVENT, gateway.value, event_key)
    if row is None:
        raise LookupError(f"event {event_key} conflicted yet is not there")  # the unique index says it is
    return FirstEvent(row[0], row[1], EventOutcome(row[2]), row[3])


async def write_conflict(
    conn: asyncpg.Connection,
    first: FirstEvent,
    *,
    gateway: Gateway,
    payload_sha256: str,
    payload: dict[str, Any],
    detail: dict[str, Any],
) -> None:
    """Keep a refused same-identity, different-data event and flag it (identity_conflict)."""
    await conn.execute(CONFLICT, first.id, payload_sha256, dumps(payload), dumps(detail), gateway.value)
