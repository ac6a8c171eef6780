"""An attempt whose outcome is unknown does not block its order for ever: the core asks the gateway.

Outside tester, b01/b02: the gateway answers 503 to the create call without creating anything; the core
answers 502 ``payment_outcome_unknown`` (right: it cannot know) and the attempt stayed pending with no
gateway id — no event ever comes for a charge that does not exist, so every later payment of the order got
409 ``payment_attempt_live``. Now a new payment first asks the gateway by the attempt's reference
(core/api/resolve.py): nothing there → the attempt ends as ``error`` and the new payment goes ahead; the
gateway has it → its status is adopted, and nothing is charged again; the lookup fails → 409 as before.

Checked on the simulators' journals: one charge per order, whatever the core says.
"""

from __future__ import annotations

import asyncpg
import pytest

from suites.conftest import Live
from suites.initiation.test_one_live_attempt import AMOUNT, charges_for, fields
from suites.support.api import Actor
from suites.support.faults import (
    PAYU_PAYMENTS,
    SUBMIT,
    WOMPI_TRANSACTIONS,
    hold_webhooks,
    pinned_core,
    put_faults,
    rule,
    wompi_by_reference,
)
from suites.support.http import client
from suites.support.target import RESILIENCE

SERVICE_UNAVAILABLE = {"type": "http_error", "status": 503}
# The core retries a Wompi create (Wompi refuses a reused reference, so a retry cannot charge twice): the
# fault must outlast every attempt of one request — and no more, or it would hit the next payment too.
WOMPI_CREATE_DOWN = rule(SERVICE_UNAVAILABLE, path=WOMPI_TRANSACTIONS, method="POST", count=RESILIENCE.attempts)


async def attempt_of(core_db: asyncpg.Connection, reference: str) -> asyncpg.Record:
    return await core_db.fetchrow(
        "SELECT status::text, gateway_transaction_id FROM order_transactions WHERE reference = $1", reference)


@pytest.mark.scenario("INIT-OUTCOME-UNKNOWN", "WOMPI-GATEWAY-FAULTS")
@pytest.mark.parametrize("gateway", ["wompi", "payu"])
async def test_a_charge_the_gateway_refused_with_503_no_longer_blocks_the_order(
    live: Live, core_db: asyncpg.Connection, gateway: str
) -> None:
    if gateway == "wompi":
        await put_faults(live, "wompi", WOMPI_CREATE_DOWN)
    else:
        await put_faults(live, "payu", rule(SERVICE_UNAVAILABLE, path=PAYU_PAYMENTS, command=SUBMIT, count=1))
    method = "wompi-card" if gateway == "wompi" else "payu-card"
    async with pinned_core(live) as core:
        buyer = Actor.buyer(live)
        order = await buyer.create_order(AMOUNT)
        first = await buyer.pay(core, order["id"], AMOUNT, **fields(method))
        assert (first.status_code, first.json()["error"]["code"]) == (502, "payment_outcome_unknown"), first.text
        reference = first.json()["error"]["transaction_reference"]
        assert await charges_for(live, order) == []  # b01/b02 reproduced: nothing was created
        second = await buyer.pay(core, order["id"], AMOUNT, **fields(method))
        view = await buyer.order(order["id"])
        attempts = await charges_for(live, order)
    assert second.status_code == 200, second.text
    # A Wompi card starts pending in the sandbox; PayU approves at once.
    assert second.json()["transaction"]["status"] == ("approved" if gateway == "payu" else "pending")
    assert view["status"] == ("paid" if gateway == "payu" else "failed")  # failed: by the closed attempt
    assert (await attempt_of(core_db, reference))["status"] == "error"
    assert attempts == [(gateway, second.json()["transaction"]["reference"])]  # exactly one charge


@pytest.mark.scenario("INIT-OUTCOME-UNKNOWN", "WOMPI-GATEWAY-FAULTS")
async def test_a_charge_the_gateway_holds_is_adopted_and_not_charged_again(
    live: Live, core_db: asyncpg.Connection
) -> None:
    # Wompi takes the card charge and its answer arrives garbled; the core's retries meet 503s: it cannot know.
    # Its webhooks are held back, so only the lookup by reference can tell the core what happened.
    await hold_webhooks(live, "wompi")
    garbled = rule({"type": "malformed"}, path=WOMPI_TRANSACTIONS, method="POST", count=1)
    down = rule(SERVICE_UNAVAILABLE, path=WOMPI_TRANSACTIONS, method="POST", count=RESILIENCE.attempts - 1)
    await put_faults(live, "wompi", garbled, down)
    async with pinned_core(live) as core:
        buyer = Actor.buyer(live)
        order = await buyer.create_order(AMOUNT)
        first = await buyer.pay(core, order["id"], AMOUNT, **fields("wompi-card"))
        assert (first.status_code, first.json()["error"]["code"]) == (502, "payment_outcome_unknown"), first.text
        reference = first.json()["error"]["transaction_reference"]
        [held] = await wompi_by_reference(live, reference)
        async with client(base_url=live.urls["wompi"]) as http:
            done = await http.post(f"/__admin/wompi/transactions/{held['id']}/finalize", json={"status": "APPROVED"})
            assert done.status_code == 200, done.text
        paid = await buyer.pay(core, order["id"], AMOUNT, **fields("payu-card"))
        view = await buyer.order(order["id"])
        attempts = await charges_for(live, order)
    # Approved at Wompi: adopted, the order is paid, and the new request is refused without a charge.
    assert (paid.status_code, paid.json()["error"]["code"]) == (409, "order_not_payable"), paid.text
    adopted = await attempt_of(core_db, reference)
    assert (adopted["status"], adopted["gateway_transaction_id"]) == ("approved", held["id"])
    assert (view["status"], view["approved_amount"]) == ("paid", AMOUNT)
    assert attempts == [("wompi", reference)]


@pytest.mark.scenario("INIT-OUTCOME-UNKNOWN", "WOMPI-GATEWAY-FAULTS")
async def test_when_the_gateway_cannot_be_asked_the_attempt_stays_live(
    live: Live, core_db: asyncpg.Connection
) -> None:
    await put_faults(
        live,
        "wompi",
        WOMPI_CREATE_DOWN,
        rule(SERVICE_UNAVAILABLE, path=WOMPI_TRANSACTIONS, method="GET"),  # the lookup by reference fails
    )
    async with pinned_core(live) as core:
        buyer = Actor.buyer(live)
        order = await buyer.create_order(AMOUNT)
        first = await buyer.pay(core, order["id"], AMOUNT, **fields("wompi-card"))
        assert first.status_code == 502, first.text
        reference = first.json()["error"]["transaction_reference"]
        second = await buyer.pay(core, order["id"], AMOUNT, **fields("payu-card"))
        attempts = await charges_for(live, order)
    assert (second.status_code, second.json()["error"]["code"]) == (409, "payment_attempt_live"), second.text
    assert second.json()["error"]["live_attempt"]["reference"] == reference
    assert (await attempt_of(core_db, reference))["status"] == "pending"
    assert attempts == []
