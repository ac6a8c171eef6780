"""The webhook path's guarded write: a decision made on rows that moved since they were read never lands.

Two Wompi attempts of one order, on a real database. A concurrent writer is played by a second connection
acting between the handler's read and its write — the window the guard closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from core.db.models import Gateway, TransactionStatus
from core.payments.ledger import change_for
from core.webhooks import recording, store
from core.webhooks.recording import IncomingEvent, Result, record_and_apply
from core.webhooks.store import TransactionMatch

AMOUNT = Decimal("50000.00")


async def _order_with_two_attempts(conn: asyncpg.Connection, *, w2: str | None) -> int:
    """W1 pending and W2 in status ``w2``. Only one attempt of an order may be pending at a time (migration
    0004), so the pair W1/W2 both pending that these tests used is gone: W2 is a settled or later attempt."""
    order_id = int(await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('O-guard', 'b', $1) RETURNING id", AMOUNT))
    for n, status in ((1, "pending"), (2, w2)):
        if status is None:
            continue
        await conn.execute(
            "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
            " amount, currency, status) VALUES ($1, 'wompi', $2, $3, 'CARD', $4, 'COP', $5)",
            order_id, f"W{n}", f"R-{n}", AMOUNT, status)
    return order_id


def _approved(wompi_id: str) -> IncomingEvent:
    identity = {"id": wompi_id, "status": "APPROVED", "amount_in_cents": 5_000_000, "currency": "COP"}
    return IncomingEvent(gateway=Gateway.WOMPI, event_key=f"{wompi_id}:APPROVED", event_type="transaction.updated",
                         signature="0" * 64, identity_data=identity, payload={"data": identity},
                         status=TransactionStatus.APPROVED, amount=AMOUNT, currency="COP")


def _match(wompi_id: str) -> TransactionMatch:
    return TransactionMatch(Gateway.WOMPI, "gateway_transaction_id", wompi_id)


async def _state(conn: asyncpg.Connection, order_id: int) -> tuple[str, Decimal, bool, list[str], int]:
    row = await conn.fetchrow("SELECT status::text, approved_amount, flagged_for_refund FROM orders WHERE id = $1",
                              order_id)
    statuses = [r[0] for r in await conn.fetch(
        "SELECT status::text FROM order_transactions WHERE order_id = $1 ORDER BY gateway_transaction_id", order_id)]
    events = int(await conn.fetchval("SELECT count(*) FROM webhook_events"))
    return row[0], row[1], row[2], statuses, events


async def test_a_write_decided_on_a_stale_read_writes_nothing(
    conn: asyncpg.Connection, webhook_pool: asyncpg.Pool
) -> None:
    order_id = await _order_with_two_attempts(conn, w2=None)
    async with webhook_pool.acquire() as handler:
        found = await store.read(handler, _match("W1"))
        assert found is not None
        order, txn = found
        # Meanwhile an approved W2 is recorded: the order is paid with 50,000 approved.
        await conn.execute(
            "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference,"
            " payment_method, amount, currency, status) VALUES ($1, 'wompi', 'W2', 'R-2', 'CARD', $2, 'COP',"
            " 'approved')", order_id, AMOUNT)
        await conn.execute("UPDATE orders SET status = 'paid', approved_amount = $1 WHERE id = $2",
                           AMOUNT, order_id)
        # W1's approval, decided on the read from before: "first approval, order paid, no flag".
        change = change_for(order, txn, TransactionStatus.APPROVED)
        assert change.flag_reason is None
        row = recording._event_row(_approved("W1"), transaction_id=txn.id, order_id=order.id,
                                   outcome=recording.EventOutcome.APPLIED, detail="apply")
        written = await store.write_if_unchanged(handler, row, change=change, order=order, transaction=txn)
    assert written.stale and written.event_id is None
    assert await _state(conn, order_id) == ("paid", AMOUNT, False, ["pending", "approved"], 0)


async def test_an_event_that_keeps_losing_the_race_is_decided_under_the_locks(
    conn: asyncpg.Connection, webhook_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = await _order_with_two_attempts(conn, w2="approved")
    await conn.execute("UPDATE orders SET status = 'paid', approved_amount = $1 WHERE id = $2", AMOUNT, order_id)
    reads: list[bool] = []
    original: Callable[..., Awaitable[Any]] = store.read

    async def read_then_race(handler: asyncpg.Connection, match: TransactionMatch, *, locked: bool = False) -> Any:
        found = await original(handler, match, locked=locked)
        reads.append(locked)
        if not locked:  # another writer changes the order after every unlocked read
            await conn.execute("UPDATE orders SET flagged_for_refund = NOT flagged_for_refund WHERE id = $1", order_id)
        return found

    monkeypatch.setattr(store, "read", read_then_race)
    result = await record_and_apply(webhook_pool, _approved("W1"), match=_match("W1"))
    assert reads == [False] * recording.OPTIMISTIC_TRIES + [True]
    assert isinstance(result, Result) and result.status_code == 200, result
    # Decided on the current state: W1 is the second approval — both amounts counted, the order flagged.
    assert result.body["decision"] == "apply" and result.body["order_status"] == "paid"
    assert await _state(conn, order_id) == ("paid", 2 * AMOUNT, True, ["approved", "approved"], 1)
    assert await conn.fetchval("SELECT count(*) FROM payment_anomalies WHERE kind = 'double_payment'") == 1


async def test_an_applied_event_updates_the_order_and_the_transaction_in_place(conn: asyncpg.Connection) -> None:
    """HOT updates (migration 0003): an index on a column the webhook changes would make every update write
    into every index of the table; Postgres counts, per transaction, how many updates were HOT. The order's
    update stays HOT. The transaction's leaving ``pending`` is not, knowingly: the one-live-attempt index
    (migration 0004) has ``status`` in its predicate, which is what lets Postgres refuse a second charge."""
    order_id = await _order_with_two_attempts(conn, w2="declined")
    found = await store.read(conn, _match("W1"))
    assert found is not None
    order, txn = found
    change = change_for(order, txn, TransactionStatus.APPROVED)
    row = recording._event_row(_approved("W1"), transaction_id=txn.id, order_id=order.id,
                               outcome=recording.EventOutcome.APPLIED, detail="apply")
    counts = ("SELECT pg_stat_get_xact_tuples_updated($1::regclass), pg_stat_get_xact_tuples_hot_updated($1::regclass)")
    async with conn.transaction():
        written = await store.write_if_unchanged(conn, row, change=change, order=order, transaction=txn)
        assert written.event_id is not None and not written.stale
        orders = tuple(await conn.fetchrow(counts, "orders"))
        transactions = tuple(await conn.fetchrow(counts, "order_transactions"))
    assert orders == (1, 1)  # (updated, of which HOT)
    assert transactions == (1, 0)
    assert (await _state(conn, order_id))[:4] == ("paid", AMOUNT, False, ["approved", "declined"])
