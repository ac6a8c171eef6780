"""End to end through the live stack: buyer → core API → gateway simulator → signed webhook or file → paid order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from suites.conftest import Live
from suites.support.api import Actor, advance_clock, journal
from suites.support.target import WOMPI_SETTLE_SECONDS

BOGOTA = ZoneInfo("America/Bogota")


async def _settle(buyer: Actor, order_id: int, *, until: str, tries: int = 300) -> dict:
    """Poll the order until it reaches ``until`` (the webhook is asynchronous): up to 30 s on a busy machine."""
    for _ in range(tries):
        order = await buyer.order(order_id)
        if order["status"] == until:
            return order
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} is {order['status']}, expected {until}")


async def _linked_events(db: asyncpg.Connection, order_id: int) -> list[asyncpg.Record]:
    return await db.fetch("SELECT e.outcome, e.transaction_id FROM webhook_events e JOIN order_transactions t"
                          " ON t.id = e.transaction_id WHERE t.order_id = $1", order_id)


@pytest.mark.scenario("FLOW-CARD")
async def test_a_wompi_card_payment_ends_in_a_paid_order_through_the_signed_event(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order("65000.00")
    paid = await buyer.pay(core, order["id"], "65000.00", "wompi")
    assert paid.status_code in (200, 201), paid.text
    assert paid.json()["transaction"]["status"] == "pending"
    await advance_clock(live, "wompi", WOMPI_SETTLE_SECONDS)  # past the simulator's PENDING → final delay
    settled = await _settle(buyer, order["id"], until="paid")
    assert settled["approved_amount"] == "65000.00"
    events = await _linked_events(core_db, order["id"])
    assert [e["outcome"] for e in events] == ["applied"]
    charges = [e for e in await journal(live, "wompi") if e.get("summary")]
    assert len(charges) == 1


@pytest.mark.scenario("FLOW-CARD", "PAYU-SANDBOX-CONNECTIVITY")
async def test_a_payu_card_approved_at_once_is_paid_once_even_after_the_confirmation_arrives(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order("65000.00")
    paid = await buyer.pay(core, order["id"], "65000.00", "payu", card_holder="APPROVED")
    assert paid.status_code in (200, 201), paid.text
    assert paid.json()["order_status"] == "paid"
    # PayU also POSTs the confirmation to the core's notifyUrl: recorded, not applied a second time.
    for _ in range(300):  # up to 30 s: the confirmation is asynchronous, and the machine may be busy
        if await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1:
            break
        await asyncio.sleep(0.1)
    assert [e["outcome"] for e in await _linked_events(core_db, order["id"])] == ["recorded"]
    final = await buyer.order(order["id"])
    assert (final["status"], final["approved_amount"]) == ("paid", "65000.00")


@pytest.mark.scenario("FLOW-NEQUI")
@pytest.mark.parametrize(("phone", "status"), [("3991111111", "paid"), ("3992222222", "failed")])
async def test_a_nequi_payment_ends_as_the_sandbox_decides(
    live: Live, core: httpx.AsyncClient, phone: str, status: str
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order("20000.00")
    paid = await buyer.pay(core, order["id"], "20000.00", "wompi.nequi", nequi_phone=phone)
    assert paid.status_code in (200, 201), paid.text
    await advance_clock(live, "wompi", WOMPI_SETTLE_SECONDS)
    await _settle(buyer, order["id"], until=status)


@pytest.mark.scenario("FLOW-PSE")
async def test_a_pse_payment_gives_a_bank_redirect_and_ends_paid(live: Live, core: httpx.AsyncClient) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order("150000.00")
    paid = await buyer.pay(core, order["id"], "150000.00", "wompi.pse", pse_bank="1")
    assert paid.json()["redirect_url"], paid.text  # the payer finishes at the bank
    assert paid.status_code in (200, 201), paid.text
    await advance_clock(live, "wompi", WOMPI_SETTLE_SECONDS)
    await _settle(buyer, order["id"], until="paid")


async def _efecty_voucher(live: Live, core: httpx.AsyncClient, buyer: Actor, amount: str) -> tuple[dict, dict]:
    order = await buyer.create_order(amount)
    response = await buyer.pay(core, order["id"], amount, "efecty")
    assert response.status_code in (200, 201), response.text
    voucher = response.json()["efecty"]
    assert voucher["payment_code"].split("-")[1] == str(order["id"])
    return order, voucher


async def _cashier(live: Live, code: str, amount: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.urls["efecty"], timeout=10) as client:
        return await client.post("/api/v1/cashier/payments", json={"payment_code": code, "amount": amount,
                                                                   "point_id": "PT-0001"},
                                 headers={"x-point-key": live.creds["efecty"]["point_key"]})


async def _reconcile(core: httpx.AsyncClient, admin: Actor, day: str) -> dict:
    response = await core.post("/admin/reconcile", params={"date": day}, headers=admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.scenario("FLOW-EFECTY", "EFECTY-RECONCILIATION")
async def test_efecty_cash_paid_at_a_point_is_confirmed_by_reconciliation_once(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer, admin = Actor.buyer(live), Actor.admin(live)
    order, voucher = await _efecty_voucher(live, core, buyer, "80000.00")
    wrong = await _cashier(live, voucher["payment_code"], "79000.00")
    assert wrong.status_code == 422  # the point refuses a different amount
    assert (await _cashier(live, voucher["payment_code"], "80000.00")).status_code == 201
    today = datetime.now(UTC).astimezone(BOGOTA).date().isoformat()
    first = await _reconcile(core, admin, today)
    assert first["matched"] == 1
    assert (await buyer.order(order["id"]))["status"] == "paid"
    rows_before = await core_db.fetchval("SELECT count(*) FROM payment_anomalies")
    second = await _reconcile(core, admin, today)
    assert second["matched"] == 0 and second["already_confirmed"] == 1
    assert await core_db.fetchval("SELECT count(*) FROM payment_anomalies") == rows_before
    assert (await buyer.order(order["id"]))["approved_amount"] == "80000.00"


@pytest.mark.scenario("FLOW-EFECTY")
async def test_an_unpaid_efecty_code_past_its_expiry_is_closed_and_a_late_payment_flagged(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer, admin = Actor.buyer(live), Actor.admin(live)
    order, voucher = await _efecty_voucher(live, core, buyer, "30000.00")
    code = voucher["payment_code"]
    ttl = datetime.fromisoformat(voucher["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=71) < ttl <= timedelta(hours=72)  # PAYHARNESS_EFECTY__VOUCHER_TTL_HOURS
    # Time passes: the voucher's expiry is behind us for the core, and the network has expired it.
    await core_db.execute("UPDATE efecty_payments SET expires_at = now() - interval '2 days' WHERE payment_code = $1",
                          code)
    async with httpx.AsyncClient(base_url=live.urls["efecty"], timeout=10) as client:
        (await client.post(f"/__admin/vouchers/{code}/expire")).raise_for_status()
        assert (await _cashier(live, code, "30000.00")).status_code == 410  # the point refuses it
        # A line for the expired code shows up in the file anyway (a point that should not have taken it).
        (await client.post("/__admin/reconciliation/inject",
                           json={"payment_code": code, "amount": "30000.00"})).raise_for_status()
    today = datetime.now(UTC).astimezone(BOGOTA).date().isoformat()
    summary = await _reconcile(core, admin, today)
    assert summary["expired"] == 1
    assert await core_db.fetchval("SELECT status FROM efecty_payments WHERE payment_code = $1", code) == "expired"
    kinds = {r["kind"] for r in await core_db.fetch("SELECT kind FROM payment_anomalies")}
    assert "paid_after_expiry" in kinds
    assert (await buyer.order(order["id"]))["status"] != "paid"
    assert Decimal((await buyer.order(order["id"]))["approved_amount"]) == 0


@pytest.mark.scenario("FLOW-EFECTY", "EFECTY-ADMIN-CONFIRMATION", "EFECTY-RECONCILIATION")
async def test_an_admin_confirmed_efecty_code_paid_twice_in_the_file_is_a_double_payment(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # The admin confirms the payer's cash payment by hand; the file then shows it and a second payment of the
    # same code. The second is a double payment, as it would be without the admin (attack a12).
    buyer, admin = Actor.buyer(live), Actor.admin(live)
    order, voucher = await _efecty_voucher(live, core, buyer, "65000.00")
    code = voucher["payment_code"]
    confirmed = await core.post(f"/admin/efecty/{code}/confirm", headers=admin.headers)
    assert confirmed.status_code == 200 and confirmed.json()["order_status"] == "paid", confirmed.text
    assert (await _cashier(live, code, "65000.00")).status_code == 201
    async with httpx.AsyncClient(base_url=live.urls["efecty"], timeout=10) as client:
        (await client.post("/__admin/reconciliation/inject",
                           json={"payment_code": code, "amount": "65000.00"})).raise_for_status()
    today = datetime.now(UTC).astimezone(BOGOTA).date().isoformat()
    first = await _reconcile(core, admin, today)
    assert (first["already_confirmed"], first["duplicates"], first["anomalies_recorded"]) == (1, 1, 1)
    second = await _reconcile(core, admin, today)
    assert (second["already_confirmed"], second["duplicates"], second["anomalies_recorded"]) == (1, 1, 0)
    kinds = [r["kind"] for r in await core_db.fetch("SELECT kind FROM payment_anomalies WHERE order_id = $1",
                                                    order["id"])]
    assert kinds == ["double_payment"]
    assert (await buyer.order(order["id"]))["approved_amount"] == "65000.00"
