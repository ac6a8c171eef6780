"""Each row of core/README.md's webhook table, on a real database: the answer, and exactly what is written
(the event row with its links, outcome and detail; the anomaly; the conflict row). The guard and the
bounded-copies rules are in test_webhook_guard.py and test_webhook_records.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest

from core.db.models import EventOutcome, Gateway, OrderStatus, TransactionStatus
from core.db.session import make_pool
from core.gateways.errors import WompiNotFoundError
from core.services import Services
from core.settings import DatabaseSettings
from core.webhooks import store
from core.webhooks.recording import (
    IncomingEvent,
    OtherAttempt,
    Result,
    record_and_apply,
    record_and_apply_attempt,
    record_unmatched,
)
from core.webhooks.store import TransactionMatch
from core.webhooks.wompi import _adopt_from_wompi
from core.webhooks.wompi_misses import WompiMisses

AMOUNT = Decimal("50000.00")
MATCH = TransactionMatch(Gateway.WOMPI, "gateway_transaction_id", "W1")


async def _attempt(conn: asyncpg.Connection) -> tuple[int, int]:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('O-1', 'b', $1) RETURNING id", AMOUNT)
    txn_id = await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
        " amount, currency) VALUES ($1, 'wompi', 'W1', 'R-1', 'CARD', $2, 'COP') RETURNING id", order_id, AMOUNT)
    return int(order_id), int(txn_id)


def _event(status: str = "APPROVED", *, amount: Decimal = AMOUNT, currency: str = "COP", wompi_id: str = "W1",
           extra: dict[str, Any] | None = None) -> IncomingEvent:
    identity = {"id": wompi_id, "status": status, "amount_in_cents": int(amount * 100), "currency": currency,
                **(extra or {})}
    return IncomingEvent(gateway=Gateway.WOMPI, event_key=f"{wompi_id}:{status}", event_type="transaction.updated",
                         signature="ab" * 32, identity_data=identity, payload={"data": {"transaction": identity}},
                         status=TransactionStatus(status.lower()), amount=amount, currency=currency)


async def _events(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT id, event_key, event_type, signature, payload_sha256, payload::text AS payload,"
                            " transaction_id, order_id, outcome::text AS outcome, detail"
                            " FROM webhook_events ORDER BY id")
    return [dict(r, payload=json.loads(r["payload"])) for r in rows]


async def _anomalies(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT kind::text AS kind, detail::text AS detail, gateway::text AS gateway, order_id,"
                            " transaction_id, webhook_event_id FROM payment_anomalies ORDER BY id")
    return [dict(r, detail=json.loads(r["detail"])) for r in rows]


async def _run(database: Any, work: Any) -> Any:
    pool = await make_pool(DatabaseSettings(url=database.url, webhook_pool_size=2))
    try:
        return await work(pool)
    finally:
        await pool.close()


async def test_a_new_matching_event_is_applied_and_recorded_linked_to_its_transaction(
    conn: asyncpg.Connection, database: Any
) -> None:
    order_id, txn_id = await _attempt(conn)
    event = _event()
    result = await _run(database, lambda pool: record_and_apply(pool, event, match=MATCH))
    assert result == Result(200, {"status": "applied", "decision": "apply", "transaction_status": "approved",
                                  "order_status": "paid"})
    [row] = await _events(conn)
    assert {k: v for k, v in row.items() if k != "id"} == {
        "event_key": "W1:APPROVED", "event_type": "transaction.updated", "signature": "ab" * 32,
        "payload_sha256": event.payload_sha256, "payload": event.payload, "transaction_id": txn_id,
        "order_id": order_id, "outcome": "applied", "detail": "apply"}
    assert await conn.fetchval("SELECT status::text FROM order_transactions WHERE id = $1", txn_id) == "approved"


async def test_an_event_the_state_machine_keeps_is_recorded_not_applied(conn: asyncpg.Connection,
                                                                        database: Any) -> None:
    order_id, txn_id = await _attempt(conn)

    async def work(pool: asyncpg.Pool) -> tuple[Any, Any, Any]:
        return (await record_and_apply(pool, _event(), match=MATCH),
                await record_and_apply(pool, _event("PENDING"), match=MATCH),
                await record_and_apply(pool, _event(), match=MATCH))

    applied, late, replay = await _run(database, work)
    assert applied.body["status"] == "applied"
    assert late.status_code == 200
    assert late.body["status"] == "recorded" and late.body["decision"] != "apply"
    assert late.body["transaction_status"] == "approved" and late.body["order_status"] == "paid"
    assert replay == Result(200, {"status": "duplicate", "first_outcome": "applied"})
    rows = await _events(conn)
    assert [(r["event_key"], r["outcome"], r["detail"]) for r in rows] == [
        ("W1:APPROVED", "applied", "apply"), ("W1:PENDING", "recorded", late.body["decision"])]
    assert all((r["transaction_id"], r["order_id"]) == (txn_id, order_id) for r in rows)


@pytest.mark.parametrize(
    ("event", "kind", "reason"),
    [
        (_event(amount=Decimal("1.00")), "amount_mismatch", "amount 1.00 differs from the transaction's 50000.00"),
        (_event(currency="USD"), "currency_mismatch", "currency USD differs from the transaction's COP"),
    ],
)
async def test_an_amount_or_currency_mismatch_is_refused_once_under_the_refusal_key(
    conn: asyncpg.Connection, database: Any, event: IncomingEvent, kind: str, reason: str
) -> None:
    order_id, txn_id = await _attempt(conn)

    async def work(pool: asyncpg.Pool) -> tuple[Any, Any]:
        return await record_and_apply(pool, event, match=MATCH), await record_and_apply(pool, event, match=MATCH)

    first, again = await _run(database, work)
    assert first == Result(422, {"status": "rejected", "reason": reason})
    assert again == Result(422, {"status": "duplicate", "first_outcome": "rejected"})
    [row] = await _events(conn)
    assert (row["event_key"], row["outcome"], row["detail"]) == (f"W1:APPROVED:refused:{kind}", "rejected", reason)
    assert (row["transaction_id"], row["order_id"]) == (txn_id, order_id)
    assert await _anomalies(conn) == [{"kind": kind, "detail": {"reason": reason, "event_key": "W1:APPROVED"},
                                       "gateway": "wompi", "order_id": order_id, "transaction_id": txn_id,
                                       "webhook_event_id": row["id"]}]
    assert await conn.fetchval("SELECT status::text FROM order_transactions WHERE id = $1", txn_id) == "pending"


async def test_an_event_for_no_transaction_of_ours_is_kept_unlinked_and_flagged_once(
    conn: asyncpg.Connection, database: Any
) -> None:
    event = _event(wompi_id="W9")

    async def work(pool: asyncpg.Pool) -> tuple[Any, Any]:
        return (await record_unmatched(pool, event, "no transaction of ours has this Wompi id"),
                await record_unmatched(pool, event, "no transaction of ours has this Wompi id"))

    first, again = await _run(database, work)
    assert first == Result(422, {"status": "rejected", "reason": "no transaction of ours has this Wompi id"})
    assert again == Result(422, {"status": "duplicate", "first_outcome": "rejected"})
    [row] = await _events(conn)
    assert await store.first_event(conn, Gateway.WOMPI, "W9:APPROVED:refused:unknown_reference") == store.FirstEvent(
        row["id"], event.payload_sha256, EventOutcome.REJECTED, "no transaction of ours has this Wompi id")
    with pytest.raises(LookupError, match=r"^event W9:APPROVED conflicted yet is not there$"):
        await store.first_event(conn, Gateway.WOMPI, "W9:APPROVED")
    assert (row["event_key"], row["outcome"], row["detail"], row["transaction_id"], row["order_id"]) == (
        "W9:APPROVED:refused:unknown_reference", "rejected", "no transaction of ours has this Wompi id", None, None)
    assert await _anomalies(conn) == [{
        "kind": "unknown_reference", "detail": {"reason": "no transaction of ours has this Wompi id",
                                                "event_key": "W9:APPROVED"},
        "gateway": "wompi", "order_id": None, "transaction_id": None, "webhook_event_id": row["id"]}]


async def test_the_same_identity_with_other_data_is_a_conflict_kept_with_its_payload(
    conn: asyncpg.Connection, database: Any
) -> None:
    await _attempt(conn)
    first = _event()
    other = replace(_event(extra={"other": "data"}), payload={"data": "other"})

    async def work(pool: asyncpg.Pool) -> tuple[Any, Any]:
        return await record_and_apply(pool, first, match=MATCH), await record_and_apply(pool, other, match=MATCH)

    _, conflict = await _run(database, work)
    assert conflict == Result(409, {"status": "conflict",
                                    "reason": "this event identity was already received with other data"})
    [row] = await _events(conn)
    conflicts = await conn.fetch("SELECT webhook_event_id, payload_sha256, payload::text AS payload"
                                 " FROM webhook_event_conflicts")
    assert [(c["webhook_event_id"], c["payload_sha256"], json.loads(c["payload"])) for c in conflicts] == [
        (row["id"], other.payload_sha256, {"data": "other"})]
    assert await _anomalies(conn) == [{
        "kind": "identity_conflict", "detail": {"event_key": "W1:APPROVED", "first_sha256": first.payload_sha256,
                                                "replayed_sha256": other.payload_sha256},
        "gateway": "wompi", "order_id": None, "transaction_id": None, "webhook_event_id": row["id"]}]


async def test_an_event_naming_another_attempt_writes_nothing_and_says_which_id_the_core_knows(
    conn: asyncpg.Connection, database: Any
) -> None:
    await _attempt(conn)
    result = await _run(database, lambda pool: record_and_apply_attempt(pool, _event(), match=MATCH,
                                                                         gateway_id="W2"))
    assert result == OtherAttempt("W1")
    assert await _events(conn) == []


async def test_the_read_returns_the_order_and_transaction_as_stored(conn: asyncpg.Connection) -> None:
    order_id, txn_id = await _attempt(conn)
    found = await store.read(conn, MATCH)
    assert found is not None
    order, txn = found
    assert (order.id, order.status, order.total_amount, order.approved_amount, order.currency,
            order.flagged_for_refund) == (order_id, OrderStatus.PENDING, AMOUNT, Decimal("0"), "COP", False)
    assert (txn.id, txn.order_id, txn.gateway, txn.status, txn.amount, txn.currency, txn.reference,
            txn.gateway_transaction_id) == (txn_id, order_id, Gateway.WOMPI, TransactionStatus.PENDING, AMOUNT,
                                            "COP", "R-1", "W1")
    assert await store.read(conn, TransactionMatch(Gateway.WOMPI, "reference", "R-1")) == found
    assert await store.read(conn, TransactionMatch(Gateway.WOMPI, "id", txn_id)) == found
    assert await store.read(conn, TransactionMatch(Gateway.PAYU, "reference", "R-1")) is None
    assert await store.read(conn, TransactionMatch(Gateway.WOMPI, "reference", "R-\x00")) is None


async def test_the_optimistic_read_does_not_wait_for_a_lock_and_the_locked_read_does(
    conn: asyncpg.Connection, database: Any
) -> None:
    await _attempt(conn)
    dsn = database.url.replace("postgresql+asyncpg://", "postgresql://")
    holder = await asyncpg.connect(dsn)
    reader = await asyncpg.connect(dsn)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM orders FOR UPDATE")
            assert await asyncio.wait_for(store.read(reader, MATCH), timeout=5) is not None
            async with reader.transaction():
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(store.read(reader, MATCH, locked=True), timeout=0.5)
    finally:
        await reader.close()
        await holder.close()


class WompiReads:
    """Wompi's GET /v1/transactions/{id}: the reference Wompi holds for each id it knows; counts the calls."""

    def __init__(self, **references: str) -> None:
        self.references = references
        self.asked: list[str] = []

    async def get_transaction(self, wompi_id: str) -> Any:
        self.asked.append(wompi_id)
        if wompi_id not in self.references:
            raise WompiNotFoundError("NOT_FOUND_ERROR")
        return SimpleNamespace(reference=self.references[wompi_id])


