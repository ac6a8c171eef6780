"""What the webhook path writes for refusals and conflicts, on a real database: never the genuine event's
identity, and a bounded number of rows however many copies arrive."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from core.db.models import Gateway, TransactionStatus
from core.db.session import make_pool
from core.settings import DatabaseSettings
from core.webhooks import payu
from core.webhooks.recording import (
    IncomingEvent,
    OtherAttempt,
    Result,
    record_and_apply,
    record_and_apply_attempt,
    record_unmatched,
)
from core.webhooks.store import TransactionMatch

AMOUNT = Decimal("50000.00")


async def _attempt(conn: asyncpg.Connection, wompi_id: str = "W1") -> int:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ($1, 'b', $2) RETURNING id", f"O-{wompi_id}",
        AMOUNT)
    await conn.execute(
        "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
        " amount, currency) VALUES ($1, 'wompi', $2, $3, 'CARD', $4, 'COP')", order_id, wompi_id, f"R-{wompi_id}",
        AMOUNT)
    return int(order_id)


def event(wompi_id: str = "W1", currency: str = "COP", payload: dict[str, Any] | None = None) -> IncomingEvent:
    identity = {"id": wompi_id, "status": "APPROVED", "amount_in_cents": 5_000_000, "currency": currency}
    return IncomingEvent(gateway=Gateway.WOMPI, event_key=f"{wompi_id}:APPROVED", event_type="transaction.updated",
                         signature="0" * 64, identity_data=identity, payload=payload or {"data": identity},
                         status=TransactionStatus.APPROVED, amount=AMOUNT, currency=currency)


async def _counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow("SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM"
                              " webhook_event_conflicts), (SELECT count(*) FROM payment_anomalies)")
    return row[0], row[1], row[2]


async def _apply(database: Any, *events: IncomingEvent, unmatched: bool = False) -> list[Result | None]:
    pool = await make_pool(DatabaseSettings(url=database.url, webhook_pool_size=2))
    try:
        if unmatched:
            return [await record_unmatched(pool, e, "no transaction of ours") for e in events]
        match = TransactionMatch(Gateway.WOMPI, "gateway_transaction_id", "W1")
        return [await record_and_apply(pool, e, match=match) for e in events]
    finally:
        await pool.close()


async def test_a_refused_currency_does_not_take_the_identity_the_genuine_event_needs(
    conn: asyncpg.Connection, database: Any
) -> None:
    order_id = await _attempt(conn)
    refused, again, genuine = await _apply(database, event(currency="USD"), event(currency="EUR"), event())
    assert refused is not None and refused.status_code == 422
    assert again is not None and again.status_code == 422 and again.body["status"] == "duplicate"
    assert genuine is not None and genuine.status_code == 200 and genuine.body["status"] == "applied"
    assert await conn.fetchval("SELECT status::text FROM orders WHERE id = $1", order_id) == "paid"
    keys = sorted(r[0] for r in await conn.fetch("SELECT event_key FROM webhook_events"))
    assert keys == ["W1:APPROVED", "W1:APPROVED:refused:currency_mismatch"]
    assert await _counts(conn) == (2, 0, 1)


async def test_a_conflicting_copy_sent_again_and_again_writes_one_conflict_row(
    conn: asyncpg.Connection, database: Any
) -> None:
    await _attempt(conn)
    first = event()
    other = replace(first, identity_data={**first.identity_data, "other": "data"})
    results = await _apply(database, first, other, other, other)
    assert [r.status_code for r in results if r is not None] == [200, 409, 409, 409]
    assert await _counts(conn) == (1, 1, 1)


async def test_unmatched_copies_write_one_refusal_and_one_anomaly(conn: asyncpg.Connection, database: Any) -> None:
    copies = [event("W9", payload={"n": n}) for n in range(5)]
    results = await _apply(database, *copies, unmatched=True)
    assert {r.status_code for r in results if r is not None} == {422}
    assert await _counts(conn) == (1, 0, 1)


@pytest.mark.scenario("PAYU-CONFIRMATION-REPLAY")
async def test_a_payu_re_delivery_gets_the_first_answer_whichever_path_settled_the_first(
    conn: asyncpg.Connection, webhook_pool: asyncpg.Pool
) -> None:
    # PayU's confirmation beat the core's own SUBMIT answer: the attempt had no gateway id yet, so the core
    # asked PayU (Queries) and applied its answer. PayU then re-delivers the very same bytes after the SUBMIT
    # answer was stored, and the direct path takes it. Same event: the first answer, nothing written (a10).
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('O-P1', 'b', $1) RETURNING id", AMOUNT)
    await conn.execute(
        "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency)"
        " VALUES ($1, 'payu', 'R-P1', 'CARD', $2, 'COP')", order_id, AMOUNT)
    # As verified (to_incoming runs after the signature check): the fields the core reads.
    form = {"merchant_id": "1", "reference_sale": "R-P1", "value": "50000.00", "currency": "COP", "state_pol": "4",
            "transaction_id": "T-1", "sign": "0" * 32, "reference_pol": "1400449660", "attempts": "1"}
    incoming = payu.to_incoming(form)
    match = TransactionMatch(Gateway.PAYU, "reference", "R-P1")
    first = await record_and_apply_attempt(webhook_pool, incoming, match=match, gateway_id="T-1")
    assert isinstance(first, OtherAttempt)  # no gateway id yet: the core asks PayU, which says APPROVED
    approved = payu._with_status(incoming, TransactionStatus.APPROVED)
    settled = await record_and_apply(webhook_pool, approved, match=match)
    await conn.execute("UPDATE order_transactions SET gateway_transaction_id = 'T-1'")  # SUBMIT answer stored
    again = await record_and_apply_attempt(webhook_pool, payu.to_incoming(dict(form)), match=match, gateway_id="T-1")
    assert settled is not None and settled.status_code == 200 and settled.body["status"] == "applied"
    assert isinstance(again, Result) and again.status_code == 200 and again.body["status"] == "duplicate"
    assert await _counts(conn) == (1, 0, 0)  # one event; no conflict row, no identity_conflict anomaly
