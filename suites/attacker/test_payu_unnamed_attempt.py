"""PayU: several transactions under the reference of an attempt that does not hold PayU's id for its charge yet.

The core's submit reached PayU (the charge exists, pending) but its answer came back garbled and the lookup by
reference failed: the attempt is live with no PayU id. The buyer then pays again under the same reference at PayU
(a retry of the order: ``/__admin/payu/references/{reference}/transactions``), and PayU confirms that other
transaction, signed as any. Which transaction is the core's charge is unknown, so (scenario
ATTACK-PAYU-UNNAMED-ATTEMPT, found in core/tests with PayU faked; here end to end against the live simulator):

- a decline of the other transaction ends the attempt only if every transaction PayU lists has failed — ours is
  still pending, so the order stays unpayable and the buyer is never charged twice;
- two approved transactions under the reference are money taken twice: the order is paid once and flagged for a
  refund, whichever confirmation comes first.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from simulators.payu.testing import command
from suites.conftest import Live
from suites.support.api import Actor
from suites.support.faults import (
    LOOKUP,
    PAYU_PAYMENTS,
    PAYU_REPORTS,
    SUBMIT,
    charges,
    clear_faults,
    pinned_core,
    put_faults,
    rule,
)
from suites.support.http import client

AMOUNT = "50000.00"
STATE_POL = {"APPROVED": "4", "DECLINED": "6"}


async def payu_by_reference(live: Live, reference: str) -> list[dict[str, Any]]:
    """PayU's own answer to ORDER_DETAIL_BY_REFERENCE_CODE: every order, with every transaction, under it."""
    body = command("ORDER_DETAIL_BY_REFERENCE_CODE", details={"referenceCode": reference})
    async with client(base_url=live.urls["payu"]) as http:
        response = await http.post(PAYU_REPORTS, json=body)
    response.raise_for_status()
    return list(response.json()["result"]["payload"] or [])


async def _payu_admin(live: Live, path: str, state: str) -> str:
    async with client(base_url=live.urls["payu"]) as http:
        response = await http.post(f"/__admin/payu/{path}", json={"state": state})
    assert response.status_code == 200, response.text
    return str(response.json()["transactionResponse"]["transactionId"])


async def buyer_pays_again_at_payu(live: Live, reference: str, state: str) -> str:
    """Another transaction of the order PayU holds under ``reference`` (the buyer's retry): final and confirmed at
    once, or PENDING until ``payu_finalises``."""
    return await _payu_admin(live, f"references/{reference}/transactions", state)


async def payu_finalises(live: Live, transaction_id: str, state: str) -> None:
    await _payu_admin(live, f"transactions/{transaction_id}/final", state)


async def delivered(live: Live, reference: str, transaction_id: str, state: str, *, budget: float = 10.0) -> None:
    """Wait until PayU's confirmation of ``transaction_id`` got the core's 200 (PayU retries anything else)."""
    key = f"{reference}:{transaction_id}:{STATE_POL[state]}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    async with client(base_url=live.urls["payu"]) as http:
        while True:
            # An attempt is journaled once its answer is in: until then it is on the wire.
            log = [e for e in (await http.get("/__admin/deliveries")).json() if e["event_key"] == key]
            if log:
                assert [e["outcome"] for e in log] == ["delivered"], log
                return
            assert loop.time() < deadline, f"no confirmation {key} reached the core in {budget} s"
            await asyncio.sleep(0.05)