async def _adopt(database: Any, wompi: WompiReads, wompi_id: str, misses: WompiMisses | None = None) -> int | None:
    async def work(pool: asyncpg.Pool) -> int | None:
        remembered = WompiMisses() if misses is None else misses
        services = SimpleNamespace(wompi=wompi, webhook_pool=pool, wompi_misses=remembered)
        return await _adopt_from_wompi(cast(Services, services), wompi_id)

    return await _run(database, work)


async def test_an_unknown_wompi_id_is_adopted_only_by_the_attempt_wompi_names_that_has_none(
    conn: asyncpg.Connection, database: Any
) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('O-2', 'b', $1) RETURNING id", AMOUNT)
    txn_id = await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency)"
        " VALUES ($1, 'wompi', 'R-2', 'CARD', $2, 'COP') RETURNING id", order_id, AMOUNT)
    wompi = WompiReads(W7="R-2", W8="R-2", W9="R-unknown", W10="R-\x00")
    misses = WompiMisses()
    assert await _adopt(database, wompi, "W7", misses) == txn_id
    assert await conn.fetchval("SELECT gateway_transaction_id FROM order_transactions WHERE id = $1", txn_id) == "W7"
    assert await _adopt(database, wompi, "W8", misses) is None  # the attempt has its id now: never a second one
    assert await _adopt(database, wompi, "W9", misses) is None  # Wompi names no attempt of ours
    assert await _adopt(database, wompi, "W10", misses) is None  # a reference nothing of ours can hold
    assert await _adopt(database, wompi, "W404", misses) is None  # Wompi does not know the id
    assert await _adopt(database, wompi, "W\x00", misses) is None  # not even asked: no Wompi id holds a NUL
    assert wompi.asked == ["W7", "W8", "W9", "W10", "W404"]
    # Each miss is remembered for a while: asked again (a replayed event), Wompi is not called again.
    for again in ("W8", "W9", "W10", "W404"):
        assert await _adopt(database, wompi, again, misses) is None
    assert wompi.asked == ["W7", "W8", "W9", "W10", "W404"]
    assert len(misses) == 4


