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


async def _submit_foreign_decline(live: Live, reference: str) -> str:
    """A second PayU transaction under our reference, declined (the sandbox's REJECTED card)."""
    body = card_request(reference, value=int(AMOUNT), holder="REJECTED", cvv="666", expiration="2030/07")
    async with client(base_url=live.urls["payu"], timeout=30) as payu:
        response = await payu.post(PAYMENTS_PATH, json=body)
    answer = response.json()["transactionResponse"]
    assert answer["state"] == "DECLINED", answer
    return str(answer["transactionId"])


@pytest.mark.scenario("ATTACK-PAYU-FOREIGN-ATTEMPT")
@pytest.mark.parametrize("status", ["DECLINED", "EXPIRED"])
async def test_a_failed_confirmation_of_another_payu_transaction_leaves_our_pending_charge_live(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, status: str
) -> None:
    ours = str(uuid.uuid4())  # the id PayU gave the core for its charge, still pending
    seeded = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id=ours)
    reference = str(seeded["reference"])
    foreign = await _submit_foreign_decline(live, reference)
    form = payu_confirmation(reference_sale=reference, value=AMOUNT, status=status,
                             api_key=live.creds["payu"]["api_key"], merchant_id=live.creds["payu"]["merchant_id"],
                             transaction_id=foreign)
    body, headers = form_body(form)
    response = await core.post("/webhooks/payu", content=body, headers=headers)
    assert response.status_code < 500, response.text
    txn = await core_db.fetchrow("SELECT status, gateway_transaction_id FROM order_transactions WHERE id = $1",
                                 seeded["transaction_id"])
    order = await core_db.fetchrow("SELECT status, approved_amount FROM orders WHERE id = $1", seeded["order_id"])
    # Our charge is still live: the attempt pending with its own id, the order neither failed nor payable again.
    assert dict(txn) == {"status": "pending", "gateway_transaction_id": ours}
    assert dict(order) == {"status": "pending", "approved_amount": Decimal("0.00")}
