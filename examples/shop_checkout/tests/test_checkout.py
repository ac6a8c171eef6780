"""The shop's checkout against simulated Wompi and PayU: only the payharness.simulators fixtures are used."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from examples.shop_checkout.shop import PayUAccount, ShopSettings, WompiAccount, create_app
from simulators.common import ChaosRule, HttpError, TamperSigned
from simulators.pytest_plugin import Simulator

APPROVED_CARD = {"number": "4242424242424242", "cvc": "123", "exp_month": "08", "exp_year": "30", "holder": "Ana Gómez"}
DECLINED_CARD = {**APPROVED_CARD, "number": "4111111111111111"}
# PayU's sandbox approves a VISA whose holder is APPROVED with CVV 777 and an expiry month below 6.
PAYU_APPROVED_CARD = {"number": "4097440000000004", "cvc": "777", "exp_month": "05", "exp_year": "30",
                      "holder": "APPROVED"}


def settings_for(wompi_sim: Simulator[Any], payu_sim: Simulator[Any]) -> ShopSettings:
    """The shop configured with the simulators' URLs and the keys they run with."""
    w, p = wompi_sim.config, payu_sim.credentials
    return ShopSettings(
        wompi=WompiAccount(wompi_sim.url, w.public_key, w.private_key, w.integrity_secret, w.events_secret),
        payu=PayUAccount(payu_sim.url, p["merchant_id"], p["account_id"], p["api_login"], p["api_key"]),
    )


def checkout(shop: str, reference: str, *, gateway: str = "wompi", card: dict[str, str] = APPROVED_CARD,
             amount: str = "65000.00") -> httpx.Response:
    body = {"reference": reference, "amount": amount, "gateway": gateway, "email": "ana@example.com", "card": card}
    return httpx.post(shop + "/checkout", json=body, timeout=30)


def order_status(shop: str, reference: str) -> str:
    return str(httpx.get(f"{shop}/orders/{reference}").json()["status"])


# simulators/README.md quotes the next block verbatim; a test there fails when the two differ.
@pytest.fixture
def shop(wompi_sim, payu_sim, serve_app) -> str:
    """The shop served on a free port, with both simulators' webhooks pointed at it."""
    url = serve_app(create_app(settings_for(wompi_sim, payu_sim)))
    wompi_sim.deliveries.target(url + "/webhooks/wompi")
    payu_sim.deliveries.target(url + "/webhooks/payu")
    return url


def test_a_wompi_card_payment_is_paid_once_its_signed_event_arrives(shop, wompi_sim):
    assert checkout(shop, "order-1").json()["status"] == "PENDING"

    wompi_sim.clock.advance(5)  # Wompi settles the sandbox transaction; its event goes out
    wompi_sim.deliveries.wait(url=shop + "/webhooks/wompi", outcome="delivered")

    assert order_status(shop, "order-1") == "PAID"
    wompi_sim.journal.assert_one("CREATE_TRANSACTION", reference="order-1")


def test_a_declined_wompi_card_leaves_the_order_declined(shop, wompi_sim):
    assert checkout(shop, "order-2", card=DECLINED_CARD).status_code == 201

    wompi_sim.clock.advance(5)
    [attempt] = wompi_sim.deliveries.wait(url=shop + "/webhooks/wompi", outcome="delivered")

    assert '"status":"DECLINED"' in attempt["request_body"].replace(" ", "")
    assert order_status(shop, "order-2") == "DECLINED"


def test_a_503_from_wompi_charges_nothing_and_the_customer_can_retry(shop, wompi_sim):
    wompi_sim.faults.inject(HttpError(503), path="/v1/transactions", method="POST", count=1)

    first = checkout(shop, "order-3")
    assert first.status_code == 503
    assert order_status(shop, "order-3") == "GATEWAY_ERROR"
    wompi_sim.journal.assert_count(0, "CREATE_TRANSACTION", reference="order-3")

    assert checkout(shop, "order-3").status_code == 201
    assert wompi_sim.faults.applied() == [1]
    wompi_sim.journal.assert_one("CREATE_TRANSACTION", reference="order-3")


def test_an_event_the_shop_failed_to_take_comes_back_on_wompis_retry_schedule(wompi_sim, payu_sim, serve_app):
    app = create_app(settings_for(wompi_sim, payu_sim))
    shop = serve_app(FailsOnce(app, "/webhooks/wompi"))
    wompi_sim.deliveries.target(shop + "/webhooks/wompi")
    checkout(shop, "order-4")

    wompi_sim.clock.advance(5)
    wompi_sim.deliveries.wait(url=shop + "/webhooks/wompi", outcome="retry_scheduled")
    assert order_status(shop, "order-4") == "PENDING"

    wompi_sim.clock.advance(30 * 60)  # Wompi retries 30 minutes after the first attempt
    [retry] = wompi_sim.deliveries.wait(url=shop + "/webhooks/wompi", outcome="delivered")

    assert retry["attempt"] == 2
    assert order_status(shop, "order-4") == "PAID"


def test_a_payu_card_payment_is_paid_and_its_signed_confirmation_accepted(shop, payu_sim):
    response = checkout(shop, "order-5", gateway="payu", card=PAYU_APPROVED_CARD)

    assert response.json()["status"] == "PAID"
    [confirmation] = payu_sim.deliveries.wait(url=shop + "/webhooks/payu", outcome="delivered")
    assert confirmation["status"] == 200
    payu_sim.journal.assert_one("SUBMIT_TRANSACTION", reference="order-5")


def test_an_event_tampered_after_signing_is_refused_and_leaves_the_order_pending(shop, wompi_sim):
    wompi_sim.chaos.add(ChaosRule(TamperSigned(field="status", value="APPROVED")))
    checkout(shop, "order-6", card=DECLINED_CARD)

    wompi_sim.clock.advance(5)
    [attempt] = wompi_sim.deliveries.wait(url=shop + "/webhooks/wompi", outcome="retry_scheduled")

    assert attempt["status"] == 401
    assert order_status(shop, "order-6") == "PENDING"


class FailsOnce:
    """Wraps the shop so that its first request to ``path`` gets a 500, as during a bad deploy."""

    def __init__(self, app: Callable[..., Any], path: str) -> None:
        self.app, self.path, self.failed = app, path, False

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and not self.failed:
            self.failed = True
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"down for a moment"})
            return
        await self.app(scope, receive, send)
