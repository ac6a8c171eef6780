"""``POST /payments/process`` refusals before any gateway call: the exact answer a client gets, and that
nothing was charged, no attempt written and the key left free for a corrected request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from core.api.checkout import _prepare_once
from core.api.schemas import ProcessPaymentIn
from core.errors import CoreError
from core.tests.apikit import Core, make_settings, running_core
from core.tests.test_api_one_live_attempt import PAYU, charges, efecty_body, pay
from core.tests.test_api_process import card_body, key

if TYPE_CHECKING:
    from conftest import Database


def refusal(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


async def assert_nothing_happened(core: Core, conn: asyncpg.Connection) -> None:
    assert charges(core.gateways) == 0
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 0
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_an_order_of_another_buyer_or_none_at_all_is_refused_by_name(
    database: Database, conn: asyncpg.Connection
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        theirs = await core.client.post("/payments/process", json=card_body(order),
                                        headers=core.auth("buyer-2", **key()))
        missing = await pay(core, {**card_body(order), "order_id": order["id"] + 1000}, 1)
        await assert_nothing_happened(core, conn)
    assert refusal(theirs) == (404, "order_not_found", f"order {order['id']} does not exist")
    assert refusal(missing) == (404, "order_not_found", f"order {order['id'] + 1000} does not exist")


@pytest.mark.parametrize("status", ["paid", "cancelled"])
async def test_an_order_that_is_not_payable_says_its_status(
    database: Database, conn: asyncpg.Connection, status: str
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        approved = "65000" if status == "paid" else "0"
        await conn.execute("UPDATE orders SET status = $1, approved_amount = $2", status, approved)
        r = await pay(core, card_body(order), 1)
        await assert_nothing_happened(core, conn)
    assert refusal(r) == (409, "order_not_payable", f"order {order['id']} is {status}")


async def test_a_failed_order_is_payable_again(database: Database) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        core.gateways.wompi_status = "DECLINED"
        declined = await pay(core, card_body(order), 1)
        core.gateways.wompi_status = "APPROVED"
        approved = await pay(core, card_body(order), 2)
    assert declined.json()["order_status"] == "failed"
    assert (approved.status_code, approved.json()["order_status"]) == (200, "paid")


async def test_the_amount_must_be_what_is_still_outstanding(database: Database, conn: asyncpg.Connection) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1", "65000")
        # Part of the order was paid already (a partial approval): 50,000.00 remains.
        await conn.execute("UPDATE orders SET approved_amount = 15000")
        whole = await pay(core, card_body(order, amount="65000.00"), 1)
        await assert_nothing_happened(core, conn)
        rest = await pay(core, card_body(order, amount="50000.00"), 2)
    assert refusal(whole) == (422, "amount_mismatch", "amount must equal the outstanding 50000.00")
    assert rest.status_code == 200, rest.text
    assert rest.json()["transaction"]["amount"] == "50000.00"


async def test_an_outstanding_rest_below_the_minimum_payment_is_refused(
    database: Database, conn: asyncpg.Connection
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1", "65000")
        await conn.execute("UPDATE orders SET approved_amount = 64500")
        r = await pay(core, card_body(order, amount="500.00"), 1)
        await assert_nothing_happened(core, conn)
    assert refusal(r) == (422, "amount_out_of_range", "amount must be between 1000.00 and 50000000.00 COP")


async def test_payu_takes_whole_pesos_only_and_wompi_takes_cents(
    database: Database, conn: asyncpg.Connection
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1", "20000.50")
        payu = await pay(core, card_body(order, **PAYU), 1)
        await assert_nothing_happened(core, conn)
        wompi = await pay(core, card_body(order), 2)
    assert refusal(payu) == (422, "amount_has_cents", "PayU Colombia takes whole pesos only")
    assert wompi.status_code == 200 and wompi.json()["transaction"]["amount"] == "20000.50"


async def test_an_order_kept_in_another_currency_is_refused(database: Database, conn: asyncpg.Connection) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        await conn.execute("UPDATE orders SET currency = 'USD'")
        r = await pay(core, card_body(order), 1)
        await assert_nothing_happened(core, conn)
    assert refusal(r) == (422, "currency_mismatch", "the order is in USD")


@pytest.mark.parametrize(("method", "gateway"), [("payu-card", "payu"), ("wompi-card", "wompi"), ("efecty", "efecty")])
async def test_an_open_breaker_refuses_its_gateways_payments_before_any_attempt_is_written(
    database: Database, conn: asyncpg.Connection, method: str, gateway: str
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1", "65000")
        bodies = {"payu-card": card_body(order, **PAYU), "wompi-card": card_body(order), "efecty": efecty_body(order)}
        breaker = getattr(core.app.state.services, gateway).breaker
        for _ in range(3):  # breaker_failures=3 in the test settings
            breaker.record_failure()
        refused = await pay(core, bodies[method], 1)
        await assert_nothing_happened(core, conn)
        # One gateway's breaker pauses that gateway only.
        others = [await pay(core, body, n) for n, (name, body) in enumerate(bodies.items(), start=2) if name != method]
    assert refusal(refused) == (503, "gateway_circuit_open",
                                f"{gateway} is failing; payments through it are paused, retry later")
    assert [r.status_code for r in others] == [200, 409]  # paid by the first, so the second is not payable


async def test_an_order_gone_after_the_ownership_check_is_404(database: Database) -> None:
    # The order row can vanish between the ownership read and the locked read (an admin purge, say).
    async with running_core(make_settings(database.url)) as core:
        body = ProcessPaymentIn.model_validate({**card_body({"id": 987654, "outstanding_amount": "1000.00"})})
        with pytest.raises(CoreError) as caught:
            await _prepare_once(core.app.state.services, body, key_id=1)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        404, "order_not_found", "order 987654 does not exist")
