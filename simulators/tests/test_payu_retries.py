"""PayU's several transactions under one reference: a buyer's retry of an order (``/__admin/payu/references``).

PayU confirms every payment attempt of a sale with the same ``reference_sale`` and ``reference_pol`` and its own
``transaction_id`` (gateways.md §4), and its Queries API lists them all under the reference.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest

from simulators.common.receiver import WebhookReceiver
from simulators.payu.routes import QUERIES_PATH
from simulators.payu.signing import verify_confirmation
from simulators.payu.testing import SANDBOX, InProcessPayU, card_request, cash_request, command

StartReceiver = Callable[..., tuple[WebhookReceiver, str]]


def ref() -> str:
    return f"retry-{uuid.uuid4().hex[:10]}"


async def retry(payu: InProcessPayU, reference: str, state: str, **extra: Any) -> Any:
    return await payu.client.post(f"/__admin/payu/references/{reference}/transactions", json={"state": state, **extra})


async def by_reference(payu: InProcessPayU, reference: str) -> Any:
    body = command("ORDER_DETAIL_BY_REFERENCE_CODE", details={"referenceCode": reference})
    data = await payu.call(QUERIES_PATH, body)
    assert data["code"] == "SUCCESS", data
    return data["result"]["payload"]


def forms(receiver: WebhookReceiver) -> list[dict[str, str]]:
    return [dict(parse_qsl(r.text(), keep_blank_values=True)) for r in receiver.received]


async def test_a_retry_is_another_transaction_of_the_same_order_and_the_reference_lists_both(
    payu: InProcessPayU,
) -> None:
    reference = ref()
    first = await payu.submit(card_request(reference, holder="PENDING", value=50000))
    response = await retry(payu, reference, "DECLINED")
    assert response.status_code == 200, response.text
    second = response.json()["transactionResponse"]
    assert second["orderId"] == first["orderId"]
    assert second["transactionId"] != first["transactionId"]
    assert (second["state"], second["responseCode"]) == ("DECLINED", "ENTITY_DECLINED")
    [order] = await by_reference(payu, reference)
    assert order["id"] == first["orderId"]
    listed = [(t["id"], t["transactionResponse"]["state"]) for t in order["transactions"]]
    assert listed == [(first["transactionId"], "PENDING"), (second["transactionId"], "DECLINED")]
    # The buyer paid again the same way: same card, same amount (the order's).
    assert order["transactions"][1]["creditCard"] == order["transactions"][0]["creditCard"]
    assert order["additionalValues"]["TX_VALUE"] == {"value": 50000, "currency": "COP"}
    detail = await payu.call(QUERIES_PATH, command("TRANSACTION_RESPONSE_DETAIL",
                                                   details={"transactionId": second["transactionId"]}))
    assert detail["result"]["payload"]["state"] == "DECLINED"


async def test_each_final_transaction_under_the_reference_is_confirmed_signed_with_its_own_id(
    payu: InProcessPayU, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    reference = ref()
    first = await payu.submit(card_request(reference, value=50000, notify_url=url))  # approved at once
    second = (await retry(payu, reference, "APPROVED")).json()["transactionResponse"]
    third = (await retry(payu, reference, "DECLINED", response_code="INSUFFICIENT_FUNDS")).json()["transactionResponse"]
    await payu.advance(0)
    assert len(receiver.received) == 3
    by_id = {f["transaction_id"]: f for f in forms(receiver)}
    got = [by_id[t["transactionId"]] for t in (first, second, third)]
    assert {(f["reference_sale"], f["reference_pol"], f["value"]) for f in got} == {
        (reference, str(first["orderId"]), "50000.00")}
    assert [(f["state_pol"], f["response_code_pol"]) for f in got] == [("4", "1"), ("4", "1"), ("6", "6")]
    for fields in got:
        assert verify_confirmation(fields, api_key=SANDBOX.api_key), fields
    assert got[1]["authorization_code"] and got[1]["authorization_code"] == second["authorizationCode"]


async def test_a_pending_retry_is_confirmed_only_once_made_final(
    payu: InProcessPayU, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    reference = ref()
    await payu.submit(card_request(reference, holder="PENDING", notify_url=url))
    pending = (await retry(payu, reference, "pending")).json()["transactionResponse"]
    assert pending["state"] == "PENDING"
    await payu.advance(3600)
    assert receiver.received == []
    done = await payu.client.post(f"/__admin/payu/transactions/{pending['transactionId']}/final",
                                  json={"state": "APPROVED"})
    assert done.status_code == 200, done.text
    await payu.advance(0)
    assert [(f["transaction_id"], f["state_pol"]) for f in forms(receiver)] == [(pending["transactionId"], "4")]


@pytest.mark.parametrize(("holder", "then", "status"), [
    ("APPROVED", "DECLINED", "CAPTURED"),  # a later decline does not undo money taken
    ("PENDING", "DECLINED", "IN_PROGRESS"),  # one still undecided: the order is not declined
    ("REJECTED", "DECLINED", "DECLINED"),
    ("REJECTED", "APPROVED", "CAPTURED"),
])
async def test_the_order_status_sums_up_every_transaction(payu: InProcessPayU, holder: str, then: str,
                                                          status: str) -> None:
    reference = ref()
    first = await payu.submit(card_request(reference, holder=holder))
    assert (await retry(payu, reference, then)).status_code == 200
    [order] = await by_reference(payu, reference)
    assert order["status"] == status
    detail = await payu.call(QUERIES_PATH, command("ORDER_DETAIL", details={"orderId": first["orderId"]}))
    assert detail["result"]["payload"]["status"] == status


@pytest.mark.parametrize(("body", "word"), [
    ({"state": "SUBMITTED"}, "not a final state"),
    ({"state": "APPROVED", "response_code": "ENTITY_DECLINED"}, "does not belong"),
    ({"state": "PENDING", "response_code": "APPROVED"}, "no response_code"),
    ({}, "not a final state"),
])
async def test_a_retry_that_does_not_fit_is_refused_and_stores_nothing(payu: InProcessPayU, body: dict[str, Any],
                                                                       word: str) -> None:
    reference = ref()
    await payu.submit(card_request(reference))
    response = await payu.client.post(f"/__admin/payu/references/{reference}/transactions", json=body)
    assert response.status_code == 409, response.text
    assert word in response.json()["detail"]["message"]
    [order] = await by_reference(payu, reference)
    assert len(order["transactions"]) == 1
    assert len(payu.gateway.store.transactions) == 1


async def test_an_unknown_reference_or_a_cash_order_is_not_retried(payu: InProcessPayU) -> None:
    missing = await retry(payu, "never-submitted", "DECLINED")
    assert missing.status_code == 404, missing.text
    reference = ref()
    await payu.submit(cash_request(reference))
    cash = await retry(payu, reference, "APPROVED")
    assert cash.status_code == 409 and "only card orders" in cash.json()["detail"]["message"], cash.text
    [order] = await by_reference(payu, reference)
    assert len(order["transactions"]) == 1


async def test_the_unique_reference_option_still_refuses_a_second_submit(payu: InProcessPayU) -> None:
    # A retry goes through the admin route only: the API's duplicate-reference refusal is unchanged.
    reference = ref()
    await payu.submit(card_request(reference))
    assert (await retry(payu, reference, "DECLINED")).status_code == 200
    again = await payu.call("/payments-api/4.0/service.cgi", card_request(reference))
    assert again["code"] == "ERROR", again
