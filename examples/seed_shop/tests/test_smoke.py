"""The shop works before it is attacked: a Wompi card payment is paid by Wompi's own signed event."""

import pytest

from examples.seed_shop.tests.conftest import card_token


@pytest.mark.parametrize("hardened", [False, True], ids=["weak", "hardened"])
def test_a_wompi_card_payment_is_paid_when_wompis_event_arrives(start_shop, wompi_sim, hardened):
    shop = start_shop(hardened=hardened)
    order_id = shop.create_order("65000.00")

    paid = shop.post(f"/api/orders/{order_id}/pay", json={"gateway": "wompi", "card_token": card_token(wompi_sim)})
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "PENDING"

    wompi_sim.clock.advance(5)
    wompi_sim.deliveries.wait(url=shop.url + "/webhooks/wompi", outcome="delivered")

    [order] = shop.rows("SELECT status, amount_paid::text AS paid FROM orders WHERE id = $1", order_id)
    assert (order["status"], order["paid"]) == ("PAID", "65000" if not hardened else "65000.00")
    [txn] = shop.rows("SELECT gateway_transaction_id, status FROM order_transactions WHERE order_id = $1", order_id)
    assert (txn["gateway_transaction_id"], txn["status"]) == (paid.json()["transaction_id"], "APPROVED")
