"""Recording a verified gateway event and applying it: dedupe, amount check, state machine — one atomic write.

The HTTP answer is decided here, after the commit, never before: 200 only once the event is durably
recorded. The seed's handler answered 200 even when recording failed ("to avoid retry storms"); an
event lost that way is money state the shop never learns. Here any failure to record propagates as a
5xx, and the gateway's own retry schedule delivers the event again — the dedupe makes that safe.

| what arrived | answer | written |
|---|---|---|
| new event, amounts match | 200 | event (applied or recorded), transaction and order updated by the state machine |
| identical replay (same identity, same signed data) | the first answer again (200, or 422) | nothing |
| same identity, different signed data | 409 | a conflict row and an identity_conflict anomaly, once per data |
| amount or currency differs from what was charged | 422 | once per identity and reason: event (rejected), anomaly |
| no transaction of ours matches | 422 | once per identity: event (rejected, unlinked), unknown_reference |

A refused event never takes the event's identity (``event_key``): a copy of a genuine event with an unsigned
field changed (Wompi's ``currency``) is refused, and the genuine event and its retries must still apply.
Refusals are keyed by the signed identity plus the reason (``refusal_key``), so a captured event replayed
with ever different unsigned data writes one row, not one per copy. "Same data" means the signed data and
what the core acts on (``identity_data``): unsigned fields the core ignores do not make a conflict.

The database work is bare asyncpg (core/webhooks/store.py, which says why); the decisions are the
ledger's and the state machine's, the same functions the API uses.

Usage::

    result = await record_and_apply(pool, event, match=TransactionMatch(Gateway.WOMPI, "id", tid))
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeVar

import asyncpg

from core.db.models import AnomalyKind, EventOutcome, Gateway, TransactionStatus
from core.payments.ledger import Change, change_for, foreign_approval, untouched
from core.payments.statemachine import Decision
from core.webhooks import storable, store
from core.webhooks.store import TransactionMatch

T = TypeVar("T")


@dataclass(frozen=True)
class IncomingEvent:
    """A signature-verified event, reduced to what the core acts on."""

    gateway: Gateway
    event_key: str  # identity, built from signed fields
    event_type: str
    signature: str
    identity_data: dict[str, Any]  # signed and acted-on fields: their change means "different data" (hashed)
    payload: dict[str, Any]  # the raw event, kept for the audit trail (Decimals are stored as strings)
    status: TransactionStatus
    amount: Decimal
    currency: str
    signed_key: str | None = None  # the identity from signed fields only, when event_key also has unsigned ones
    raw_sha256: str | None = None  # SHA-256 of the request body as received, kept when the payload is not
    # An approval of another gateway transaction than the matched attempt's own charge (PayU): never applied to
    # the attempt; the order is flagged for a refund instead (ledger.foreign_approval).
    foreign_charge: bool = False

    @cached_property
    def stored_payload(self) -> dict[str, Any]:
        """The payload as the database can keep it: as sent, escaped, or bounded (core/webhooks/storable.py)."""
        return storable.for_storage(self.payload, raw_sha256=self.raw_sha256, acted_on=self.identity_data)

    def refusal_key(self, reason: str) -> str:
        """Where a refused event is recorded: never ``event_key``, so the genuine event can still claim it."""
        return f"{self.signed_key or self.event_key}:refused:{reason}"

    @cached_property
    def payload_sha256(self) -> str:
        canonical = json.dumps(self.identity_data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Result:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class OtherAttempt:
    """The matched transaction carries another gateway id than the event names: nothing was written."""

    known_gateway_id: str | None


_OUTCOME_ANSWER = {EventOutcome.APPLIED: 200, EventOutcome.RECORDED: 200, EventOutcome.REJECTED: 422}
# A pooled connection that died with the server (restart, pg_terminate_backend) fails with one of these;
# killed in the middle of a statement, asyncpg may report it as an InternalClientError ("cannot switch to
# state …; another operation is in progress"), seen when terminating sessions under load.
_DEAD_CONNECTION = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.AdminShutdownError,
                    asyncpg.CrashShutdownError, asyncpg.InternalClientError, ConnectionError)


def _event_row(event: IncomingEvent, **values: Any) -> dict[str, Any]:
    return {"gateway": event.gateway, "event_key": event.event_key, "event_type": event.event_type,
            "signature": event.signature, "payload_sha256": event.payload_sha256, "payload": event.stored_payload,
            **values}


async def once_more_on_a_dead_connection(pool: asyncpg.Pool, work: Callable[[], Awaitable[T]]) -> T:
    """Run a database transaction; if its pooled connection turns out dead, run it once more.

    A dead connection rarely dies alone (a database restart, sessions terminated together), so before the
    second try every pooled connection is marked expired: the retry, and the requests after it, get new
    ones instead of drawing the next dead one. Safe because the event path is idempotent: if a commit
    went through and only its answer was lost with the connection, the retry finds the event recorded
    and answers as for a replay. A second failure (the database really is down) propagates: a 5xx, and
    the gateway retries later.
    """
    try:
        return await work()
    except _DEAD_CONNECTION:
        await pool.expire_connections()
    return await work()


async def record_and_apply(pool: asyncpg.Pool, event: IncomingEvent, *, match: TransactionMatch) -> Result | None:
    """Record ``event`` against the transaction of ours that ``match`` selects and apply it.

    Returns the HTTP answer, or None when no transaction matches (nothing written).
    """
    result = await once_more_on_a_dead_connection(pool, lambda: _record_and_apply(pool, event, match, None))
    if isinstance(result, OtherAttempt):  # only returned when a gateway id is expected
        raise TypeError("record_and_apply expected no gateway id")
    return result


async def record_and_apply_attempt(pool: asyncpg.Pool, event: IncomingEvent, *, match: TransactionMatch,
                                   gateway_id: str) -> Result | OtherAttempt | None:
    """``record_and_apply``, provided the matched transaction carries ``gateway_id``.

    When it carries another (or none yet), nothing is written and ``OtherAttempt`` says so: the caller
    asks the gateway before applying anything. Checking inside the same database transaction saves the
    separate read the check would otherwise take.
    """
    return await once_more_on_a_dead_connection(pool, lambda: _record_and_apply(pool, event, match,
                                                                                 gateway_id))


# How many times an event is decided on an unlocked read before the rows are locked for it: each stale try
# means another writer changed the order meanwhile, so a few tries settle all but a pile-up on one order.
OPTIMISTIC_TRIES = 3


class _Stale(enum.Enum):
    STALE = "stale"


async def _record_and_apply(pool: asyncpg.Pool, event: IncomingEvent, match: TransactionMatch,
                            gateway_id: str | None) -> Result | OtherAttempt | None:
    async with pool.acquire() as conn:
        fresh = await _write_if_fresh(conn, event, match, gateway_id)
        if fresh is not None:
            return fresh
        for _ in range(OPTIMISTIC_TRIES):
            result = await _decide_and_write(conn, event, match, gateway_id, locked=False)
            if result is not _Stale.STALE:
                return result
        # Still losing the race: read holding both rows' locks, then nothing can move until the commit.
        async with conn.transaction():
            result = await _decide_and_write(conn, event, match, gateway_id, locked=True)
        if result is _Stale.STALE:
            raise RuntimeError("the order or transaction changed under its own lock")
        return result


async def _write_if_fresh(conn: asyncpg.Connection, event: IncomingEvent, match: TransactionMatch,
                          gateway_id: str | None) -> Result | None:
    """One round trip for an event about an attempt nothing has happened to yet (most events): decided on that
    premise, written only if it holds. None: it did not hold (or no transaction matched), nothing was
    written, and the event takes the read-then-write path."""
    values = (match.value, event.currency, gateway_id)
    if event.foreign_charge:
        return None  # not the state machine's premise: decided on the rows as they are
    if not all(storable.clean(v) for v in values if isinstance(v, str)):
        return None  # Postgres cannot take it as a parameter; the other path refuses it without sending it
    premise = untouched(event.gateway, event.amount, event.currency, gateway_id)
    change = change_for(*premise, event.status)
    outcome = _outcome_of(change)
    row = _event_row(event, outcome=outcome, detail=change.outcome.decision.value)
    written = await store.write_if_fresh(conn, row, match=match, change=change, premise=premise,
                                         gateway_id=gateway_id)
    if written.stale:
        return None
    if written.event_id is None:
        return await _seen_before(conn, event, event.event_key)
    return _answer(change, outcome)


def _outcome_of(change: Change) -> EventOutcome:
    return EventOutcome.APPLIED if change.outcome.decision == Decision.APPLY else EventOutcome.RECORDED


def _answer(change: Change, outcome: EventOutcome) -> Result:
    result = change.outcome
    return Result(200, {"status": outcome.value, "decision": result.decision.value,
                        "transaction_status": result.transaction_status.value,
                        "order_status": result.order_status.value})


async def _decide_and_write(conn: asyncpg.Connection, event: IncomingEvent, match: TransactionMatch,
                            gateway_id: str | None, *, locked: bool) -> Result | OtherAttempt | _Stale | None:
    found = await store.read(conn, match, locked=locked)
    if found is None:
        return None
    order, txn = found
    if gateway_id is not None and txn.gateway_transaction_id != gateway_id:
        return OtherAttempt(txn.gateway_transaction_id)

    # Refused (amount or currency differs): the event and an anomaly, nothing applied. Otherwise the state
    # machine's change. Either way one write, which does nothing more if the event is not new.
    mismatch = _mismatch(event, txn.amount, txn.currency)
    change: Change | None = None
    anomaly: tuple[AnomalyKind, dict[str, Any]] | None = None
    if mismatch:
        kind = AnomalyKind.AMOUNT_MISMATCH if mismatch.startswith("amount") else AnomalyKind.CURRENCY_MISMATCH
        anomaly = (kind, {"reason": mismatch, "event_key": storable.key(event.event_key)})
        outcome, detail = EventOutcome.REJECTED, mismatch
    else:
        change = foreign_approval(order, txn) if event.foreign_charge else change_for(order, txn, event.status)
        outcome, detail = _outcome_of(change), change.outcome.decision.value
    key = event.refusal_key(anomaly[0].value) if anomaly else event.event_key
    row = _event_row(event, event_key=key, transaction_id=txn.id, order_id=order.id, outcome=outcome, detail=detail)
    written = await store.write_if_unchanged(conn, row, change=change, order=order, transaction=txn,
                                             anomaly=anomaly)
    if written.stale:
        return _Stale.STALE
    if written.event_id is None:
        return await _seen_before(conn, event, key)
    if change is None:
        return Result(422, {"status": "rejected", "reason": storable.text(mismatch or "")})
    return _answer(change, outcome)


async def record_unmatched(pool: asyncpg.Pool, event: IncomingEvent, reason: str) -> Result:
    """A verified event for no transaction of ours: keep it (unlinked) and flag it, apply nothing."""
    return await once_more_on_a_dead_connection(pool, lambda: _record_unmatched(pool, event, reason))


async def _record_unmatched(pool: asyncpg.Pool, event: IncomingEvent, reason: str) -> Result:
    async with pool.acquire() as conn:
        key = event.refusal_key(AnomalyKind.UNKNOWN_REFERENCE.value)
        row = _event_row(event, event_key=key, outcome=EventOutcome.REJECTED, detail=reason)
        written = await store.write(conn, row, anomaly=(AnomalyKind.UNKNOWN_REFERENCE,
                                                        {"reason": reason,
                                                         "event_key": storable.key(event.event_key)}))
        if written.event_id is None:
            return await _seen_before(conn, event, key)
    return Result(422, {"status": "rejected", "reason": reason})


async def _seen_before(conn: asyncpg.Connection, event: IncomingEvent, key: str) -> Result:
    """The key exists: an identical replay gets the first answer; different data is a conflict.

    A refusal key answers the refusal again whatever the data: its copies are the forger's to vary, and
    recording each would grow without bound.
    """
    first = await store.first_event(conn, event.gateway, key)
    if first.payload_sha256 == event.payload_sha256 or key != event.event_key:
        return Result(_OUTCOME_ANSWER[first.outcome], {"status": "duplicate", "first_outcome": first.outcome.value})
    await store.write_conflict(conn, first, gateway=event.gateway, payload_sha256=event.payload_sha256,
                               payload=event.stored_payload,
                               detail={"event_key": storable.key(event.event_key), "first_sha256": first.payload_sha256,
                                       "replayed_sha256": event.payload_sha256})
    return Result(409, {"status": "conflict", "reason": "this event identity was already received with other data"})


def _mismatch(event: IncomingEvent, amount: Decimal, currency: str) -> str | None:
    if event.currency != currency:
        return f"currency {event.currency} differs from the transaction's {currency}"
    if event.amount != amount:
        return f"amount {event.amount} differs from the transaction's {amount}"
    return None
