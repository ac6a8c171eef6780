"""Recording a verified gateway event and applying it: dedupe, amount check, state machine — one transaction.

The HTTP answer is decided here, after the commit, never before: 200 only once the event is durably
recorded. The seed's handler answered 200 even when recording failed ("to avoid retry storms"); an
event lost that way is money state the shop never learns. Here any failure to record propagates as a
5xx, and the gateway's own retry schedule delivers the event again — the dedupe makes that safe.

| what arrived | answer | written |
|---|---|---|
| new event, amounts match | 200 | event (applied or recorded), transaction and order updated by the state machine |
| identical replay (same identity, same signed data) | the first answer again (200, or 422) | nothing |
| same identity, different data | 409 | a row in webhook_event_conflicts and an identity_conflict anomaly |
| amount or currency differs from what was charged | 422 | event (rejected), an anomaly; nothing applied |
| no transaction of ours matches | 422 | event (rejected, unlinked) and an unknown_reference anomaly |

Usage::

    result = await record_and_apply(engine, event, match=[txns_t.c.id == tid])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Table, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.models import (
    AnomalyKind,
    EventOutcome,
    Gateway,
    TransactionStatus,
    WebhookEvent,
    WebhookEventConflict,
)
from core.payments.ledger import apply_status, lock_order_of, read_transaction_where, record_anomaly
from core.payments.statemachine import Decision, decide

T = TypeVar("T")
events_t = cast(Table, WebhookEvent.__table__)
conflicts_t = cast(Table, WebhookEventConflict.__table__)


@dataclass(frozen=True)
class IncomingEvent:
    """A signature-verified event, reduced to what the core acts on."""

    gateway: Gateway
    event_key: str  # identity, built from signed fields
    event_type: str
    signature: str
    identity_data: dict[str, Any]  # the fields whose change means "different data" (hashed)
    payload: dict[str, Any]  # the raw event, kept for the audit trail
    status: TransactionStatus
    amount: Decimal
    currency: str

    @property
    def payload_sha256(self) -> str:
        canonical = json.dumps(self.identity_data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Result:
    status_code: int
    body: dict[str, Any]


_OUTCOME_ANSWER = {EventOutcome.APPLIED: 200, EventOutcome.RECORDED: 200, EventOutcome.REJECTED: 422}


def _event_row(event: IncomingEvent, **values: Any) -> dict[str, Any]:
    return {"gateway": event.gateway, "event_key": event.event_key, "event_type": event.event_type,
            "signature": event.signature, "payload_sha256": event.payload_sha256, "payload": event.payload,
            **values}


async def once_more_on_a_dead_connection(work: Callable[[], Awaitable[T]]) -> T:
    """Run a database transaction; if its pooled connection turns out dead, run it once more.

    Safe because nothing commits on a dead connection, and the event path is idempotent anyway. A
    second failure (the database really is down) propagates: a 5xx, and the gateway retries later.
    """
    try:
        return await work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await work()


async def record_and_apply(engine: AsyncEngine, event: IncomingEvent, *, match: Sequence[ColumnElement[bool]]
                           ) -> Result | None:
    """Record ``event`` against the transaction of ours that ``match`` selects and apply it.

    Returns the HTTP answer, or None when no transaction matches (nothing written). Finding the
    transaction and locking its order is one statement inside the same database transaction: the hot
    path takes one connection from the pool, not two.
    """
    return await once_more_on_a_dead_connection(lambda: _record_and_apply(engine, event, match))


async def _record_and_apply(engine: AsyncEngine, event: IncomingEvent, match: Sequence[ColumnElement[bool]]
                            ) -> Result | None:
    async with engine.begin() as conn:
        order = await lock_order_of(conn, *match)
        if order is None:
            return None
        txn = await read_transaction_where(conn, *match)
        if txn is None:
            raise LookupError("transaction vanished under its order's lock")  # RESTRICT FKs make this a bug

        mismatch = _mismatch(event, txn.amount, txn.currency)
        decision = decide(txn.status, event.status)
        outcome = (EventOutcome.REJECTED if mismatch
                   else EventOutcome.APPLIED if decision == Decision.APPLY else EventOutcome.RECORDED)
        detail = mismatch or decision.value
        inserted = (
            await conn.execute(
                pg_insert(events_t)
                .values(**_event_row(event, transaction_id=txn.id, order_id=order.id, outcome=outcome, detail=detail))
                .on_conflict_do_nothing(constraint="uq_webhook_events_identity")
                .returning(events_t.c.id)
            )
        ).scalar_one_or_none()
        if inserted is None:
            return await _seen_before(conn, event)
        if mismatch:
            kind = AnomalyKind.AMOUNT_MISMATCH if mismatch.startswith("amount") else AnomalyKind.CURRENCY_MISMATCH
            await record_anomaly(conn, kind, {"reason": mismatch, "event_key": event.event_key},
                                 gateway=event.gateway, order_id=order.id, transaction_id=txn.id,
                                 webhook_event_id=inserted)
            return Result(422, {"status": "rejected", "reason": mismatch})
        result = await apply_status(conn, order=order, transaction=txn, incoming=event.status,
                                    webhook_event_id=inserted)
    return Result(200, {"status": outcome.value, "decision": result.decision.value,
                        "transaction_status": result.transaction_status.value,
                        "order_status": result.order_status.value})


async def record_unmatched(engine: AsyncEngine, event: IncomingEvent, reason: str) -> Result:
    """A verified event for no transaction of ours: keep it (unlinked) and flag it, apply nothing."""
    return await once_more_on_a_dead_connection(lambda: _record_unmatched(engine, event, reason))


async def _record_unmatched(engine: AsyncEngine, event: IncomingEvent, reason: str) -> Result:
    async with engine.begin() as conn:
        inserted = (
            await conn.execute(
                pg_insert(events_t)
                .values(**_event_row(event, outcome=EventOutcome.REJECTED, detail=reason))
                .on_conflict_do_nothing(constraint="uq_webhook_events_identity")
                .returning(events_t.c.id)
            )
        ).scalar_one_or_none()
        if inserted is None:
            return await _seen_before(conn, event)
        await record_anomaly(conn, AnomalyKind.UNKNOWN_REFERENCE, {"reason": reason, "event_key": event.event_key},
                             gateway=event.gateway, webhook_event_id=inserted)
    return Result(422, {"status": "rejected", "reason": reason})


async def _seen_before(conn: Any, event: IncomingEvent) -> Result:
    """The identity exists: an identical replay gets the first answer; different data is a conflict."""
    first = (
        await conn.execute(
            select(events_t.c.id, events_t.c.payload_sha256, events_t.c.outcome, events_t.c.detail).where(
                events_t.c.gateway == event.gateway, events_t.c.event_key == event.event_key
            )
        )
    ).one()
    if first.payload_sha256 == event.payload_sha256:
        return Result(_OUTCOME_ANSWER[first.outcome], {"status": "duplicate", "first_outcome": first.outcome.value})
    await conn.execute(insert(conflicts_t).values(webhook_event_id=first.id, payload_sha256=event.payload_sha256,
                                                  payload=event.payload))
    await record_anomaly(conn, AnomalyKind.IDENTITY_CONFLICT,
                         {"event_key": event.event_key, "first_sha256": first.payload_sha256,
                          "replayed_sha256": event.payload_sha256},
                         gateway=event.gateway, webhook_event_id=first.id)
    return Result(409, {"status": "conflict", "reason": "this event identity was already received with other data"})


def _mismatch(event: IncomingEvent, amount: Decimal, currency: str) -> str | None:
    if event.currency != currency:
        return f"currency {event.currency} differs from the transaction's {currency}"
    if event.amount != amount:
        return f"amount {event.amount} differs from the transaction's {amount}"
    return None
