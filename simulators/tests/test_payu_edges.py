"""PayU's edges: amount bounds, the account's currencies, tax amounts, and inputs that once crashed the simulator."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from simulators.common import FaultPlan, FaultRule, HttpError
from simulators.payu import PayUConfig, create_app
from simulators.payu.routes import PAYMENTS_PATH, QUERIES_PATH
from simulators.payu.testing import card_request, command


@pytest.fixture
def app() -> FastAPI:
    return create_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as c:
        yield c


def ref() -> str:
    return f"edge-{uuid.uuid4().hex[:12]}"


async def refused(client: httpx.AsyncClient, body: dict[str, Any], path: str = PAYMENTS_PATH) -> str:
    """The ERROR envelope's message; fails unless the answer is exactly PayU's ERROR shape."""
    response = await client.post(path, json=body)
    assert response.status_code == 200
    data = response.json()
    key = "result" if path == QUERIES_PATH else "transactionResponse"
    assert data == {"code": "ERROR", "error": data["error"], key: None}
    assert isinstance(data["error"], str) and data["error"]
    return str(data["error"])


def test_a_signed_payment_of_ten_to_the_27_gets_an_error_reply_journaled_as_sent(
    live_server: Callable[[Any], str],
) -> None:
    app = create_app()
    base = live_server(app)
    response = httpx.post(base + PAYMENTS_PATH, json=card_request(ref(), value=10**27), timeout=5)
    assert response.status_code == 200
    assert response.json()["code"] == "ERROR"
    assert "at most" in response.json()["error"]
    # The journal entry is written once the answer has gone out: on a busy machine the client can be faster.
    deadline = time.monotonic() + 5
    while not app.state.sim.journal.entries("request") and time.monotonic() < deadline:
        time.sleep(0.02)
    [entry] = app.state.sim.journal.entries("request")
    assert entry["status"] == 200
    assert entry["summary"]["outcome"] == "ERROR"
    assert not app.state.sim.state.store.orders


@pytest.mark.parametrize("value", [10**27, 10**12, "1E+30", "999999999999.999"])
async def test_amounts_past_twelve_digits_and_two_decimals_are_refused(client: httpx.AsyncClient, value: Any) -> None:
    assert "TX_VALUE" in await refused(client, card_request(ref(), value=value, currency="USD"))


@pytest.mark.parametrize(("value", "currency"), [(999_999_999_999, "COP"), ("999999999999.99", "USD")])
async def test_the_largest_amount_is_accepted(client: httpx.AsyncClient, value: Any, currency: str) -> None:
    response = await client.post(PAYMENTS_PATH, json=card_request(ref(), value=value, currency=currency))
    assert response.json()["code"] == "SUCCESS"
    assert response.json()["transactionResponse"]["state"] == "APPROVED"


@pytest.mark.parametrize("currency", ["XYZ", "EUR", "cop"])
async def test_a_currency_the_account_does_not_hold_is_refused(client: httpx.AsyncClient, currency: str) -> None:
    message = await refused(client, card_request(ref(), value=65000, currency=currency))
    assert f"[{currency}]" in message


async def test_the_account_currencies_are_a_setting() -> None:
    app = create_app(PayUConfig(currencies=("COP",)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as client:
        assert "[USD]" in await refused(client, card_request(ref(), value=150, currency="USD"))
        ok = await client.post(PAYMENTS_PATH, json=card_request(ref(), value=150, currency="COP"))
        assert ok.json()["code"] == "SUCCESS"


@pytest.mark.parametrize(
    ("key", "node"),
    [
        ("TX_TAX", {"value": 10**27, "currency": "COP"}),
        ("TX_TAX", {"value": 100, "currency": "USD"}),
        ("TX_TAX", "100"),
        ("TX_TAX_RETURN_BASE", {"value": "1.001", "currency": "COP"}),
        ("TX_TAX_RETURN_BASE", [1, 2]),
    ],
)
async def test_tax_amounts_obey_the_same_rules_as_the_value(client: httpx.AsyncClient, key: str, node: Any) -> None:
    body = card_request(ref(), value=65000)
    values = body["transaction"]["order"]["additionalValues"]
    values["TX_TAX"] = {"value": 0, "currency": "COP"}
    values[key] = node
    assert key in await refused(client, body)


@pytest.mark.parametrize("order_id", ["²", "١٢٣", "1" * 5000, {"a": 1}])
async def test_order_detail_with_an_odd_id_answers_an_empty_payload(client: httpx.AsyncClient, order_id: Any) -> None:
    response = await client.post(QUERIES_PATH, json=command("ORDER_DETAIL", details={"orderId": order_id}))
    assert response.json() == {"code": "SUCCESS", "error": None, "result": {"payload": None}}


@pytest.mark.parametrize(
    "card",
    [
        {"number": "4097440000000004²"},
        {"number": "٤٠٩٧٤٤٠٠٠٠٠٠٠٠٠٤"},
        {"securityCode": "７７７"},
        {"expirationDate": "2030/²"},
        {"expirationDate": "2030/005"},
    ],
)
async def test_cards_with_non_ascii_digits_are_refused(client: httpx.AsyncClient, card: dict[str, str]) -> None:
    body = card_request(ref(), value=65000)
    body["transaction"]["creditCard"].update(card)
    await refused(client, body)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 30000 + b"]" * 30000,
        b'{"command": "PING", "merchant": {"apiLogin": "\\ud800", "apiKey": "x"}}',
        b'{"command": "PING", "x": NaN}',
        b'{"command": "PING", "x": ' + b"[" * 100 + b"]" * 100 + b"}",
    ],
)
@pytest.mark.parametrize("path", [PAYMENTS_PATH, QUERIES_PATH])
async def test_hostile_bodies_get_an_error_reply(client: httpx.AsyncClient, raw: bytes, path: str) -> None:
    response = await client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    key = "result" if path == QUERIES_PATH else "transactionResponse"
    assert response.json() == {"code": "ERROR", "error": response.json()["error"], key: None}
    assert "JSON" in response.json()["error"]


async def test_a_deep_body_passes_a_fault_plan_that_reads_commands() -> None:
    rule = FaultRule(HttpError(503), path="/payments-api/*", match_command="SUBMIT_TRANSACTION")
    app = create_app(PayUConfig(faults=FaultPlan((rule,))))
    raw = b'{"a":' * 3000 + b"1" + b"}" * 3000
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as client:
        response = await client.post(PAYMENTS_PATH, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["code"] == "ERROR"
