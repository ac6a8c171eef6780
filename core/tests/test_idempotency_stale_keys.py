"""A key whose request died (a killed worker) must not stay "in progress" for ever: the next claim of it
settles it — freed when no attempt was written, a stored 502 ``payment_outcome_unknown`` when one was — and
touches no other key. Each claim here is bounded, so a key left unsettled fails the test instead of spinning."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.api.idempotency import (
    CheckoutOptions,
    Replay,
    _settle_stale,
    attach_transaction,
    claim_key,
    store_answer,
    store_answer_if_open,
)

if TYPE_CHECKING:
    from conftest import Database

STALE_AT_ONCE = CheckoutOptions(idempotency_wait_seconds=0.2, stale_key_seconds=0.0)


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database.url)
    yield engine
    await engine.dispose()


async def claim(engine: AsyncEngine, order_id: int, buyer: str, key: str,
                options: CheckoutOptions = STALE_AT_ONCE) -> int | Replay:
    return await asyncio.wait_for(
        claim_key(engine, buyer_id=buyer, key=key, fingerprint=f"fp-{key}", order_id=order_id, options=options),
        timeout=3)


async def order_with_attempt(conn: asyncpg.Connection) -> tuple[int, int]:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-S', 'b1', 1000) RETURNING id")
    txn_id = await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency, status)"
        " VALUES ($1, 'wompi', 'ORD-S-1', 'CARD', 1000, 'COP', 'pending') RETURNING id", order_id)
    return order_id, txn_id


async def test_a_dead_request_that_wrote_an_attempt_is_settled_as_outcome_unknown_and_logged(
    engine: AsyncEngine, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    order_id, txn_id = await order_with_attempt(conn)
    dead = await claim(engine, order_id, "b1", "key-dead")
    other = await claim(engine, order_id, "b2", "key-other-buyer")
    assert isinstance(dead, int) and isinstance(other, int)
    async with engine.begin() as c:
        await attach_transaction(c, dead, txn_id)
    caplog.set_level(logging.ERROR, logger="payharness.core.checkout")
    settled = await claim(engine, order_id, "b1", "key-dead")
    assert isinstance(settled, Replay) and settled.status_code == 502
    reference = settled.body["error"]["support_reference"]
    assert settled.body == {"error": {
        "code": "payment_outcome_unknown",
        "message": "the first request with this key never finished; the payment may have been taken. It is pending: "
                   "check the order before paying again, and quote the support reference.",
        "transaction_id": txn_id,
        "support_reference": reference,
    }}
    assert reference.startswith("SUP-")
    rows = {r["id"]: r for r in await conn.fetch("SELECT id, status_code, response_body, transaction_id "
                                                 "FROM idempotency_keys")}
    assert (rows[dead]["status_code"], rows[dead]["transaction_id"]) == (502, txn_id)
    assert json.loads(rows[dead]["response_body"]) == settled.body
    assert rows[other]["status_code"] is None  # another request's key is its own business
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"idempotency key {dead}: its request never answered; settled as outcome unknown ({reference})"]


async def test_a_dead_request_that_wrote_nothing_frees_its_key_and_no_other(
    engine: AsyncEngine, conn: asyncpg.Connection
) -> None:
    order_id, _ = await order_with_attempt(conn)
    dead = await claim(engine, order_id, "b1", "key-dead")
    other = await claim(engine, order_id, "b2", "key-other-buyer")
    assert isinstance(dead, int) and isinstance(other, int)
    again = await claim(engine, order_id, "b1", "key-dead")
    assert isinstance(again, int) and again not in (dead, other)  # won afresh: nothing was charged
    assert sorted(r["id"] for r in await conn.fetch("SELECT id FROM idempotency_keys")) == sorted([other, again])


async def test_settling_never_frees_a_key_that_got_its_answer_meanwhile(
    engine: AsyncEngine, conn: asyncpg.Connection
) -> None:
    # The claim read the key open; its request may store the answer before the settling statement runs.
    order_id, _ = await order_with_attempt(conn)
    key_id = await claim(engine, order_id, "b1", "key-late")
    assert isinstance(key_id, int)
    async with engine.begin() as c:
        await store_answer(c, key_id, status_code=200, body={"late": True}, transaction_id=None)
        await _settle_stale(c, key_id, None)
    row = await conn.fetchrow("SELECT status_code, response_body FROM idempotency_keys WHERE id = $1", key_id)
    assert row is not None and (row["status_code"], json.loads(row["response_body"])) == (200, {"late": True})


async def test_a_fallback_answer_fills_only_its_own_open_key_and_links_the_attempt(
    engine: AsyncEngine, conn: asyncpg.Connection
) -> None:
    order_id, txn_id = await order_with_attempt(conn)
    mine, other, answered = [await claim(engine, order_id, "b1", k) for k in ("key-mine", "key-other", "key-done")]
    assert isinstance(mine, int) and isinstance(other, int) and isinstance(answered, int)
    async with engine.begin() as c:
        await store_answer(c, answered, status_code=200, body={"real": True}, transaction_id=None)
        for key_id in (mine, answered):
            await store_answer_if_open(c, key_id, status_code=502, body={"fallback": True}, transaction_id=txn_id)
    rows = {r["id"]: (r["status_code"], json.loads(r["response_body"] or "null"), r["transaction_id"])
            for r in await conn.fetch("SELECT id, status_code, response_body, transaction_id FROM idempotency_keys")}
    assert rows == {
        mine: (502, {"fallback": True}, txn_id),
        other: (None, None, None),
        answered: (200, {"real": True}, None),  # a fallback never replaces a real answer
    }
