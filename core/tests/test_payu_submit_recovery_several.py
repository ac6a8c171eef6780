"""A submit whose answer was lost asks PayU by reference; PayU may list several charges under it (a buyer paying
again). The recovery must apply the webhook's and the lookup's rule: a decline of one charge never ends an
attempt while another charge is approved or undecided, and two approvals are for a person, never a guess.

Before, the recovery read the *last* charge: a declined retry listed after our pending or approved charge
ended our attempt as declined — the order payable again with our charge still taking the money."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.gateways.errors import PayUNetworkError, PayUTransactionError
from core.gateways.payu_models import PayUOrder, PayUTransactionResult
from core.tests.support import FakeSleep, Recorder, sequence
from core.tests.test_gateway_payu import BUYER, CARD, DEVICE, REF, client, ok, order_payload, tx_response

FAILED = ("DECLINED", "EXPIRED", "ERROR")
# None: a charge PayU lists without a result yet
STATES = st.sampled_from(("APPROVED", *FAILED, "PENDING", None))


def order_with(states: list[str | None]) -> dict[str, object]:
    order = order_payload()
    order["transactions"] = [
        {"id": f"tx-{i}", "type": "AUTHORIZATION_AND_CAPTURE", "paymentMethod": "VISA",
         **({"transactionResponse": tx_response(state, transactionId=f"tx-{i}", orderId=None)} if state else {})}
        for i, state in enumerate(states)
    ]
    return order


def recover(states: list[str | None]) -> PayUTransactionResult | Exception:
    """submit_card with its answer lost (a read timeout), PayU then listing ``states`` under the reference."""
    return recover_from(order_with(states))


def recover_from(order: dict[str, object]) -> PayUTransactionResult | Exception:
    """submit_card with its answer lost (a read timeout), PayU then listing ``order`` under the reference."""
    rec = Recorder(sequence(httpx.ReadTimeout("slow"), ok(result={"payload": [order]})))

    async def go() -> PayUTransactionResult:
        payu, http = client(rec, FakeSleep())
        async with http:
            return await payu.submit_card(reference=REF, description="x", amount=Decimal(65000), buyer=BUYER,
                                          card=CARD, device=DEVICE)

    try:
        result = asyncio.run(go())
    except (PayUNetworkError, PayUTransactionError) as exc:
        assert rec.commands().count("SUBMIT_TRANSACTION") == 1  # never sent again: it could charge twice
        return exc
    assert rec.commands() == ["SUBMIT_TRANSACTION", "ORDER_DETAIL_BY_REFERENCE_CODE"]
    return result


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@settings(max_examples=60, deadline=None)
@given(st.lists(STATES, min_size=1, max_size=4))
def test_the_recovery_never_reads_another_charges_decline_as_ours(states: list[str | None]) -> None:
    outcome = recover(states)
    approved = [i for i, s in enumerate(states) if s == "APPROVED"]
    undecided = [i for i, s in enumerate(states) if s not in (*FAILED, "APPROVED")]
    if len(approved) > 1:
        assert isinstance(outcome, PayUNetworkError) and outcome.outcome_unknown, outcome
        assert "needs review" in str(outcome)
    elif approved:
        assert isinstance(outcome, PayUTransactionResult) and outcome.approved, outcome
        assert outcome.transaction_id == f"tx-{approved[0]}"
    elif undecided:
        # still able to take the money: pending (PayU's word) or unknown, never a decline that frees a retry
        assert not isinstance(outcome, PayUTransactionError), (states, outcome)
        if isinstance(outcome, PayUNetworkError):
            assert outcome.outcome_unknown and not outcome.retryable
        else:
            assert isinstance(outcome, PayUTransactionResult)
            assert outcome.transaction_id == f"tx-{undecided[0]}" and outcome.state == "PENDING"
    else:
        assert isinstance(outcome, PayUTransactionError), (states, outcome)


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@pytest.mark.parametrize("states", [["PENDING", "DECLINED"], ["APPROVED", "DECLINED"], [None, "ERROR"]])
def test_a_declined_retry_listed_last_is_not_our_charges_word(states: list[str | None]) -> None:
    assert not isinstance(recover(states), PayUTransactionError)


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@pytest.mark.parametrize("kind", ["REFUND", "VOID"])
@pytest.mark.parametrize("charge", ["APPROVED", "PENDING", "DECLINED"])
def test_an_approved_refund_or_void_under_the_reference_leaves_the_outcome_for_a_person(kind: str,
                                                                                       charge: str) -> None:
    order = order_with([charge])
    order["transactions"] = [*order["transactions"],  # type: ignore[misc]
                             {"id": "back-1", "type": kind, "paymentMethod": "VISA",
                              "transactionResponse": tx_response("APPROVED", transactionId="back-1", orderId=None)}]
    outcome = recover_from(order)
    assert isinstance(outcome, PayUNetworkError) and f"approved {kind}" in str(outcome), outcome
    assert outcome.outcome_unknown and not outcome.retryable


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@pytest.mark.parametrize(("kind", "state"), [("refund", "approved"), ("Void", "Approved")])
def test_a_refund_or_void_written_in_another_case_is_still_left_for_a_person(kind: str, state: str) -> None:
    """The lookup and the recovery read one rule (``PayUOrder.returned``): before, one compared the state in
    upper case and the other as written, and a lower-case type read an approved refund as a charge."""
    order = order_with(["PENDING"])
    order["transactions"] = [*order["transactions"],  # type: ignore[misc]
                             {"id": "back-1", "type": kind, "paymentMethod": "VISA",
                              "transactionResponse": tx_response(state, transactionId="back-1", orderId=None)}]
    parsed = PayUOrder.parse(json.loads(json.dumps(order), parse_float=Decimal))  # as PayU's client decodes it
    assert [t.id for t in parsed.returned()] == ["back-1"] and parsed.approved_charges() == []
    outcome = recover_from(order)
    assert isinstance(outcome, PayUNetworkError) and f"approved {kind.upper()}" in str(outcome), outcome
    assert outcome.outcome_unknown and not outcome.retryable
