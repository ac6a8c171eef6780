"""A live attempt whose outcome is unknown is ended from the gateway's own records, fail-closed.

The hole (outside tester, b01/b02): the gateway answers 503 to the create call without creating anything;
the core answers 502 ``payment_outcome_unknown`` and the attempt stayed pending with no gateway id for
ever — every later payment of the order got 409 ``payment_attempt_live``. Now a new payment (or an admin)
asks the gateway by the attempt's reference first (core/api/resolve.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx

from core.tests.apikit import Core, FakeGateways, make_settings, running_core
from core.tests.test_api_one_live_attempt import PAYU, efecty_body, nequi_body
from core.tests.test_api_process import card_body, key

if TYPE_CHECKING:
    from conftest import Database


async def pay(core: Core, body: dict[str, Any], n: int) -> httpx.Response:
    return await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key(n)))


def unknown(response: httpx.Response) -> str:
    assert (response.status_code, response.json()["error"]["code"]) == (502, "payment_outcome_unknown"), response.text
    return str(response.json()["error"]["transaction_reference"])


async def attempt(conn: asyncpg.Connection, reference: str) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT status, gateway_transaction_id, gateway_response FROM order_transactions WHERE reference = $1",
        reference,
    )


async def test_wompi_created_nothing_so_a_new_key_pays_and_the_gateway_charges_once(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(fail={"create"})  # a 5xx to the create call: Wompi made nothing
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        reference = unknown(await pay(core, card_body(order), 1))
        gateways.fail.clear()
        paid = await pay(core, card_body(order), 2)
    assert paid.status_code == 200, paid.text
    assert (paid.json()["transaction"]["status"], paid.json()["order_status"]) == ("approved", "paid")
    closed = await attempt(conn, reference)
    assert closed["status"] == "error" and closed["gateway_transaction_id"] is None
    assert '"not_at_gateway"' in closed["gateway_response"]  # why it was closed, kept on the attempt
    assert gateways.calls["find"] == 1 and len(gateways.created) == 1  # one charge at the gateway


async def test_payu_created_nothing_so_a_new_key_pays(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways(fail={"payu_submit"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1", "65000")
        reference = unknown(await pay(core, card_body(order, **PAYU), 1))
        gateways.fail.clear()
        paid = await pay(core, card_body(order, **PAYU), 2)
    assert paid.status_code == 200, paid.text
    assert paid.json()["order_status"] == "paid"
    assert (await attempt(conn, reference))["status"] == "error"
    assert len(gateways.created) == 1


async def test_wompi_has_the_charge_so_it_is_adopted_and_not_charged_again(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(fail_after_create={"create"})  # Wompi charged, then answered 503
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        reference = unknown(await pay(core, card_body(order), 1))
        gateways.fail_after_create.clear()
        second = await pay(core, card_body(order), 2)
        view = await core.client.get(f"/orders/{order['id']}", headers=core.auth("buyer-1"))
    assert (second.status_code, second.json()["error"]["code"]) == (409, "order_not_payable"), second.text
    adopted = await attempt(conn, reference)
    assert (adopted["status"], adopted["gateway_transaction_id"]) == ("approved", "wompi-1")
    assert view.json()["status"] == "paid" and view.json()["approved_amount"] == "65000.00"
    assert gateways.calls["create"] == 1


async def test_a_failing_lookup_keeps_the_attempt_live(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways(fail={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        reference = unknown(await pay(core, card_body(order), 1))
        gateways.fail = {"find"}  # Wompi cannot say: it may hold the charge
        second = await pay(core, card_body(order), 2)
    assert (second.status_code, second.json()["error"]["code"]) == (409, "payment_attempt_live")
    assert second.json()["error"]["live_attempt"]["reference"] == reference
    assert (await attempt(conn, reference))["status"] == "pending"
    assert gateways.calls["create"] == 1 and gateways.calls["find"] >= 1


async def test_a_young_pending_attempt_with_a_gateway_id_is_not_asked_about(database: Database) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        first = await pay(core, nequi_body(order), 1)
        second = await pay(core, card_body(order), 2)
    assert first.status_code == 200 and second.status_code == 409
    assert gateways.calls["find"] == 0  # its webhook settles it; the gateway is not asked on every 409


async def test_past_the_grace_period_a_pending_attempt_follows_the_gateway(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    settings = make_settings(database.url, live_attempt_grace_seconds=0)
    async with running_core(settings, gateways) as core:
        order = await core.create_order("buyer-1")
        first = await pay(core, nequi_body(order), 1)
        still = await pay(core, card_body(order), 2)  # Wompi: still pending → 409 as before
        reference = first.json()["transaction"]["reference"]
        gateways.created[reference]["status"] = "DECLINED"  # the buyer refused in the Nequi app; event lost
        gateways.wompi_status = "APPROVED"
        paid = await pay(core, card_body(order), 3)
    assert (still.status_code, still.json()["error"]["code"]) == (409, "payment_attempt_live")
    assert paid.status_code == 200 and paid.json()["order_status"] == "paid", paid.text
    assert (await attempt(conn, reference))["status"] == "declined"
    assert gateways.calls["create"] == 2


async def test_an_efecty_voucher_efecty_never_registered_is_closed(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(fail={"voucher"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        first = await pay(core, efecty_body(order), 1)
        gateways.fail.clear()
        card = await pay(core, card_body(order), 2)
    # Outcome unknown: the new payment asked Efecty, which has no such voucher.
    assert (first.status_code, first.json()["error"]["code"]) == (502, "payment_outcome_unknown"), first.text
    assert card.status_code == 200 and card.json()["order_status"] == "paid", card.text
    assert await conn.fetchval("SELECT status FROM efecty_payments") == "expired"
    assert await conn.fetchval("SELECT count(*) FROM order_transactions WHERE status = 'pending'") == 0


async def resolve(core: Core, reference: str, role: str = "admin") -> httpx.Response:
    return await core.client.post(f"/admin/attempts/{reference}/resolve", headers=core.auth("ops-1", role))


async def test_an_admin_ends_an_attempt_the_gateway_never_created(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(fail={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        reference = unknown(await pay(core, card_body(order), 1))
        gateways.fail.clear()
        refused = await resolve(core, reference, role="buyer")
        missing = await resolve(core, "ORD-NOPE-00000000")
        done = await resolve(core, reference)
        again = await resolve(core, reference)
        gateways.wompi_status = "APPROVED"
        paid = await pay(core, card_body(order), 2)
    assert refused.status_code == 403 and missing.status_code == 404
    assert done.status_code == 200, done.text
    assert done.json()["found"] == "not_at_gateway" and done.json()["transaction_status"] == "error"
    assert done.json()["order_status"] == "failed"
    assert again.json()["found"] == "not_live"  # idempotent: nothing changes the second time
    assert paid.status_code == 200 and paid.json()["order_status"] == "paid"
    assert '"admin:ops-1"' in (await attempt(conn, reference))["gateway_response"]
    assert len(gateways.created) == 1


async def test_an_admin_adopts_a_charge_the_gateway_holds(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways(fail_after_create={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        reference = unknown(await pay(core, card_body(order), 1))
        done = await resolve(core, reference)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["found"], body["transaction_status"], body["order_status"]) == ("adopted", "approved", "paid")
    assert body["gateway_transaction_id"] == "wompi-1" and gateways.calls["create"] == 1


async def test_an_admin_lookup_that_fails_leaves_the_attempt_live(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(fail={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        reference = unknown(await pay(core, card_body(order), 1))
        gateways.fail = {"find"}
        failed = await resolve(core, reference)
    assert (failed.status_code, failed.json()["error"]["code"]) == (502, "gateway_lookup_failed"), failed.text
    assert (await attempt(conn, reference))["status"] == "pending"


async def test_an_admin_does_not_close_an_attempt_whose_request_is_still_calling_the_gateway(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(create_gate=asyncio.Event())
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        first = asyncio.create_task(pay(core, card_body(order), 1))
        await gateways.wait_for("create")
        reference = await conn.fetchval("SELECT reference FROM order_transactions")
        early = await resolve(core, reference)
        assert gateways.create_gate is not None
        gateways.create_gate.set()
        answered = await first
    assert early.status_code == 200 and early.json()["found"] == "in_flight", early.text
    assert gateways.calls["find"] == 0
    assert answered.status_code == 200 and answered.json()["order_status"] == "paid"


async def test_payu_has_the_charge_so_it_is_adopted_and_not_charged_again(
    database: Database, conn: asyncpg.Connection
) -> None:
    # PayU charged, answered 503, and its own lookup failed during the request: the core could not know.
    gateways = FakeGateways(fail_after_create={"payu_submit"}, fail={"payu_query"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1", "65000")
        reference = unknown(await pay(core, card_body(order, **PAYU), 1))
        gateways.fail_after_create.clear()
        gateways.fail.clear()
        second = await pay(core, card_body(order, **PAYU), 2)
    assert (second.status_code, second.json()["error"]["code"]) == (409, "order_not_payable"), second.text
    adopted = await attempt(conn, reference)
    assert (adopted["status"], adopted["gateway_transaction_id"]) == ("approved", "payu-tx-1")
    assert gateways.calls["payu_submit"] == 1
