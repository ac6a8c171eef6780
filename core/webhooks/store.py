"""The webhook hot path's SQL on bare asyncpg: read, decide, then one guarded write (compare and set).

Why not SQLAlchemy here, when the rest of the core uses it: profiled under load, its async path (greenlet
hops, result processing, the dialect's statement wrapper) was about 6 of the 9 ms of CPU a webhook cost.
The same statements through asyncpg's own prepared-statement cache cost a fraction of that. The logic
stays in one place — ``ledger.change_for`` decides, this module only carries the writes out — and the SQL
is plain text that the benchmark's bare endpoint and pgbench run verbatim (load/bare.py), so "the same
transaction" there means the same statements.

Two round trips per event, no explicit transaction: ``READ`` (the order and the transaction, unlocked),
then ``GUARDED_WRITE``, one statement that locks both rows only if they still hold what was read, and then
inserts the event ``ON CONFLICT DO NOTHING`` and, only if it was new, updates the transaction and the order
and adds the anomaly. If either row had moved on, it writes nothing and answers ``stale``: the caller reads
again and decides again (recording.py). Measured on one connection, this costs half the client CPU and
0.6 of the time of the five round trips it replaced (BEGIN, lock the order, read the transaction, write,
COMMIT); the locking rule it keeps is in ledger.py.

One round trip for an event about an attempt nothing has happened to yet (most events): ``FRESH_WRITE``
finds the rows by the match column and writes only if they hold ``ledger.untouched``'s state, on which
the caller decided before sending it; otherwise it writes nothing and the caller takes the two-step path.

Usage::

    order, txn = await read(conn, match)
    written = await write_if_unchanged(conn, event_row, change=change, order=order, transaction=txn)
    if written.stale: ...  # read and decide again
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from core.db.models import AnomalyKind, EventOutcome, Gateway, OrderStatus, TransactionStatus
from core.payments.ledger import Change, LockedOrder, TransactionRow
from core.webhooks import storable

MatchColumn = Literal["id", "gateway_transaction_id", "reference"]


@dataclass(frozen=True)
class TransactionMatch:
    """Which transaction of ours an event is about: ``gateway`` and one unique column's value."""

    gateway: Gateway
    column: MatchColumn
    value: int | str


# The order and the transaction an event is about, read together; the columns are named so that pgbench's
# \gset (load/bench_pgbench.py) can keep them. Written out per column so each is a literal.
_READ_COLUMNS = (
    "SELECT o.id AS order_id, o.status AS order_status, o.total_amount, o.approved_amount,"
    " o.currency AS order_currency, o.flagged_for_refund, t.id AS transaction_id, t.gateway,"
    " t.status AS transaction_status, t.amount, t.currency AS transaction_currency, t.reference,"
    " t.gateway_transaction_id FROM orders o JOIN order_transactions t ON t.order_id = o.id"
)
READ: dict[MatchColumn, str] = {
    "id": _READ_COLUMNS + " WHERE t.gateway = $1 AND t.id = $2",
    "gateway_transaction_id": _READ_COLUMNS + " WHERE t.gateway = $1 AND t.gateway_transaction_id = $2",
    "reference": _READ_COLUMNS + " WHERE t.gateway = $1 AND t.reference = $2",
}
# The same read holding both rows' locks, order first (the OF list and the FROM list both name the order
# first, and Postgres locks a joined row's relations in that order), for the rare event that keeps losing
# the race (see recording.py).
LOCKED = " FOR UPDATE OF o, t"

