"""Contract tests of PayU's payments API (service.cgi): commands, envelopes, credentials, signatures, cards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from simulators.payu import PayUConfig, create_app
from simulators.payu.jsonio import dumps
from simulators.payu.routes import PAYMENTS_PATH
from simulators.payu.signing import Algorithm, payment_signature
from simulators.payu.testing import SANDBOX, card_request, command


@pytest.fixture
def app() -> FastAPI:
    return create_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as c:
        yield c


async def pay(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(PAYMENTS_PATH, json=body)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def ref() -> str:
    return f"ref-{uuid.uuid4().hex[:12]}"


async def test_ping_answers_success_with_null_transaction_response(client: httpx.AsyncClient) -> None:
    assert await pay(client, command("PING")) == {"code": "SUCCESS", "error": None, "transactionResponse": None}


async def test_approved_card_has_the_documented_response_shape(client: httpx.AsyncClient) -> None:
    data = await pay(client, card_request(ref()))
    assert data["code"] == "SUCCESS" and data["error"] is None
    tr = data["transactionResponse"]
    assert isinstance(tr["orderId"], int)
    assert str(uuid.UUID(tr["transactionId"])) == tr["transactionId"]
    assert tr["state"] == "APPROVED" and tr["responseCode"] == "APPROVED"
    assert tr["paymentNetworkResponseCode"] == "81"
    assert tr["authorizationCode"] and len(tr["authorizationCode"]) <= 12
    assert len(tr["trazabilityCode"]) <= 32
    assert isinstance(tr["operationDate"], int) and tr["operationDate"] > 1_600_000_000_000
    assert tr["additionalInfo"]["transactionType"] == "AUTHORIZATION_AND_CAPTURE"
    assert tr["additionalInfo"]["cardType"] == "CREDIT"
    assert tr["pendingReason"] is None


@pytest.mark.parametrize(
    ("overrides", "state", "code"),
    [
        ({"holder": "APPROVED"}, "APPROVED", "APPROVED"),
        ({"holder": "REJECTED"}, "DECLINED", "ENTITY_DECLINED"),
        ({"holder": "PENDING"}, "PENDING", "PENDING_TRANSACTION_REVIEW"),
        ({"holder": "Ana Gomez", "cvv": "777", "expiration": "2030/11"}, "APPROVED", "APPROVED"),
        ({"holder": "Ana Gomez", "cvv": "666", "expiration": "2030/01"}, "DECLINED", "ENTITY_DECLINED"),
        ({"holder": "Ana Gomez", "cvv": "123", "expiration": "2030/05"}, "APPROVED", "APPROVED"),
        ({"holder": "Ana Gomez", "cvv": "123", "expiration": "2030/07"}, "DECLINED", "ENTITY_DECLINED"),
        ({"holder": "Ana Gomez", "cvv": "123", "expiration": "2020/05"}, "DECLINED", "EXPIRED_CARD"),
        ({"method": "AMEX", "holder": "Ana Gomez", "cvv": "7777", "expiration": "2030/11"}, "APPROVED", "APPROVED"),
        ({"method": "AMEX", "holder": "Ana Gomez", "cvv": "6666"}, "DECLINED", "ENTITY_DECLINED"),
        ({"method": "MASTERCARD"}, "APPROVED", "APPROVED"),
        ({"method": "DINERS"}, "APPROVED", "APPROVED"),
        ({"method": "CODENSA"}, "APPROVED", "APPROVED"),
        ({"holder": "INSUFFICIENT_FUNDS"}, "DECLINED", "INSUFFICIENT_FUNDS"),
    ],
)
async def test_sandbox_card_outcomes(
    client: httpx.AsyncClient, overrides: dict[str, Any], state: str, code: str
) -> None:
    tr = (await pay(client, card_request(ref(), **overrides)))["transactionResponse"]
    assert (tr["state"], tr["responseCode"]) == (state, code)
    if state == "DECLINED":
        assert tr["authorizationCode"] is None
    if state == "PENDING":
        assert tr["pendingReason"] == "PENDING_REVIEW"


async def test_debit_card_reports_debit(client: httpx.AsyncClient) -> None:
    tr = (await pay(client, card_request(ref(), method="VISA_DEBIT")))["transactionResponse"]
    assert tr["additionalInfo"]["cardType"] == "DEBIT"
    assert tr["extraParameters"] == {"BANK_REFERENCED_CODE": "DEBIT"}


@pytest.mark.parametrize(
    "merchant",
    [
        {"apiLogin": "pRRXKOl8ikMmt9u", "apiKey": "wrongkey"},
        {"apiLogin": "someoneelse12", "apiKey": "4Vj8eK4rloUd272L48hsrarnUA"},
        {"apiLogin": "prrxkol8ikmmt9u", "apiKey": "4Vj8eK4rloUd272L48hsrarnUA"},  # case matters
        None,
    ],
)
async def test_bad_credentials_give_an_error_envelope_and_no_charge(
    app: FastAPI, client: httpx.AsyncClient, merchant: dict[str, str] | None
) -> None:
    body = card_request(ref())
    if merchant is None:
        del body["merchant"]
    else:
        body["merchant"] = merchant
    data = await pay(client, body)
    assert data["code"] == "ERROR" and data["transactionResponse"] is None
    assert "credential" in data["error"].lower() or "merchant" in data["error"]
    assert app.state.sim.state.store.transactions == {}
    for other in ("PING", "GET_PAYMENT_METHODS"):
        probe = command(other)
        probe["merchant"] = {"apiLogin": "pRRXKOl8ikMmt9u", "apiKey": "wrongkey"}
        assert (await pay(client, probe))["code"] == "ERROR"


async def test_wrong_signature_is_refused(client: httpx.AsyncClient) -> None:
    data = await pay(client, card_request(ref(), signature="0" * 32))
    assert data == {"code": "ERROR", "error": data["error"], "transactionResponse": None}
    assert "signature" in data["error"].lower()


async def test_signature_over_a_different_amount_is_refused(client: httpx.AsyncClient) -> None:
    reference = ref()
    signed_for_1000 = payment_signature(
        api_key=SANDBOX.api_key, merchant_id="508029", reference_code=reference, tx_value="1000", currency="COP"
    )
    data = await pay(client, card_request(reference, value=65000, signature=signed_for_1000))
    assert data["code"] == "ERROR"


@pytest.mark.parametrize("algorithm", [Algorithm.MD5, Algorithm.SHA1, Algorithm.SHA256])
async def test_request_signature_accepts_md5_sha1_and_sha256(client: httpx.AsyncClient, algorithm: Algorithm) -> None:
    data = await pay(client, card_request(ref(), algorithm=algorithm))
    assert data["code"] == "SUCCESS"


async def test_uppercase_signature_hex_is_accepted(client: httpx.AsyncClient) -> None:
    reference = ref()
    sig = payment_signature(
        api_key=SANDBOX.api_key, merchant_id="508029", reference_code=reference, tx_value="65000", currency="COP"
    ).upper()
    assert (await pay(client, card_request(reference, signature=sig)))["code"] == "SUCCESS"


async def test_amount_is_signed_exactly_as_sent(client: httpx.AsyncClient) -> None:
    reference = ref()
    signed_integer = payment_signature(
        api_key=SANDBOX.api_key, merchant_id="508029", reference_code=reference, tx_value="65000", currency="COP"
    )
    # Sent as 65000.00 but signed as 65000: strict by default.
    body = card_request(reference, value=Decimal("65000.00"), signature=signed_integer)
    # httpx's own encoder cannot write a Decimal, so the body goes through the simulator's encoder.
    response = await client.post(
        PAYMENTS_PATH, content=_dumps_with_decimal(body), headers={"content-type": "application/json"}
    )
    assert response.json()["code"] == "ERROR"
    # Signed as sent ("65000.00") it passes.
    body2 = card_request(ref(), value=Decimal("65000.00"))
    response2 = await client.post(
        PAYMENTS_PATH, content=_dumps_with_decimal(body2), headers={"content-type": "application/json"}
    )
    assert response2.json()["code"] == "SUCCESS"


async def test_lenient_amount_signature_accepts_the_integer_spelling() -> None:
    app = create_app(PayUConfig(lenient_amount_signature=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as c:
        reference = ref()
        signed_integer = payment_signature(
            api_key=SANDBOX.api_key, merchant_id="508029", reference_code=reference, tx_value="65000", currency="COP"
        )
        body = card_request(reference, value=Decimal("65000.00"), signature=signed_integer)
        response = await c.post(PAYMENTS_PATH, content=_dumps_with_decimal(body))
        assert response.json()["code"] == "SUCCESS"


def _dumps_with_decimal(body: dict[str, Any]) -> bytes:
    return dumps(body)


async def test_signature_check_can_be_switched_off() -> None:
    app = create_app(PayUConfig(verify_request_signature=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as c:
        response = await c.post(PAYMENTS_PATH, json=card_request(ref(), signature="nonsense"))
        assert response.json()["code"] == "SUCCESS"


async def test_duplicate_reference_is_refused_by_default(app: FastAPI, client: httpx.AsyncClient) -> None:
    reference = ref()
    assert (await pay(client, card_request(reference)))["code"] == "SUCCESS"
    again = await pay(client, card_request(reference))
    assert again["code"] == "ERROR" and reference in again["error"]
    assert len(app.state.sim.state.store.by_reference[reference]) == 1


async def test_duplicate_reference_allowed_when_validate_unique_is_off() -> None:
    app = create_app(PayUConfig(validate_unique_reference=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as c:
        reference = ref()
        first = (await c.post(PAYMENTS_PATH, json=card_request(reference))).json()
        second = (await c.post(PAYMENTS_PATH, json=card_request(reference))).json()
        assert first["code"] == second["code"] == "SUCCESS"
        assert first["transactionResponse"]["orderId"] != second["transactionResponse"]["orderId"]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b["transaction"]["creditCard"].update(number="4037997623271985"), "card"),
        (lambda b: b["transaction"]["creditCard"].update(expirationDate="12/2030"), "expirationDate"),
        (lambda b: b["transaction"].update(paymentMethod="MASTERCARD"), "does not belong"),  # VISA number
        (lambda b: b["transaction"].update(paymentMethod="BITCOIN"), "payment method"),
        (lambda b: b["transaction"].update(type="AUTHORIZATION"), "AUTHORIZATION_AND_CAPTURE"),
        (lambda b: b["transaction"]["order"].update(accountId="999999"), "accountId"),
        (lambda b: b["transaction"]["order"].update(accountId="512322"), "Colombia"),
        (lambda b: b["transaction"].pop("deviceSessionId"), "deviceSessionId"),
        (lambda b: b["transaction"].pop("creditCard"), "creditCard"),
        (lambda b: b["transaction"]["order"].pop("referenceCode"), "referenceCode"),
        (lambda b: b["transaction"]["order"].update(referenceCode="x" * 256), "referenceCode"),
        (lambda b: b["transaction"]["order"].pop("signature"), "signature"),
        (lambda b: b["transaction"].update(paymentCountry="MX"), "paymentCountry"),
        (lambda b: b["transaction"].update(creditCardTokenId="abc"), "token"),
        (lambda b: b["transaction"].update(extraParameters={"INSTALLMENTS_NUMBER": 0}), "INSTALLMENTS"),
    ],
)
async def test_invalid_requests_get_an_error_envelope_and_create_nothing(
    app: FastAPI, client: httpx.AsyncClient, mutate: Any, needle: str
) -> None:
    body = card_request(ref())
    mutate(body)
    data = await pay(client, body)
    assert data["code"] == "ERROR" and data["transactionResponse"] is None
    assert needle in data["error"]
    assert app.state.sim.state.store.orders == {}


async def test_cop_amount_with_decimals_is_refused(client: httpx.AsyncClient) -> None:
    body = card_request(ref(), value="65000.50")
    data = await pay(client, body)
    assert data["code"] == "ERROR" and "decimals" in data["error"]


async def test_usd_amounts_with_decimals_are_fine(client: httpx.AsyncClient) -> None:
    data = await pay(client, card_request(ref(), value="150.25", currency="USD"))
    assert data["code"] == "SUCCESS"


async def test_get_payment_methods(client: httpx.AsyncClient) -> None:
    data = await pay(client, command("GET_PAYMENT_METHODS"))
    assert data["code"] == "SUCCESS"
    by_name = {m["description"]: m for m in data["paymentMethods"]}
    assert by_name["EFECTY"]["id"] == "36"
    assert all(set(m) == {"id", "description", "country", "enabled", "reason"} for m in data["paymentMethods"])


async def test_get_banks_list(client: httpx.AsyncClient) -> None:
    body = command("GET_BANKS_LIST", bankListInformation={"paymentMethod": "PSE", "paymentCountry": "CO"})
    data = await pay(client, body)
    assert data["code"] == "SUCCESS"
    assert data["banks"][0]["pseCode"] == "0"
    assert all(set(b) == {"id", "description", "pseCode"} for b in data["banks"])
    bad = await pay(client, command("GET_BANKS_LIST", bankListInformation={"paymentMethod": "PSE"}))
    assert bad["code"] == "ERROR"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b"<request/>", "application/xml")],
)
async def test_unreadable_bodies_get_an_error_envelope(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(PAYMENTS_PATH, content=content, headers={"content-type": content_type})
    assert response.status_code == 200
    assert response.json()["code"] == "ERROR"


async def test_unknown_command_is_an_error(client: httpx.AsyncClient) -> None:
    data = await pay(client, command("ORDER_DETAIL_BY_REFERENCE"))
    assert data["code"] == "ERROR" and "ORDER_DETAIL_BY_REFERENCE" in data["error"]


async def test_error_http_status_is_configurable() -> None:
    app = create_app(PayUConfig(error_http_status=400))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as c:
        response = await c.post(PAYMENTS_PATH, json=card_request(ref(), signature="0" * 32))
        assert response.status_code == 400 and response.json()["code"] == "ERROR"


async def test_journal_counts_charges_with_a_summary(client: httpx.AsyncClient) -> None:
    reference = ref()
    tr = (await pay(client, card_request(reference, value=70000)))["transactionResponse"]
    await pay(client, card_request(reference, value=70000))  # duplicate, refused
    await pay(client, command("PING"))
    entries = (await client.get("/__admin/journal", params={"kind": "request"})).json()["entries"]
    submits = [e["summary"] for e in entries if e.get("summary", {}).get("command") == "SUBMIT_TRANSACTION"]
    assert [s["outcome"] for s in submits] == ["APPROVED", "ERROR"]
    first = submits[0]
    assert first == {
        "command": "SUBMIT_TRANSACTION",
        "reference": reference,
        "amount": "70000",
        "currency": "COP",
        "payment_method": "VISA",
        "transaction_id": tr["transactionId"],
        "order_id": tr["orderId"],
        "outcome": "APPROVED",
    }
    assert len(entries) == 3


async def test_ids_are_reproducible_for_a_seed() -> None:
    async def ids(seed: int) -> tuple[int, str]:
        app = create_app(PayUConfig(seed=seed))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payu.test") as c:
            tr = (await c.post(PAYMENTS_PATH, json=card_request("fixed-ref"))).json()["transactionResponse"]
            return tr["orderId"], tr["transactionId"]

    assert await ids(5) == await ids(5)
    assert await ids(5) != await ids(6)


async def test_admin_reset_forgets_orders(app: FastAPI, client: httpx.AsyncClient) -> None:
    reference = ref()
    await pay(client, card_request(reference))
    assert (await client.post("/__admin/reset")).status_code == 200
    assert app.state.sim.state.store.orders == {}
    assert (await pay(client, card_request(reference)))["code"] == "SUCCESS"


def test_credentials_name_the_colombian_account_and_hide_an_unused_secret() -> None:
    creds = PayUConfig().credentials()
    assert creds["account_id"] == "512321" and creds["api_key"] == SANDBOX.api_key
    assert "webhook_secret" not in creds
    assert PayUConfig(webhook_signing="HMAC_SHA256", webhook_secret="k").credentials()["webhook_secret"] == "k"
