"""Webhook ordering and identity: conflicting statuses, a re-signed resend, two events for one gateway id."""

import asyncio
import time

import pytest

from examples.seed_shop.tests.events import post_all_at_once, wompi_event
from examples.seed_shop.tests.test_weaknesses import pay_wompi

BOTH = pytest.mark.parametrize("hardened", [False, True], ids=["weak", "hardened"])
JSON = {"content-type": "application/json"}


@pytest.fixture
def pending(start_shop, wompi_sim, request):
    """A shop (weak or hardened, from the test's parameter) with one order paid by card and still PENDING."""
    shop = start_shop(hardened=request.node.callspec.params["hardened"])
    wompi_sim.deliveries.target(None)  # the events come from the test alone
    order_id = shop.create_order("65000.00")
    paid = pay_wompi(shop, wompi_sim, order_id)

    def event(status, **kwargs):
        return wompi_event(tx_id=paid["transaction_id"], reference=paid["reference"], status=status,
                           amount_in_cents=kwargs.pop("cents", 6_500_000), secret=wompi_sim.config.events_secret,
                           **kwargs)

    return shop, order_id, event


@BOTH
def test_a_decline_after_an_approval_unpays_only_the_weak_shops_order(pending, hardened):
    """S1, S19: the weak shop's last writer wins, so a late DECLINED turns a PAID order FAILED while its
    APPROVED transaction stays: order and transactions disagree."""
    shop, order_id, event = pending
    now = int(time.time())
    for status, timestamp in (("APPROVED", now), ("DECLINED", now + 1)):
        assert shop.post("/webhooks/wompi", content=event(status, timestamp=timestamp), headers=JSON).is_success

    [order] = shop.rows("SELECT status FROM orders WHERE id = $1", order_id)
    statuses = sorted(r["status"] for r in shop.rows(
        "SELECT status FROM order_transactions WHERE order_id = $1", order_id))
    if hardened:
        assert (order["status"], statuses) == ("PAID", ["APPROVED"])
    else:
        assert (order["status"], statuses) == ("FAILED", ["APPROVED", "DECLINED"])


@BOTH
async def test_approved_and_declined_at_once_leave_order_and_transactions_in_agreement_only_when_hardened(
        pending, hardened):
    """S1, S2: both events race; the hardened shop's row lock lets the first one decide."""
    shop, order_id, event = pending
    approved, declined = event("APPROVED"), event("DECLINED", timestamp=int(time.time()) + 1)

    await asyncio.gather(post_all_at_once(shop.url + "/webhooks/wompi", approved, copies=5),
                         post_all_at_once(shop.url + "/webhooks/wompi", declined, copies=5))

    [order] = await shop.query("SELECT status FROM orders WHERE id = $1", order_id)
    statuses = {r["status"] for r in await shop.query(
        "SELECT status FROM order_transactions WHERE order_id = $1", order_id)}
    agree = {"PAID": {"APPROVED"}, "FAILED": {"DECLINED"}}[order["status"]] == statuses
    assert agree is hardened, (order["status"], statuses)


@BOTH
def test_the_same_approval_resigned_later_is_applied_twice_only_by_the_weak_shop(pending, hardened):
    """S7: the weak shop takes the checksum as the event id, so a resend with a fresh signature is new to it."""
    shop, order_id, event = pending
    now = int(time.time())
    shop.post("/webhooks/wompi", content=event("APPROVED", timestamp=now), headers=JSON)
    shop.post("/webhooks/wompi", content=event("APPROVED", timestamp=now), headers=JSON)  # an exact copy
    shop.post("/webhooks/wompi", content=event("APPROVED", timestamp=now + 60), headers=JSON)  # re-signed

    [order] = shop.rows("SELECT amount_paid::text AS paid FROM orders WHERE id = $1", order_id)
    [rows] = shop.rows("SELECT count(*) AS n FROM order_transactions WHERE order_id = $1", order_id)
    if hardened:
        assert (rows["n"], order["paid"]) == (1, "65000.00")
    else:
        assert (rows["n"], order["paid"]) == (2, "130000")  # paid twice over


@pytest.mark.parametrize("hardened", [False, True], ids=["weak", "hardened"])
def test_a_payu_card_payment_and_its_confirmation_make_one_transaction_only_when_hardened(
        start_shop, payu_sim, hardened):
    """S4 in the normal PayU flow: the weak shop inserts a row at payment and another on the confirmation."""
    shop = start_shop(hardened=hardened)
    order_id = shop.create_order("65000.00")
    card = {"number": "4097440000000004", "cvc": "777", "expiration_date": "2030/05", "name": "APPROVED"}

    paid = shop.post(f"/api/orders/{order_id}/pay", json={"gateway": "payu", "card": card})
    assert paid.status_code == 200, paid.text
    [confirmation] = payu_sim.deliveries.wait(url=shop.url + "/webhooks/payu", outcome="delivered")

    assert confirmation["status"] == 200
    rows = shop.rows("SELECT gateway_transaction_id AS id, status FROM order_transactions WHERE order_id = $1",
                     order_id)
    assert {r["id"] for r in rows} == {paid.json()["transaction_id"]}
    assert [r["status"] for r in rows] == ["APPROVED"] * (1 if hardened else 2)

