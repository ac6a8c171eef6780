"""The webhook path's one-statement write for an attempt nothing has happened to yet, on a real database.

Decided before reading, on ``ledger.untouched``; written only if the rows hold exactly that state; otherwise
nothing is written and the event is decided on a read, as every event was before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from core.db.models import EventOutcome, Gateway, TransactionStatus
from core.db.session import make_pool
from core.payments.ledger import change_for, untouched
from core.settings import DatabaseSettings
from core.webhooks import recording, store
from core.webhooks.recording import IncomingEvent, Result, record_and_apply
from core.webhooks.store import TransactionMatch

AMOUNT = Decimal("50000.00")
MATCH = TransactionMatch(Gateway.WOMPI, "gateway_transaction_id", "W1")


async def _attempt(conn: asyncpg.Connection, status: str = "pending") -> int:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('O-fresh', 'b', $1) RETURNING id", AMOUNT)
    await conn.execute(
        "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
        " amount, currency, status) VALUES ($1, 'wompi', 'W1', 'R-1', 'CARD', $2, 'COP', $3)", order_id, AMOUNT,
        status)
    return int(order_id)


def _event(status: str = "APPROVED", *, amount: Decimal = AMOUNT, currency: str = "COP",
           data: str = "") -> IncomingEvent:
    identity = {"id": "W1", "status": status, "amount_in_cents": int(amount * 100), "currency": currency,
                "data": data}
    return IncomingEvent(gateway=Gateway.WOMPI, event_key=f"W1:{status}", event_type="transaction.updated",
                         signature="0" * 64, identity_data=identity, payload={"data": identity},
                         status=TransactionStatus[status], amount=amount, currency=currency)


async def _state(conn: asyncpg.Connection, order_id: int) -> tuple[Any, ...]:
    row = await conn.fetchrow(
        "SELECT o.status::text, o.approved_amount, o.flagged_for_refund, t.status::text FROM orders o"
        " JOIN order_transactions t ON t.order_id = o.id WHERE o.id = $1", order_id)
    events = await conn.fetch("SELECT event_key, outcome::text, transaction_id IS NOT NULL, order_id FROM"
                              " webhook_events ORDER BY id")
    anomalies = int(await conn.fetchval("SELECT count(*) FROM payment_anomalies"))
    return (*row, [tuple(e) for e in events], anomalies)


async def _record(database: Any, *events: IncomingEvent, reads: list[bool] | None = None,
                  monkeypatch: pytest.MonkeyPatch | None = None) -> list[Result | None]:
    if monkeypatch is not None and reads is not None:
        original: Callable[..., Awaitable[Any]] = store.read

        async def counted(conn: asyncpg.Connection, match: TransactionMatch, *, locked: bool = False) -> Any:
            reads.append(locked)
            return await original(conn, match, locked=locked)

        monkeypatch.setattr(store, "read", counted)
    pool = await make_pool(DatabaseSettings(url=database.url, webhook_pool_size=2))
    try:
        return [await record_and_apply(pool, e, match=MATCH) for e in events]
    finally:
        await pool.close()


async def test_a_first_approval_of_an_untouched_attempt_is_applied_without_a_read(
    conn: asyncpg.Connection, database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = await _attempt(conn)
    reads: list[bool] = []
    [result] = await _record(database, _event(), reads=reads, monkeypatch=monkeypatch)
    assert reads == []
    assert result == Result(200, {"status": "applied", "decision": "apply", "transaction_status": "approved",
                                  "order_status": "paid"})
    assert await _state(conn, order_id) == ("paid", AMOUNT, False, "approved",
                                            [("W1:APPROVED", "applied", True, order_id)], 0)


async def test_a_replayed_pending_event_gets_the_first_answer_and_other_data_a_conflict(
    conn: asyncpg.Connection, database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PENDING leaves the attempt untouched, so its copies take the one-statement write too: the identity
    there already is what tells a replay (the first answer) from other data (409, one conflict row)."""
    order_id = await _attempt(conn)
    reads: list[bool] = []
    first, replay, other = await _record(database, _event("PENDING"), _event("PENDING"), _event("PENDING", data="x"),
                                         reads=reads, monkeypatch=monkeypatch)
    assert reads == []
    assert first == Result(200, {"status": "recorded", "decision": "same", "transaction_status": "pending",
                                 "order_status": "pending"})
    assert replay == Result(200, {"status": "duplicate", "first_outcome": "recorded"})
    assert other is not None and other.status_code == 409
    assert await _state(conn, order_id) == ("pending", Decimal("0.00"), False, "pending",
                                            [("W1:PENDING", "recorded", True, order_id)], 1)
    assert await conn.fetchval("SELECT count(*) FROM webhook_event_conflicts") == 1


@pytest.mark.parametrize(
    ("setup", "event", "gateway_id"),
    [
        ("UPDATE order_transactions SET status = 'declined'", _event(), None),
        ("UPDATE orders SET flagged_for_refund = true", _event(), None),
        ("UPDATE orders SET status = 'failed'", _event(), None),
        ("UPDATE orders SET approved_amount = 1", _event(), None),
        ("SELECT 1", _event(amount=AMOUNT + Decimal("0.01")), None),
        ("SELECT 1", _event(currency="USD"), None),
        ("SELECT 1", _event(), "W2"),
    ],
    ids=["transaction-settled", "order-flagged", "order-failed", "money-approved", "other-amount", "other-currency",
         "other-gateway-id"],
)
async def test_the_one_statement_write_writes_nothing_unless_the_rows_hold_its_premise(
    conn: asyncpg.Connection, setup: str, event: IncomingEvent, gateway_id: str | None
) -> None:
    order_id = await _attempt(conn)
    await conn.execute(setup)
    before = await _state(conn, order_id)
    premise = untouched(Gateway.WOMPI, event.amount, event.currency, gateway_id)
    change = change_for(*premise, event.status)
    row = recording._event_row(event, outcome=EventOutcome.APPLIED, detail="apply")
    written = await store.write_if_fresh(conn, row, match=MATCH, change=change, premise=premise,
                                         gateway_id=gateway_id)
    assert written == store.Written(None, stale=True)
    assert await _state(conn, order_id) == before


async def test_an_event_for_a_settled_attempt_is_decided_on_a_read(
    conn: asyncpg.Connection, database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late approval of a declined attempt: the premise fails, so the state machine decides on what was read
    (a conflict: the order flagged for a refund, the anomaly recorded), exactly as before the shortcut."""
    order_id = await _attempt(conn, status="declined")
    await conn.execute("UPDATE orders SET status = 'failed'")
    reads: list[bool] = []
    [result] = await _record(database, _event(), reads=reads, monkeypatch=monkeypatch)
    assert reads == [False]
    assert result is not None and result.body["decision"] == "conflict"
    assert await _state(conn, order_id) == ("failed", Decimal("0.00"), True, "declined",
                                            [("W1:APPROVED", "recorded", True, order_id)], 1)


@pytest.mark.parametrize("currency", ["C\x00P", "C\ud800P"], ids=["nul", "lone-surrogate"])
async def test_a_currency_postgres_cannot_take_is_refused_not_sent(
    conn: asyncpg.Connection, database: Any, currency: str
) -> None:
    order_id = await _attempt(conn)
    [result] = await _record(database, replace(_event(), currency=currency))
    assert result is not None and result.status_code == 422 and result.body["status"] == "rejected"
    state = await _state(conn, order_id)
    assert state[:4] == ("pending", Decimal("0.00"), False, "pending")
    assert [e[1] for e in state[4]] == ["rejected"]
