"""Concurrent webhooks against the live core (2 uvicorn workers): the row lock and the dedupe under attack.

Each test names the guard it attacks: the write guarded by `SELECT … FOR UPDATE` of the order and the
transaction, and `INSERT … ON CONFLICT DO NOTHING` on the event identity (core/webhooks/store.py), and the
state machine's refusal to regress (core/payments/statemachine.py).

The first two reach the core only through its profile (``target``): payments started through
``[api.pay.wompi]``, signed events posted to its webhook path, and the outcome read through its observe
queries. What a profile cannot say stays on ``CoreOnly``, each named where it is used: the core's own answer
words (``applied`` / ``duplicate``), its refund flag and its anomaly log. The third needs an attempt the core
closed as ``error`` beside a live one, which no request can leave behind: it is seeded by SQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live, seed_transaction
from suites.portable.payments import Payment, event, pending_payment
from suites.support.api import Actor
from suites.support.core_target import CoreOnly
from suites.support.events import wompi_event

pytestmark = pytest.mark.scenario("WH-RACE")
AMOUNT = Decimal("50000.00")


async def _fire(target: Target, requests: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    # A Target of its own: a client with no connection kept from the setup's requests opens one per request
    # (64 at most), so the burst lands on both workers at once. Fired on the setup's client, whose kept-alive
    # connections queue the first requests behind each other, the missing row lock went unseen (tried).
    async with Target(target.run) as fresh:
        return list(await asyncio.gather(*(fresh.post_webhook("wompi", b, h) for b, h in requests)))


async def _anomalies(core_only: CoreOnly, kind: str) -> int:
    async with core_only.schema() as db:  # the core's anomaly log: no profile observes it
        return int(await db.fetchval("SELECT count(*) FROM payment_anomalies WHERE kind = $1", kind))


async def _flagged(core_only: CoreOnly, payment: Payment) -> bool:
    async with core_only.schema() as db:  # the core's refund flag: no profile observes it
        return bool(await db.fetchval("SELECT flagged_for_refund FROM orders WHERE id = $1", int(payment.order_id)))


@pytest.mark.scenario("DB-CONCURRENT-INSERTS")
async def test_duplicate_webhooks_create_one_event_and_one_state_change_when_fifty_race(
    live: Live, target: Target, core_only: CoreOnly
) -> None:
    payment = await pending_payment(target, "wompi", AMOUNT, user=Actor.buyer(live).headers)
    responses = await _fire(target, [event(target, payment, status="APPROVED")] * 50)
    assert Counter(r.status_code for r in responses) == {200: 50}
    assert Counter(r.json()["status"] for r in responses) == {"applied": 1, "duplicate": 49}  # the core's words
    assert await target.webhook_events(payment.gateway_id) == 1
    rows = await target.transactions(payment.order_id)
    assert [(r["gateway_id"], r["status"], r["amount"]) for r in rows] == [(payment.gateway_id, "approved", AMOUNT)]
    assert (await target.order_state(payment.order_id), await target.amount_paid(payment.order_id)) == (
        "paid", AMOUNT)
    assert await _flagged(core_only, payment) is False


async def test_conflicting_statuses_racing_end_in_one_final_state_without_regression(
    live: Live, target: Target, core_only: CoreOnly
) -> None:
    # Six orders at once, each with its PENDING, APPROVED and DECLINED racing: with one live attempt per order
    # this is the race a missing row lock loses (two final statuses both applied), and one order alone hit
    # the window only in some runs.
    buyer = Actor.buyer(live)
    payments = [await pending_payment(target, "wompi", AMOUNT, user=buyer.headers) for _ in range(6)]
    batch, of = [], []
    for payment in payments:
        batch += [event(target, payment, status=s) for s in ("PENDING", "APPROVED", "DECLINED")] * 5
        of += [payment] * 15
    responses = await _fire(target, batch)
    assert {r.status_code for r in responses} == {200}
    # Exactly one final status applied per transaction (PENDING on a pending transaction is "same"): the
    # core's answer words.
    applied = Counter(p.gateway_id for p, r in zip(of, responses, strict=True) if r.json()["status"] == "applied")
    assert sorted(applied.values()) == [1] * 6, applied
    for payment in payments:
        [row] = await target.transactions(payment.order_id)
        assert row["status"] in ("approved", "declined"), row
        expected = ("paid", AMOUNT) if row["status"] == "approved" else ("failed", Decimal("0"))
        observed = (await target.order_state(payment.order_id), await target.amount_paid(payment.order_id))
        assert observed == expected, payment
    # The other final status, refused once per transaction (its copies are duplicates).
    assert await _anomalies(core_only, "state_regression_refused") == 6


@pytest.fixture
async def racing_core(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    # Enough connections that every request is in flight at once.
    async with httpx.AsyncClient(base_url=live.urls["core"], timeout=30,
                                 limits=httpx.Limits(max_connections=64)) as client:
        yield client


async def test_a_settled_attempts_late_approval_racing_the_live_ones_counts_the_money_once(
    live: Live, racing_core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # Core-only: seeded by SQL. An order can hold only one live attempt (migration 0004), so the second
    # attempt that really coexists with a live one is an earlier attempt the core closed as ``error``
    # (gateway unreachable) that the gateway approves after all — a state no request to the core leaves
    # behind on demand. Several orders at once, so a missing row lock shows up on at least one of them.
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
    responses = await asyncio.gather(*(racing_core.post("/webhooks/wompi", content=b, headers=h)
                                       for b, h in batch * 4))
    assert {r.status_code for r in responses} == {200}
    assert await core_db.fetchval("SELECT count(*) FROM order_transactions WHERE status = 'approved'") == 6
    rows = await core_db.fetch("SELECT status, approved_amount, flagged_for_refund FROM orders ORDER BY id")
    # The settled attempt's approval is money taken and not counted: the order is flagged for a refund.
    assert [dict(r) for r in rows] == [{"status": "paid", "approved_amount": AMOUNT,
                                        "flagged_for_refund": True}] * 6
    # The settled attempt's approval is refused, once per order.
    assert await core_db.fetchval(
        "SELECT count(*) FROM payment_anomalies WHERE kind = 'state_regression_refused'") == 6
