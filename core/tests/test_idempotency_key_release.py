"""Releasing an idempotency key frees only that request's key, and never one that already holds an answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from core.api.idempotency import CheckoutOptions, Replay, claim_key, release_key, store_answer

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
