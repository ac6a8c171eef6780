"""Contract tests of PayU's queries API (reports-api service.cgi) and the response-URL signature helper."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from simulators.payu import PayUConfig
from simulators.payu.routes import QUERIES_PATH
from simulators.payu.testing import SANDBOX, InProcessPayU, card_request, cash_request, command


def ref() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"


async def test_ping(payu: InProcessPayU) -> None:
    assert await payu.call(QUERIES_PATH, command("PING")) == {
        "code": "SUCCESS",
        "error": None,
        "result": {"payload": "ping"},
    }


async def test_order_detail(payu: InProcessPayU) -> None:
    reference = ref()
    tr = await payu.submit(card_request(reference, value=65000))
    for order_id in (tr["orderId"], str(tr["orderId"])):
        data = await payu.call(QUERIES_PATH, command("ORDER_DETAIL", details={"orderId": order_id}))
        assert data["code"] == "SUCCESS"
        order = data["result"]["payload"]
        assert order["id"] == tr["orderId"]
        assert order["referenceCode"] == reference
        assert order["status"] == "CAPTURED"
        assert order["accountId"] == 512321 and order["merchantId"] == 508029
        assert order["additionalValues"]["TX_VALUE"] == {"value": 65000, "currency": "COP"}
        (tx,) = order["transactions"]
        assert tx["id"] == tr["transactionId"]
        assert tx["transactionResponse"]["state"] == "APPROVED"
        assert tx["creditCard"]["maskedNumber"] == "************0004"
        assert tx["paymentMethod"] == "VISA"


async def test_order_status_follows_the_transaction(payu: InProcessPayU) -> None:
    declined = await payu.submit(card_request(ref(), holder="REJECTED"))
    pending = await payu.submit(cash_request(ref()))
    statuses = []
    for tr in (declined, pending):
        data = await payu.call(QUERIES_PATH, command("ORDER_DETAIL", details={"orderId": tr["orderId"]}))
        statuses.append(data["result"]["payload"]["status"])
    assert statuses == ["DECLINED", "IN_PROGRESS"]


async def test_order_detail_by_reference_code_returns_an_array() -> None:
    payu = InProcessPayU(PayUConfig(validate_unique_reference=False))
    try:
        reference = ref()
        first = await payu.submit(card_request(reference, holder="REJECTED"))
        second = await payu.submit(card_request(reference))
        data = await payu.call(
            QUERIES_PATH, command("ORDER_DETAIL_BY_REFERENCE_CODE", details={"referenceCode": reference})
        )
        payload = data["result"]["payload"]
        assert isinstance(payload, list)
        assert [o["id"] for o in payload] == [first["orderId"], second["orderId"]]
        assert [o["status"] for o in payload] == ["DECLINED", "CAPTURED"]
    finally:
        await payu.close()


async def test_transaction_response_detail(payu: InProcessPayU) -> None:
    tr = await payu.submit(cash_request(ref()))
    data = await payu.call(
        QUERIES_PATH, command("TRANSACTION_RESPONSE_DETAIL", details={"transactionId": tr["transactionId"]})
    )
    payload = data["result"]["payload"]
    assert payload["state"] == "PENDING"
    assert payload["transactionId"] == tr["transactionId"]
    assert payload["extraParameters"]["REFERENCE"] == tr["orderId"]


@pytest.mark.parametrize(
    ("name", "details"),
    [
        ("ORDER_DETAIL", {"orderId": 1}),
        ("ORDER_DETAIL", {"orderId": "abc"}),
        ("ORDER_DETAIL_BY_REFERENCE_CODE", {"referenceCode": "never-used"}),
        ("TRANSACTION_RESPONSE_DETAIL", {"transactionId": str(uuid.uuid4())}),
    ],
)
async def test_unknown_ids_give_a_null_payload(payu: InProcessPayU, name: str, details: dict[str, object]) -> None:
    data = await payu.call(QUERIES_PATH, command(name, details=details))
    assert data == {"code": "SUCCESS", "error": None, "result": {"payload": None}}


async def test_queries_check_credentials_and_commands(payu: InProcessPayU) -> None:
    body = command("PING")
    body["merchant"]["apiKey"] = "wrong"
    data = await payu.call(QUERIES_PATH, body)
    assert data["code"] == "ERROR" and data["result"] is None and "transactionResponse" not in data
    unknown = await payu.call(QUERIES_PATH, command("ORDER_DETAIL_BY_REFERENCE"))
    assert unknown["code"] == "ERROR" and unknown["result"] is None


async def test_response_url_parameters_use_the_round_half_even_rule(payu: InProcessPayU) -> None:
    reference = ref()
    tr = await payu.submit(card_request(reference, value="150.25", currency="USD", holder="REJECTED"))
    data = (await payu.client.get(f"/__admin/payu/transactions/{tr['transactionId']}/response-url")).json()
    params = data["params"]
    assert params["transactionState"] == "6" and params["TX_VALUE"] == "150.25"
    # new_value 150.25 -> 150.2 (half to even), unlike the confirmation's 150.25
    text = f"{SANDBOX.api_key}~508029~{reference}~150.2~USD~6"
    assert params["signature"] == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