async def attempt_without_payu_id(live: Live, core: httpx.AsyncClient,
                                  core_db: asyncpg.Connection) -> tuple[Actor, dict[str, Any], str, str]:
    """A buyer's order whose PayU attempt is live without PayU's id, its charge pending at PayU.

    PayU takes the submit (the sandbox's PENDING card) and its answer arrives garbled; the lookup by reference
    the core makes instead fails (503): the core cannot know, and keeps the attempt live with no id. Returns
    (buyer, order, the attempt's reference, PayU's id for the charge).
    """
    await put_faults(live, "payu", rule({"type": "malformed"}, path=PAYU_PAYMENTS, command=SUBMIT, count=1),
                     rule({"type": "http_error", "status": 503}, path=PAYU_REPORTS))
    buyer = Actor.buyer(live)
    order = await buyer.create_order(AMOUNT)
    first = await buyer.pay(core, order["id"], AMOUNT, "payu", card_holder="PENDING")
    await clear_faults(live, "payu")
    assert (first.status_code, first.json()["error"]["code"]) == (502, "payment_outcome_unknown"), first.text
    reference = str(first.json()["error"]["transaction_reference"])
    row = await core_db.fetchrow("SELECT status::text, gateway_transaction_id FROM order_transactions"
                                 " WHERE reference = $1", reference)
    assert (row["status"], row["gateway_transaction_id"]) == ("pending", None)
    [held] = await payu_by_reference(live, reference)
    [ours] = held["transactions"]
    assert ours["transactionResponse"]["state"] == "PENDING"
    return buyer, order, reference, str(ours["id"])


async def order_row(core_db: asyncpg.Connection, order_id: int) -> dict[str, Any]:
    row = await core_db.fetchrow("SELECT status::text, approved_amount, flagged_for_refund FROM orders"
                                 " WHERE id = $1", order_id)
    return dict(row)


async def refused_then_ours_approved(live: Live, core: httpx.AsyncClient, buyer: Actor, order: dict[str, Any],
                                     reference: str, ours: str) -> None:
    """The buyer pays again while the attempt is live: refused (a 200 is the buyer charged twice); then PayU
    approves the attempt's own charge and its confirmation reaches the core."""
    again = await buyer.pay(core, order["id"], AMOUNT, "payu", card_holder="APPROVED")
    # A new payment first asks PayU by the attempt's reference (core/api/resolve.py): the same answer.
    refused = (again.status_code, again.json().get("error", {}).get("code"))
    assert refused == (409, "payment_attempt_live"), again.text
    await payu_finalises(live, ours, "APPROVED")
    await delivered(live, reference, ours, "APPROVED")


async def paid_once_by_one_submit(live: Live, core_db: asyncpg.Connection, order: dict[str, Any],
                                  reference: str) -> None:
    """The order paid once, nothing flagged, and at PayU one submit for it, under the attempt's reference."""
    assert await order_row(core_db, order["id"]) == {"status": "paid", "approved_amount": Decimal(AMOUNT),
                                                     "flagged_for_refund": False}
    submits = [e for e in await charges(live, "payu") if str(e["reference"]).startswith(f"{order['reference']}-")]
    assert [e["reference"] for e in submits] == [reference]


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
async def test_a_declined_retry_at_payu_never_ends_an_attempt_without_its_payu_id_nor_lets_the_buyer_pay_twice(
    live: Live, core_db: asyncpg.Connection
) -> None:
    async with pinned_core(live) as core:
        buyer, order, reference, ours = await attempt_without_payu_id(live, core, core_db)
        declined = await buyer_pays_again_at_payu(live, reference, "DECLINED")
        await delivered(live, reference, declined, "DECLINED")
        # PayU lists our charge, still pending, beside the decline: the attempt is live, the order not payable.
        attempt = await core_db.fetchval("SELECT status::text FROM order_transactions WHERE reference = $1",
                                         reference)
        assert attempt == "pending"
        assert await order_row(core_db, order["id"]) == {"status": "pending", "approved_amount": Decimal("0.00"),
                                                         "flagged_for_refund": False}
        await refused_then_ours_approved(live, core, buyer, order, reference, ours)
    await paid_once_by_one_submit(live, core_db, order, reference)
    [held] = await payu_by_reference(live, reference)
    states = {t["id"]: t["transactionResponse"]["state"] for t in held["transactions"]}
    assert states == {ours: "APPROVED", declined: "DECLINED"}


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@pytest.mark.parametrize("first", ["ours", "retry"])
async def test_two_approved_transactions_under_an_attempt_without_its_payu_id_flag_the_order_once(
    live: Live, core_db: asyncpg.Connection, first: str
) -> None:
    async with pinned_core(live) as core:
        _, order, reference, ours = await attempt_without_payu_id(live, core, core_db)
        # The buyer's retry is at PayU, pending, before either is confirmed: the core's first question to PayU
        # lists both. (One created after PayU's answer is remembered is refused for a while, and PayU retries
        # it a minute later: core/webhooks/payu_answers.py. Not what this test is about.)
        retry = await buyer_pays_again_at_payu(live, reference, "PENDING")
        for transaction_id in (ours, retry) if first == "ours" else (retry, ours):
            await payu_finalises(live, transaction_id, "APPROVED")
            await delivered(live, reference, transaction_id, "APPROVED")
    [held] = await payu_by_reference(live, reference)
    assert [t["transactionResponse"]["state"] for t in held["transactions"]] == ["APPROVED", "APPROVED"]
    # Money taken twice: counted once, the order flagged for a refund, the anomaly saying why.
    assert await order_row(core_db, order["id"]) == {"status": "paid", "approved_amount": Decimal(AMOUNT),
                                                     "flagged_for_refund": True}
    kinds = [r["kind"] for r in await core_db.fetch("SELECT kind::text FROM payment_anomalies WHERE order_id = $1",
                                                    order["id"])]
    assert kinds == ["double_payment"]