# Data-modifying CTEs all run; the updates and the anomaly happen only when the event row was new
# (``EXISTS (SELECT FROM ev)``), so a replay that lost the ON CONFLICT race changes nothing. ``{guard}`` is
# the condition for writing the event at all.
_EFFECTS = """ev AS (
    INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload,
                                transaction_id, order_id, outcome, detail)
    SELECT $1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10 WHERE {guard}
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
)"""
# Unguarded: an event that matches no transaction of ours (nothing to apply, nothing to race with).
# (Both statements are assembled from the constants above at import time; no value is ever formatted in.)
WRITE = "WITH " + _EFFECTS.format(guard="true") + "\nSELECT (SELECT id FROM ev), true"  # noqa: S608
# Guarded (compare and set): lock the order and the transaction only if they still hold what the decision
# was made on ($19-$23); otherwise write nothing and say so (the second column), and the caller decides
# again on a fresh read. Under READ COMMITTED a row changed by a transaction that committed while this one
# waited for its lock is re-read and re-checked before the lock is granted, so a stale read can never pass.
GUARDED_WRITE = """WITH seen AS (
    SELECT o.id FROM orders o JOIN order_transactions t ON t.order_id = o.id
    WHERE o.id = $13 AND t.id = $11
      AND o.status = $19::order_status AND o.approved_amount = $20 AND o.flagged_for_refund = $21
      AND t.status = $22::transaction_status AND t.gateway_transaction_id IS NOT DISTINCT FROM $23::text
    FOR UPDATE OF o, t
), """ + _EFFECTS.format(guard="EXISTS (SELECT FROM seen)") + "\nSELECT (SELECT id FROM ev), EXISTS (SELECT FROM seen)"  # noqa: S608
# One round trip for the commonest event, a pending attempt's first word: no read, the decision made on the
# premise that the attempt and its order are still untouched (``ledger.FRESH``: both pending, nothing approved,
# no flag) and charged exactly the event's amount and currency. The statement finds the rows by the match
# column, locks them only if that premise holds, and writes as GUARDED_WRITE does; otherwise it writes
# nothing, answers so (the second column), and the caller takes the read-then-write path. $1-$6 and $7-$14
# are GUARDED_WRITE's event row and effects without the ids (they come from the rows found), $15 the match
# value, $16 the gateway id the attempt must carry (NULL: any), $17-$18 the charge, $19-$22 the premise.
_FRESH = """WITH seen AS (
    SELECT o.id AS order_id, t.id AS transaction_id FROM orders o JOIN order_transactions t ON t.order_id = o.id
    WHERE t.gateway = $1 AND t.{column} = $15
      AND ($16::text IS NULL OR t.gateway_transaction_id = $16::text) AND t.amount = $17 AND t.currency = $18
      AND o.status = $19::order_status AND o.approved_amount = $20 AND o.flagged_for_refund = $21
      AND t.status = $22::transaction_status
    FOR UPDATE OF o, t
), ev AS (
    INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload,
                                transaction_id, order_id, outcome, detail)
    SELECT $1, $2, $3, $4, $5, $6::jsonb, s.transaction_id, s.order_id, $7, $8 FROM seen s
    ON CONFLICT ON CONSTRAINT uq_webhook_events_identity DO NOTHING
    RETURNING id
), txn AS (
    UPDATE order_transactions SET status = $9::transaction_status
    WHERE id = (SELECT transaction_id FROM seen) AND $9::transaction_status IS NOT NULL AND EXISTS (SELECT FROM ev)
), ord AS (
    UPDATE orders SET status = $10::order_status, approved_amount = $11,
                      flagged_for_refund = flagged_for_refund OR $12::text IS NOT NULL,
                      flag_reason = COALESCE($12::text, flag_reason)
    WHERE id = (SELECT order_id FROM seen) AND $10::order_status IS NOT NULL AND EXISTS (SELECT FROM ev)
), anomaly AS (
    INSERT INTO payment_anomalies (kind, detail, gateway, order_id, transaction_id, webhook_event_id)
    SELECT $13::anomaly_kind, $14::jsonb, $1, s.order_id, s.transaction_id, ev.id FROM ev, seen s
    WHERE $13::anomaly_kind IS NOT NULL
)
SELECT (SELECT id FROM ev), EXISTS (SELECT FROM seen)"""
# Per match column, each a literal (assembled at import time from the constant above; no value formatted in).
FRESH_WRITE: dict[MatchColumn, str] = {column: _FRESH.format(column=column) for column in READ}
FIRST_EVENT = "SELECT id, payload_sha256, outcome, detail FROM webhook_events WHERE gateway = $1 AND event_key = $2"
# One conflict row (and one anomaly) per first event and distinct data: a conflicting copy sent again is
# answered 409 again but adds nothing. There is no unique index to lean on (adding one needs a migration), so
# two copies racing past the NOT EXISTS are serialised on an advisory lock taken in an earlier statement of
# the same transaction: under READ COMMITTED the insert's own snapshot then sees the other's commit.
CONFLICT_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('webhook_event_conflicts', $1))"
CONFLICT = """
WITH c AS (
    INSERT INTO webhook_event_conflicts (webhook_event_id, payload_sha256, payload)
    SELECT $1::bigint, $2::text, $3::jsonb
    WHERE NOT EXISTS (SELECT FROM webhook_event_conflicts WHERE webhook_event_id = $1 AND payload_sha256 = $2)
    RETURNING id
)
INSERT INTO payment_anomalies (kind, detail, gateway, webhook_event_id)
SELECT 'identity_conflict', $4::jsonb, $5, $1 FROM c
"""