class OneDeadConnection:
    """The pool the webhook path gets, whose first connection died with the server: the first use fails as
    asyncpg fails on a terminated backend, every later one works; counts the pool's retirements."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.dead = True
        self.expired = 0

    def _fail_once(self) -> None:
        if self.dead:
            self.dead = False
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        self._fail_once()
        async with self.pool.acquire() as conn:
            yield conn

    async def fetchval(self, *args: Any) -> Any:
        self._fail_once()
        return await self.pool.fetchval(*args)

    async def expire_connections(self) -> None:
        self.expired += 1
        await self.pool.expire_connections()


async def test_every_webhook_write_survives_one_dead_pooled_connection(conn: asyncpg.Connection,
                                                                       database: Any) -> None:
    order_id, _ = await _attempt(conn)
    earlier = await conn.fetchval(  # an earlier attempt whose Wompi id the core never learned
        "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency, status)"
        " VALUES ($1, 'wompi', 'R-3', 'CARD', $2, 'COP', 'declined') RETURNING id", order_id, AMOUNT)

    async def work(pool: asyncpg.Pool) -> list[Any]:
        results: list[Any] = []
        for write in (lambda p: record_and_apply(p, _event("PENDING"), match=MATCH),
                      lambda p: record_and_apply_attempt(p, _event(), match=MATCH, gateway_id="W1"),
                      lambda p: record_unmatched(p, _event(wompi_id="W9"), "none of ours"),
                      lambda p: _adopt_from_wompi(cast(Services, SimpleNamespace(
                          wompi=WompiReads(W3="R-3"), webhook_pool=p, wompi_misses=WompiMisses())), "W3")):
            flaky = OneDeadConnection(pool)
            results.append((await write(flaky), flaky.expired))
        return results

    pending, approved, unmatched, adopted = await _run(database, work)
    assert pending == (Result(200, {"status": "recorded", "decision": "same", "transaction_status": "pending",
                                    "order_status": "pending"}), 1)
    assert approved[0].body["status"] == "applied" and approved[1] == 1
    assert unmatched == (Result(422, {"status": "rejected", "reason": "none of ours"}), 1)
    assert adopted == (earlier, 1)