async def submitted_reference(live: Live, order_reference: str, *, budget: float = 10.0) -> str:
    """The reference of the order's PayU submit, once PayU has taken it (its journal's summary)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    mine = f"{order_reference}-"
    while not (made := [e for e in await charges(live, "payu") if str(e["reference"]).startswith(mine)]):
        assert loop.time() < deadline, f"PayU took no submit for {order_reference} in {budget} s"
        await asyncio.sleep(0.05)
    return str(made[0]["reference"])


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
async def test_a_declined_retry_listed_after_a_lost_submits_charge_is_not_the_submits_answer(
    live: Live, core_db: asyncpg.Connection
) -> None:
    """The submit's own recovery (core/gateways/payu.py): its answer lost, the core asks PayU by reference at
    once — and PayU lists, after our pending charge, the buyer's declined retry. Read as the last-listed
    transaction, that decline ended our attempt: the order payable again, our charge still able to take the money.
    The lookup is held 3 s by PayU (a latency fault) while the retry is made, so it answers with both."""
    await put_faults(live, "payu", rule({"type": "malformed"}, path=PAYU_PAYMENTS, command=SUBMIT, count=1),
                     rule({"type": "latency", "ms": 3000}, path=PAYU_REPORTS, command=LOOKUP, count=1))
    async with pinned_core(live) as core:
        buyer = Actor.buyer(live)
        order = await buyer.create_order(AMOUNT)
        paying = asyncio.create_task(buyer.pay(core, order["id"], AMOUNT, "payu", card_holder="PENDING"))
        try:
            reference = await submitted_reference(live, order["reference"])
            declined = await buyer_pays_again_at_payu(live, reference, "DECLINED")
            first = await paying
        finally:
            paying.cancel()
            await clear_faults(live, "payu")
        [held] = await payu_by_reference(live, reference)
        assert [t["transactionResponse"]["state"] for t in held["transactions"]] == ["PENDING", "DECLINED"], held
        ours = str(held["transactions"][0]["id"])
        # Our charge is pending at PayU: the payment is pending under our charge's id (PayU's word for ours). With
        # the last-listed read it answered 200 "declined" under the retry's id, the order "failed".
        assert first.status_code == 200, first.text
        answered = first.json()
        assert (answered["order_status"], answered["transaction"]["status"]) == ("pending", "pending"), first.text
        assert answered["transaction"]["gateway_transaction_id"] == ours, first.text
        await delivered(live, reference, declined, "DECLINED")
        attempt = await core_db.fetchval("SELECT status::text FROM order_transactions WHERE reference = $1",
                                         reference)
        assert attempt == "pending"
        await refused_then_ours_approved(live, core, buyer, order, reference, ours)
    await paid_once_by_one_submit(live, core_db, order, reference)