# Arguments that make each statement match nothing: no transaction has id 0, and with the order id NULL
# the guard finds no row, so the guarded write inserts and updates nothing.
_NOTHING: dict[MatchColumn, int | str] = {"id": 0, "gateway_transaction_id": "", "reference": ""}
_UNMET_GUARD = (Gateway.WOMPI.value, *([None] * 17), OrderStatus.PENDING.value, 0, False,
                TransactionStatus.PENDING.value, None)


# The fresh write's $1-$22 with a premise no row can meet (an order pending with a negative approved amount).
_UNMET_FRESH = (Gateway.WOMPI.value, "", "", "", "", "{}", EventOutcome.APPLIED.value, None, None, None, None, None,
                None, None, None, None, 0, "", OrderStatus.PENDING.value, -1, False, TransactionStatus.PENDING.value)


async def prime(conn: asyncpg.Connection) -> None:
    """Plan the hot statements on a new connection, before it serves a webhook: run each once so that it
    matches nothing and writes nothing. Their first execution on a connection costs 3-6 ms each (parse, plan,
    asyncpg's statement cache) against under 1 ms after (measured on a new connection, enums known); a pool
    opened into a burst would pay that on every connection at once, while the burst waits.

    One statement at a time, as a webhook runs them: priming takes its tables' locks as the hot path does, and
    whatever waits for those (the suites' reset between tests) waits for the hot path's anyway."""
    for column, value in _NOTHING.items():
        await conn.fetchrow(READ[column], Gateway.WOMPI.value, value)
    written = await conn.fetchrow(GUARDED_WRITE, *_UNMET_GUARD)
    if written[1]:
        raise RuntimeError("priming the guarded write found a row to lock")  # never: the order id is NULL
    for column, value in _NOTHING.items():
        written = await conn.fetchrow(FRESH_WRITE[column], *_UNMET_FRESH[:14], value, *_UNMET_FRESH[15:])
        if written[1]:
            raise RuntimeError("priming the fresh write found a row to lock")  # never: no transaction matches
    await conn.fetchrow(FIRST_EVENT, Gateway.WOMPI.value, "")


@dataclass(frozen=True)
class FirstEvent:
    id: int
    payload_sha256: str
    outcome: EventOutcome
    detail: str | None


def dumps(value: Any) -> str:
    """JSON for a JSONB column; Decimals (never floats) become strings, NUL and lone surrogates are written out."""
    return json.dumps(storable.escaped(value)[0], default=str, separators=(",", ":"))


async def read(conn: asyncpg.Connection, match: TransactionMatch, *, locked: bool = False,
               ) -> tuple[LockedOrder, TransactionRow] | None:
    """The order and the transaction ``match`` selects (``locked``: holding both rows' locks, in a transaction)."""
    if isinstance(match.value, str) and not storable.clean(match.value):
        return None  # Postgres cannot even compare it, and nothing the core stored contains it
    row = await conn.fetchrow(READ[match.column] + (LOCKED if locked else ""), match.gateway.value, match.value)
    if row is None:
        return None
    order = LockedOrder(row[0], OrderStatus(row[1]), row[2], row[3], row[4], row[5])
    txn = TransactionRow(row[6], row[0], Gateway(row[7]), TransactionStatus(row[8]), row[9], row[10], row[11], row[12])
    return order, txn


@dataclass(frozen=True)
class Written:
    event_id: int | None  # the new event's id; None: the identity was there already (or the write was stale)
    stale: bool = False  # the order or the transaction had moved on since the read: nothing was written


