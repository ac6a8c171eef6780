"""Efecty: cash the core received but counts nowhere must flag the order for a refund, as webhooks do.

The webhook path flags an order whenever the gateway took money the core cannot count: an approval after
the core closed the attempt, a second approved charge (core/payments/ledger.py). Reconciliation sees the
same two cases in the Asobancaria file — a code paid twice, a code paid after its voucher expired — and
recorded only an anomaly: the order then reads as simply paid (or failed and payable again), with
``flagged_for_refund`` false, although the buyer's cash is with the merchant and owed back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from core.efecty_codes import BOGOTA
from suites.conftest import Live
from suites.support.api import Actor

AMOUNT = "65000.00"


async def _voucher(core: httpx.AsyncClient, buyer: Actor) -> tuple[int, str]:
    order = await buyer.create_order(AMOUNT)
    response = await buyer.pay(core, order["id"], AMOUNT, "efecty")
    assert response.status_code == 200, response.text
    return int(order["id"]), str(response.json()["efecty"]["payment_code"])


async def _file_line(live: Live, code: str) -> None:
    """A line for ``code`` in today's file (a point took the cash, whatever the voucher's state)."""
    async with httpx.AsyncClient(base_url=live.urls["efecty"], timeout=10) as efecty:
        (await efecty.post("/__admin/reconciliation/inject",
                           json={"payment_code": code, "amount": AMOUNT})).raise_for_status()


async def _reconcile(core: httpx.AsyncClient, admin: Actor) -> dict[str, int]:
    today = datetime.now(UTC).astimezone(BOGOTA).date().isoformat()
    response = await core.post("/admin/reconcile", params={"date": today}, headers=admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.scenario("ATTACK-EFECTY-UNCOUNTED-CASH")
async def test_a_code_paid_twice_in_the_file_flags_the_order_for_a_refund(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer, admin = Actor.buyer(live), Actor.admin(live)
    order_id, code = await _voucher(core, buyer)
    await _file_line(live, code)
    await _file_line(live, code)  # the same code paid a second time
    summary = await _reconcile(core, admin)
    assert (summary["matched"], summary["duplicates"]) == (1, 1)
    order = await core_db.fetchrow("SELECT status, approved_amount, flagged_for_refund FROM orders WHERE id = $1",
                                   order_id)
    assert (order["status"], str(order["approved_amount"])) == ("paid", AMOUNT)
    assert order["flagged_for_refund"] is True
    again = await _reconcile(core, admin)  # a second run changes nothing
    assert again["anomalies_recorded"] == 0


@pytest.mark.scenario("ATTACK-EFECTY-UNCOUNTED-CASH")
async def test_a_code_paid_after_its_voucher_expired_flags_the_order_for_a_refund(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer, admin = Actor.buyer(live), Actor.admin(live)
    order_id, code = await _voucher(core, buyer)
    await core_db.execute("UPDATE efecty_payments SET expires_at = now() - interval '2 days' WHERE payment_code = $1",
                          code)
    async with httpx.AsyncClient(base_url=live.urls["efecty"], timeout=10) as efecty:
        (await efecty.post(f"/__admin/vouchers/{code}/expire")).raise_for_status()
    await _file_line(live, code)
    summary = await _reconcile(core, admin)
    assert summary["expired"] == 1
    order = await core_db.fetchrow("SELECT status, approved_amount, flagged_for_refund FROM orders WHERE id = $1",
                                   order_id)
    assert order["status"] != "paid" and order["approved_amount"] == 0
    assert order["flagged_for_refund"] is True


@pytest.mark.scenario("ATTACK-EFECTY-UNCOUNTED-CASH")
async def test_a_code_paid_with_another_amount_flags_the_order_for_a_refund(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # The file is the evidence of cash received: a line with another amount than the voucher's confirms nothing,
    # and that cash is with the merchant all the same (a point that took the wrong sum).
    buyer, admin = Actor.buyer(live), Actor.admin(live)
    order_id, code = await _voucher(core, buyer)
    async with httpx.AsyncClient(base_url=live.urls["efecty"], timeout=10) as efecty:
        (await efecty.post("/__admin/reconciliation/inject",
                           json={"payment_code": code, "amount": "64000.00"})).raise_for_status()
    summary = await _reconcile(core, admin)
    assert summary["mismatched"] == 1
    order = await core_db.fetchrow("SELECT status, approved_amount, flagged_for_refund FROM orders WHERE id = $1",
                                   order_id)
    assert order["status"] == "pending" and order["approved_amount"] == 0
    assert order["flagged_for_refund"] is True
