"""A webhook whose commit went through but whose answer died with the database connection (a Postgres crash
between the two): the core must never apply it twice, and must not deny it either.

The guarded write is played for real, then the connection "dies" before its answer reaches the handler.
The handler's one retry on a dead connection finds the event recorded and answers 200 ``duplicate``; when
the database is still down for that retry, the answer is a 5xx and the gateway's own retry gets the same
200 later. Either way one event row, and the order paid once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from core.db.models import Gateway, TransactionStatus
from core.webhooks import store
from core.webhooks.recording import IncomingEvent, Result, record_and_apply
from core.webhooks.store import TransactionMatch

AMOUNT = Decimal("50000.00")
MATCH = TransactionMatch(Gateway.WOMPI, "gateway_transaction_id", "W1")
EVENT = IncomingEvent(gateway=Gateway.WOMPI, event_key="W1:APPROVED", event_type="transaction.updated",
                      signature="ab" * 32, identity_data={"id": "W1", "status": "APPROVED",
                                                          "amount_in_cents": 5_000_000, "currency": "COP"},
                      payload={"data": {"transaction": {"id": "W1"}}}, status=TransactionStatus.APPROVED,
                      amount=AMOUNT, currency="COP")


async def _order(conn: asyncpg.Connection) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('O-1', 'b', $1) RETURNING id", AMOUNT)
    await conn.execute(
        "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
        " amount, currency) VALUES ($1, 'wompi', 'W1', 'R-1', 'CARD', $2, 'COP')", order_id, AMOUNT)


def _commit_then_lose_the_answer(monkeypatch: pytest.MonkeyPatch, *, down_after: bool) -> list[str]:
    """The first guarded write commits, then its connection dies; with ``down_after`` the next read finds the
    database still down (refused), as within the first seconds of a crash."""
    real_read = store.read
    seen: list[str] = []

    def losing(real_write: Any) -> Any:
        # Whichever write commits first (the one-statement write of a fresh event, or the guarded write after
        # a read), its answer is lost.
        async def write(*args: Any, **kwargs: Any) -> Any:
            written = await real_write(*args, **kwargs)
            if not seen and not written.stale:  # something was committed
                seen.append("committed, answer lost")
                raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
            return written

        return write

    async def read(*args: Any, **kwargs: Any) -> Any:
        if down_after and seen == ["committed, answer lost"]:
            seen.append("refused")
            raise ConnectionRefusedError(111, "Connection refused")
        return await real_read(*args, **kwargs)

    monkeypatch.setattr(store, "write_if_fresh", losing(store.write_if_fresh))
    monkeypatch.setattr(store, "write_if_unchanged", losing(store.write_if_unchanged))
    monkeypatch.setattr(store, "read", read)
    return seen


async def _rows(conn: asyncpg.Connection) -> tuple[int, str, Decimal, str]:
    events = int(await conn.fetchval("SELECT count(*) FROM webhook_events"))
    order = await conn.fetchrow("SELECT status::text, approved_amount FROM orders")
    txn = await conn.fetchval("SELECT status::text FROM order_transactions")
    return events, order[0], order[1], txn


async def test_the_one_retry_finds_its_own_commit_and_answers_duplicate(
    conn: asyncpg.Connection, webhook_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _order(conn)
    seen = _commit_then_lose_the_answer(monkeypatch, down_after=False)
    result = await record_and_apply(webhook_pool, EVENT, match=MATCH)
    assert seen == ["committed, answer lost"]
    assert result == Result(200, {"status": "duplicate", "first_outcome": "applied"})
    assert await _rows(conn) == (1, "paid", AMOUNT, "approved")


async def test_still_down_for_the_retry_it_fails_and_the_gateways_retry_is_a_duplicate(
    conn: asyncpg.Connection, webhook_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _order(conn)
    seen = _commit_then_lose_the_answer(monkeypatch, down_after=True)
    with pytest.raises(ConnectionRefusedError):  # the app answers it 503 (test_database_unavailable.py)
        await record_and_apply(webhook_pool, EVENT, match=MATCH)
    assert await _rows(conn) == (1, "paid", AMOUNT, "approved")  # committed although not acknowledged
    again = await record_and_apply(webhook_pool, EVENT, match=MATCH)  # the gateway's retry, the database back
    assert seen == ["committed, answer lost", "refused"]
    assert again == Result(200, {"status": "duplicate", "first_outcome": "applied"})
    assert await _rows(conn) == (1, "paid", AMOUNT, "approved")

