"""What apply_status writes: the gateway's answer, the refund flag and its reason, and an anomaly linked to
everything an investigator needs (gateway, order, transaction, the webhook event that brought it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from core.db.models import TransactionStatus
from core.payments.ledger import apply_status, lock_order, read_transaction

if TYPE_CHECKING:
    from conftest import Database


async def _order_with_an_attempt(conn: asyncpg.Connection) -> tuple[int, int]:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-L', 'b1', 50000) RETURNING id")
    return order_id, await _attempt(conn, order_id, 1)


async def _attempt(conn: asyncpg.Connection, order_id: int, n: int) -> int:
    # Pending: an order holds one live attempt at a time (uq_order_transactions_one_live_attempt), so a second
    # one is created only once the first has left pending.
    return int(await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
        " amount, currency) VALUES ($1, 'wompi', $2, $3, 'CARD', 50000, 'COP') RETURNING id",
        order_id, f"w-{n}", f"ORD-L-{n}"))


async def _apply(database: Database, order_id: int, txn_id: int, *, gateway_response: dict[str, Any] | None = None,
                 webhook_event_id: int | None = None) -> None:
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as c:
            order = await lock_order(c, order_id)
            txn = await read_transaction(c, txn_id)
            assert order is not None and txn is not None
            await apply_status(c, order=order, transaction=txn, incoming=TransactionStatus.APPROVED,
                               gateway_response=gateway_response, webhook_event_id=webhook_event_id)
    finally:
        await engine.dispose()


async def test_an_approval_stores_the_gateway_answer_and_leaves_the_order_unflagged(
    database: Database, conn: asyncpg.Connection
) -> None:
    order_id, first = await _order_with_an_attempt(conn)
    await _apply(database, order_id, first, gateway_response={"id": "w-1", "status": "APPROVED"})
    assert json.loads(await conn.fetchval("SELECT gateway_response FROM order_transactions WHERE id = $1", first)) == {
        "id": "w-1", "status": "APPROVED"}
    row = await conn.fetchrow("SELECT status, approved_amount, flagged_for_refund, flag_reason FROM orders")
    assert tuple(row) == ("paid", 50000, False, None)
    assert await conn.fetchval("SELECT count(*) FROM payment_anomalies") == 0


async def test_a_second_approval_flags_the_order_with_its_reason_and_records_a_linked_anomaly(
    database: Database, conn: asyncpg.Connection
) -> None:
    order_id, first = await _order_with_an_attempt(conn)
    event_id = await conn.fetchval(
        "INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload, outcome)"
        " VALUES ('wompi', 'evt-2', 'transaction.updated', 'sig', repeat('0', 64), '{}', 'applied') RETURNING id")
    await _apply(database, order_id, first)
    # Rows as a database written before the one-live-attempt rule may hold them: the ledger still flags it.
    second = await _attempt(conn, order_id, 2)
    await _apply(database, order_id, second, webhook_event_id=event_id)
    order = await conn.fetchrow("SELECT status, approved_amount, flagged_for_refund, flag_reason FROM orders")
    assert tuple(order) == ("paid", 100000, True, "double payment: more than one approved transaction")
    anomaly = await conn.fetchrow(
        "SELECT kind, gateway, order_id, transaction_id, webhook_event_id, detail FROM payment_anomalies")
    assert tuple(anomaly)[:5] == ("double_payment", "wompi", order_id, second, event_id)
    assert json.loads(anomaly["detail"]) == {"approved_amount": "100000.00", "total_amount": "50000.00"}


async def test_unknown_ids_read_as_none(database: Database) -> None:
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as c:
            assert await lock_order(c, 987654) is None
            assert await read_transaction(c, 987654) is None
    finally:
        await engine.dispose()