def _compact(payload: dict[str, Any]) -> str:
    """JSON of an event's payload as ``storable.for_storage`` made it (``IncomingEvent.stored_payload``): already
    storable, so not walked again as ``dumps`` does (that walk copied the whole event: ~11 us a webhook)."""
    return json.dumps(payload, default=str, separators=(",", ":"))


def write_params(event_row: dict[str, Any], change: Change | None, order_id: int | None, transaction_id: int | None,
             anomaly: tuple[AnomalyKind, dict[str, Any]] | None) -> tuple[Any, ...]:
    """$1-$18: the event row, what ``change`` writes, and the anomaly (``change``'s own unless given)."""
    if change is not None and anomaly is None:
        anomaly = change.anomaly
    order_status = change.order_status if change else None
    kind, detail = anomaly if anomaly else (None, None)
    return (
        event_row["gateway"].value,
        storable.key(event_row["event_key"]),
        event_row["event_type"],
        event_row["signature"],
        event_row["payload_sha256"],
        _compact(event_row["payload"]),
        event_row.get("transaction_id"),
        event_row.get("order_id"),
        event_row["outcome"].value,
        storable.text(event_row["detail"]) if event_row["detail"] is not None else None,
        transaction_id,
        change.transaction_status.value if change and change.transaction_status else None,
        order_id,
        order_status.value if order_status else None,
        change.approved_amount if change else None,
        change.flag_reason if change else None,
        kind.value if kind else None,
        dumps(detail) if detail is not None else None,
    )


async def write(conn: asyncpg.Connection, event_row: dict[str, Any], *,
                anomaly: tuple[AnomalyKind, dict[str, Any]]) -> Written:
    """Insert an event that matches no transaction of ours, with its anomaly (one statement, unguarded)."""
    row = await conn.fetchrow(WRITE, *write_params(event_row, None, None, None, anomaly))
    return Written(row[0])


async def write_if_unchanged(
    conn: asyncpg.Connection,
    event_row: dict[str, Any],
    *,
    change: Change | None,
    order: LockedOrder,
    transaction: TransactionRow,
    anomaly: tuple[AnomalyKind, dict[str, Any]] | None = None,
) -> Written:
    """Insert the event and, when it is new, carry out ``change`` and record the anomaly — provided ``order``
    and ``transaction`` are still as they were read. One statement; ``stale`` when they were not.

    ``event_row`` is what goes into webhook_events (recording._event_row).
    """
    row = await conn.fetchrow(
        GUARDED_WRITE,
        *write_params(event_row, change, order.id, transaction.id, anomaly),
        order.status.value,
        order.approved_amount,
        order.flagged_for_refund,
        transaction.status.value,
        transaction.gateway_transaction_id,
    )
    return Written(row[0], stale=not row[1])


async def write_if_fresh(conn: asyncpg.Connection, event_row: dict[str, Any], *, match: TransactionMatch,
                         change: Change, premise: tuple[LockedOrder, TransactionRow], gateway_id: str | None = None,
                         ) -> Written:
    """Insert the event and carry out ``change`` — decided on ``premise``, the state of a pending attempt nobody
    touched yet — provided the transaction ``match`` selects (and its order) is still in that state, carries
    ``gateway_id`` (when given) and is charged ``premise``'s amount and currency. One statement, no read;
    ``stale`` when the rows are not in that state or there is no such transaction (nothing written).
    """
    order, txn = premise
    params = write_params(event_row, change, None, None, None)
    row = await conn.fetchrow(
        FRESH_WRITE[match.column],
        *params[:6], *params[8:10], params[11], *params[13:18],
        match.value, gateway_id, txn.amount, txn.currency,
        order.status.value, order.approved_amount, order.flagged_for_refund, txn.status.value,
    )
    return Written(row[0], stale=not row[1])


async def first_event(conn: asyncpg.Connection, gateway: Gateway, event_key: str) -> FirstEvent:
    row = await conn.fetchrow(FIRST_EVENT, gateway.value, storable.key(event_key))
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
    """Keep a refused same-identity, different-data event and flag it (identity_conflict), once per data."""
    async with conn.transaction():
        await conn.execute(CONFLICT_LOCK, first.id)
        await conn.execute(CONFLICT, first.id, payload_sha256, dumps(payload), dumps(detail), gateway.value)
