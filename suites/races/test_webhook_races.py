"""Concurrent webhooks against the live core (2 uvicorn workers): the row lock and the dedupe under attack.

Each test names the guard it attacks: the write guarded by `SELECT … FOR UPDATE` of the order and the
transaction, and `INSERT … ON CONFLICT DO NOTHING` on the event identity (core/webhooks/store.py), and the
state machine's refusal to regress (core/payments/statemachine.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from suites.conftest import Live, seed_transaction
from suites.support.events import wompi_event

pytestmark = pytest.mark.scenario("WH-RACE")
AMOUNT = Decimal("50000.00")


async def _fire(core: httpx.AsyncClient, requests: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    async def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await core.post("/webhooks/wompi", content=body, headers=headers)

    return list(await asyncio.gather(*(post(b, h) for b, h in requests)))


@pytest.fixture
async def racing_core(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    # Enough connections that all 50 requests are in flight at once.
    async with httpx.AsyncClient(base_url=live.urls["core"], timeout=30,
                                 limits=httpx.Limits(max_connections=64)) as client:
        yield client


@pytest.mark.scenario("DB-CONCURRENT-INSERTS")
async def test_duplicate_webhooks_create_one_event_and_one_state_change_when_fifty_race(
    live: Live, racing_core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-2-00001")
    event = wompi_event(tx_id="118437-2-00001", status="APPROVED", amount_in_cents=5_000_000,
                        reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"])
    responses = await _fire(racing_core, [event] * 50)
    assert Counter(r.status_code for r in responses) == {200: 50}
    assert Counter(r.json()["status"] for r in responses) == {"applied": 1, "duplicate": 49}
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1
    order = await core_db.fetchrow("SELECT status, approved_amount, flagged_for_refund FROM orders")
    assert dict(order) == {"status": "paid", "approved_amount": AMOUNT, "flagged_for_refund": False}


async def test_conflicting_statuses_racing_end_in_one_final_state_without_regression(
    live: Live, racing_core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # Six orders at once, each with its PENDING, APPROVED and DECLINED racing: with one live attempt per order
    # this is the race a missing row lock loses (two final statuses both applied), and one order alone hit
    # the window only in some runs.
    secret, batch, tx_of, by_tx = live.creds["wompi"]["events_secret"], [], [], {}
    for n in range(6):
        tx_id = f"118437-2-1000{n}"
        seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id=tx_id)
        by_tx[tx_id] = seeded["order_id"]
        events = [wompi_event(tx_id=tx_id, status=status, amount_in_cents=5_000_000,
                              reference=str(seeded["reference"]), secret=secret)
                  for status in ("PENDING", "APPROVED", "DECLINED")]
        batch.extend(events * 5)
        tx_of.extend([tx_id] * 15)
    responses = await _fire(racing_core, batch)
    assert {r.status_code for r in responses} == {200}
    finals = dict(await core_db.fetch("SELECT gateway_transaction_id, status::text FROM order_transactions"))
    assert set(finals.values()) <= {"approved", "declined"}, finals
    applied = Counter(tx for tx, r in zip(tx_of, responses, strict=True) if r.json()["status"] == "applied")
    # Exactly one final status applied per transaction (PENDING on a pending transaction is "same").
    assert sorted(applied.values()) == [1] * 6, applied
    for tx_id, order_id in by_tx.items():
        order = await core_db.fetchrow("SELECT status, approved_amount FROM orders WHERE id = $1", order_id)
        expected = ("paid", AMOUNT) if finals[tx_id] == "approved" else ("failed", Decimal("0.00"))
        assert (order["status"], order["approved_amount"]) == expected, tx_id
    refused = await core_db.fetchval("SELECT count(*) FROM payment_anomalies WHERE kind = 'state_regression_refused'")
    assert refused == 6  # the other final status, once per transaction (its copies are duplicates)


async def test_a_settled_attempts_late_approval_racing_the_live_ones_counts_the_money_once(
    live: Live, racing_core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # This test raced two *pending* approved attempts of one order. An order can no longer hold two pending
    # attempts (migration 0004), so the second attempt is now the one that really coexists with a live one:
    # an earlier attempt the core had closed as ``error`` (gateway unreachable) that the gateway approves
    # after all. Several orders at once, so a missing row lock shows up on at least one of them.
    secret, batch, orders = live.creds["wompi"]["events_secret"], [], []
    for n in range(6):
        first = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id=f"118437-4-{n}a")
        await core_db.execute(
            "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
            " amount, currency, status) VALUES ($1, 'wompi', $2, $3, 'NEQUI', $4, 'COP', 'error')",
            first["order_id"], f"118437-4-{n}b", f"{first['reference']}-2", AMOUNT)
        orders.append(first["order_id"])
        for suffix in ("a", "b"):
            batch.append(wompi_event(tx_id=f"118437-4-{n}{suffix}", status="APPROVED", amount_in_cents=5_000_000,
                                     reference="unsigned-and-ignored", secret=secret))
    responses = await _fire(racing_core, batch * 4)
    assert {r.status_code for r in responses} == {200}
    assert await core_db.fetchval("SELECT count(*) FROM order_transactions WHERE status = 'approved'") == 6
    rows = await core_db.fetch("SELECT status, approved_amount, flagged_for_refund FROM orders ORDER BY id")
    # The settled attempt's approval is money taken and not counted: the order is flagged for a refund.
    assert [dict(r) for r in rows] == [{"status": "paid", "approved_amount": AMOUNT,
                                        "flagged_for_refund": True}] * 6
    # The settled attempt's approval is refused, once per order.
    assert await core_db.fetchval(
        "SELECT count(*) FROM payment_anomalies WHERE kind = 'state_regression_refused'") == 6
