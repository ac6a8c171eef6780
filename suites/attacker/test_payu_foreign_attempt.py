"""PayU: a confirmation about *another* PayU transaction under our reference must not end our own charge.

PayU sends one confirmation per payment attempt of a sale (gateways.md §4: same ``reference_sale``,
different ``transaction_id``). The core's attempt holds the transaction id PayU answered when the core
submitted the charge. A confirmation naming another id is checked with PayU's Queries API — but what PayU
says about that *other* transaction says nothing about ours: a decline of a foreign attempt must not close
an attempt whose own charge may still take the money (the order would look payable again, and the buyer
would be charged twice). The reference lookup (core/api/resolve.py) already holds such a case; the webhook
must not be looser.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from simulators.payu.routes import PAYMENTS_PATH
from simulators.payu.testing import card_request
from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation
from suites.support.http import client

AMOUNT = Decimal("50000.00")


async def _submit_foreign(live: Live, reference: str, *, approve: bool = False) -> str:
    """A second PayU transaction under our reference: declined (the sandbox's REJECTED card) or approved."""
    if approve:
        body = card_request(reference, value=int(AMOUNT))
    else:
        body = card_request(reference, value=int(AMOUNT), holder="REJECTED", cvv="666", expiration="2030/07")
    async with client(base_url=live.urls["payu"], timeout=30) as payu:
        response = await payu.post(PAYMENTS_PATH, json=body)
    answer = response.json()["transactionResponse"]
    assert answer["state"] == ("APPROVED" if approve else "DECLINED"), answer
    return str(answer["transactionId"])


def _confirmation(live: Live, reference: str, status: str, transaction_id: str) -> tuple[bytes, dict[str, str]]:
    return form_body(payu_confirmation(reference_sale=reference, value=AMOUNT, status=status,
                                       api_key=live.creds["payu"]["api_key"],
                                       merchant_id=live.creds["payu"]["merchant_id"], transaction_id=transaction_id))


@pytest.mark.scenario("ATTACK-PAYU-FOREIGN-ATTEMPT")
@pytest.mark.parametrize("status", ["DECLINED", "EXPIRED"])
async def test_a_failed_confirmation_of_another_payu_transaction_leaves_our_pending_charge_live(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, status: str
) -> None:
    ours = str(uuid.uuid4())  # the id PayU gave the core for its charge, still pending
    seeded = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id=ours)
    reference = str(seeded["reference"])
    foreign = await _submit_foreign(live, reference)
    body, headers = _confirmation(live, reference, status, foreign)
    response = await core.post("/webhooks/payu", content=body, headers=headers)
    assert response.status_code < 500, response.text
    txn = await core_db.fetchrow("SELECT status, gateway_transaction_id FROM order_transactions WHERE id = $1",
                                 seeded["transaction_id"])
    order = await core_db.fetchrow("SELECT status, approved_amount FROM orders WHERE id = $1", seeded["order_id"])
    # Our charge is still live: the attempt pending with its own id, the order neither failed nor payable again.
    assert dict(txn) == {"status": "pending", "gateway_transaction_id": ours}
    assert dict(order) == {"status": "pending", "approved_amount": Decimal("0.00")}


@pytest.mark.scenario("ATTACK-PAYU-FOREIGN-ATTEMPT")
@pytest.mark.parametrize("foreign_first", [False, True])
async def test_two_approved_payu_charges_under_our_reference_flag_the_order(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, foreign_first: bool
) -> None:
    # PayU took the money twice under one reference: our charge and another transaction. The order must not look
    # simply paid: one charge is owed back, so the order is flagged for a refund and the anomaly says why.
    ours = str(uuid.uuid4())
    seeded = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id=ours)
    reference = str(seeded["reference"])
    foreign = await _submit_foreign(live, reference, approve=True)
    order_of = [foreign, ours] if foreign_first else [ours, foreign]
    for transaction_id in order_of:
        body, headers = _confirmation(live, reference, "APPROVED", transaction_id)
        response = await core.post("/webhooks/payu", content=body, headers=headers)
        assert response.status_code < 500, response.text
    order = await core_db.fetchrow("SELECT status, flagged_for_refund FROM orders WHERE id = $1", seeded["order_id"])
    assert dict(order) == {"status": "paid", "flagged_for_refund": True}
    kinds = {r["kind"] for r in await core_db.fetch("SELECT kind FROM payment_anomalies")}
    assert "double_payment" in kinds
