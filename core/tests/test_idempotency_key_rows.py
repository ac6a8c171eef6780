"""Idempotency key rows: releasing frees only that request's key and never an answered one; the transaction is
linked to its own key only; the fingerprint's canonical form is fixed, since fingerprints outlive a deploy."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import create_async_engine

from core.api.idempotency import (
    CheckoutOptions,
    Replay,
    attach_transaction,
    claim_key,
    fingerprint,
    release_key,
    require_key,
    store_answer,
)
from core.errors import BadRequest, Conflict

if TYPE_CHECKING:
    from conftest import Database

OPTIONS = CheckoutOptions(idempotency_wait_seconds=0.0)


async def test_a_refused_request_frees_its_own_key_and_no_one_elses(database: Database,
                                                                     conn: asyncpg.Connection) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-K', 'b1', 1000) RETURNING id")
    engine = create_async_engine(database.url)
    try:
        refused = await claim_key(engine, buyer_id="b1", key="key-refused", fingerprint="f1", order_id=order_id,
                                  options=OPTIONS)
        in_flight = await claim_key(engine, buyer_id="b1", key="key-in-flight", fingerprint="f2",
                                    order_id=order_id, options=OPTIONS)
        answered = await claim_key(engine, buyer_id="b1", key="key-answered", fingerprint="f3", order_id=order_id,
                                   options=OPTIONS)
        assert isinstance(refused, int) and isinstance(in_flight, int) and isinstance(answered, int)
        async with engine.begin() as c:
            await store_answer(c, answered, status_code=200, body={"status": "APPROVED"}, transaction_id=None)

        await release_key(engine, refused)
        await release_key(engine, answered)  # too late: its answer is what a retry must get

        assert [r["key"] for r in await conn.fetch("SELECT key FROM idempotency_keys ORDER BY id")] == [
            "key-in-flight", "key-answered"]
        again = await claim_key(engine, buyer_id="b1", key="key-refused", fingerprint="f1", order_id=order_id,
                                options=OPTIONS)
        replay = await claim_key(engine, buyer_id="b1", key="key-answered", fingerprint="f3", order_id=order_id,
                                 options=OPTIONS)
    finally:
        await engine.dispose()
    assert isinstance(again, int) and again not in (refused, in_flight, answered)
    assert replay == Replay(200, {"status": "APPROVED"})


class _Body(BaseModel):
    order_id: int
    method: str
    card: dict[str, str]


def test_the_fingerprint_is_an_hmac_of_compact_json_with_sorted_keys() -> None:
    body = _Body(order_id=7, method="CARD", card={"token": "tok_1", "brand": "VISA"})
    canonical = b'{"card":{"brand":"VISA","token":"tok_1"},"method":"CARD","order_id":7}'
    assert fingerprint(b"secret", body) == hmac.new(b"secret", canonical, hashlib.sha256).hexdigest()


async def test_a_transaction_is_linked_to_its_own_key_and_kept_with_the_answer(database: Database,
                                                                              conn: asyncpg.Connection) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-T', 'b1', 1000) RETURNING id")
    txn_ids = [await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency, status)"
        " VALUES ($1, 'wompi', $2, 'CARD', 1000, 'COP', $3) RETURNING id", order_id, f"ORD-T-{n}", status)
        for n, status in ((1, "declined"), (2, "pending"))]  # one live attempt per order
    engine = create_async_engine(database.url)
    try:
        mine = await claim_key(engine, buyer_id="b1", key="key-mine", fingerprint="f1", order_id=order_id,
                               options=OPTIONS)
        other = await claim_key(engine, buyer_id="b1", key="key-other", fingerprint="f2", order_id=order_id,
                                options=OPTIONS)
        answered = await claim_key(engine, buyer_id="b1", key="key-answered", fingerprint="f3", order_id=order_id,
                                   options=OPTIONS)
        assert isinstance(mine, int) and isinstance(other, int) and isinstance(answered, int)
        async with engine.begin() as c:
            await attach_transaction(c, mine, txn_ids[0])
            # An answer stored without an earlier attach still names its transaction.
            await store_answer(c, answered, status_code=200, body={}, transaction_id=txn_ids[1])
    finally:
        await engine.dispose()
    rows = {r["key"]: r["transaction_id"] for r in await conn.fetch("SELECT key, transaction_id FROM idempotency_keys")}
    assert rows == {"key-mine": txn_ids[0], "key-other": None, "key-answered": txn_ids[1]}


async def test_a_retry_replays_its_own_buyers_answer_when_another_buyer_used_the_same_key(
    database: Database, conn: asyncpg.Connection
) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-S', 'b1', 1000) RETURNING id")
    engine = create_async_engine(database.url)
    try:
        answers = {}
        for buyer in ("b1", "b2"):
            key_id = await claim_key(engine, buyer_id=buyer, key="shared-key", fingerprint="f", order_id=order_id,
                                     options=OPTIONS)
            assert isinstance(key_id, int)
            answers[buyer] = {"buyer": buyer}
            async with engine.begin() as c:
                await store_answer(c, key_id, status_code=200, body=answers[buyer], transaction_id=None)
        replay = await claim_key(engine, buyer_id="b2", key="shared-key", fingerprint="f", order_id=order_id,
                                 options=OPTIONS)
    finally:
        await engine.dispose()
    assert replay == Replay(200, {"buyer": "b2"})


async def test_a_reused_key_is_refused_telling_the_client_what_to_do(database: Database,
                                                                      conn: asyncpg.Connection) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-R', 'b1', 1000) RETURNING id")
    engine = create_async_engine(database.url)
    try:
        await claim_key(engine, buyer_id="b1", key="key-reused", fingerprint="f1", order_id=order_id, options=OPTIONS)
        with pytest.raises(Conflict) as refused:
            await claim_key(engine, buyer_id="b1", key="key-reused", fingerprint="f2", order_id=order_id,
                            options=OPTIONS)
    finally:
        await engine.dispose()
    assert refused.value.code == "idempotency_key_reused"
    assert "different request body" in refused.value.message and "use a new key" in refused.value.message


def test_a_missing_or_malformed_key_is_refused_saying_what_a_key_must_be() -> None:
    for value, code in ((None, "idempotency_key_required"), ("short", "idempotency_key_invalid")):
        with pytest.raises(BadRequest) as refused:
            require_key(value)
        assert refused.value.code == code
        assert "Idempotency-Key" in refused.value.message and "8–255 visible ASCII" in refused.value.message
    assert require_key("0b7a6c1e-5d1f") == "0b7a6c1e-5d1f"


async def test_a_duplicate_of_a_request_still_running_is_told_to_retry_shortly(database: Database,
                                                                              conn: asyncpg.Connection) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-P', 'b1', 1000) RETURNING id")
    engine = create_async_engine(database.url)
    try:
        await claim_key(engine, buyer_id="b1", key="key-running", fingerprint="f", order_id=order_id, options=OPTIONS)
        with pytest.raises(Conflict) as busy:
            await claim_key(engine, buyer_id="b1", key="key-running", fingerprint="f", order_id=order_id,
                            options=OPTIONS)
    finally:
        await engine.dispose()
    assert busy.value.code == "idempotency_in_progress"
    assert "still being processed; retry shortly" in busy.value.message
    # Header names are case-insensitive on the wire (Starlette lowercases them), so compare them that way.
    assert dict(httpx.Headers(busy.value.headers)) == {"retry-after": "1"}
