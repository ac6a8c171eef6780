"""A PayU refund or void under our reference is money going back, never a second charge.

PayU's Queries API lists every transaction of an order — the charge, and any ``REFUND``, ``VOID`` or ``CAPTURE``
made of it later — each with its own id and its own state. The confirmation's ``transaction_id`` is unsigned
(gateways.md §1.7), so a confirmation naming one of those, with the signed fields of the genuine approval
(``state_pol`` 4, the same value), verifies. The hole (attack4): the core read PayU's answer for *every* listed
transaction as a charge's, so an approved refund became "another approved charge under the reference": the
paid order was flagged as a double payment (a person would refund the buyer a second time), and an attempt not
yet holding its charge's id adopted the refund's id as its charge.

The class: for each non-charge type, whether the attempt already holds its charge's id or not, a confirmation
naming the non-charge transaction neither flags the order nor names the attempt; the charge's own
confirmation still pays the order once.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from core.tests.apikit import _json, make_settings, running_core
from core.tests.test_webhook_payu_unnamed_attempt import AMOUNT, PayUWithSeveral, _attempt, _confirm, _state

if TYPE_CHECKING:
    from conftest import Database


class PayUWithTypes(PayUWithSeveral):
    """PayU's Queries API listing a charge and a later transaction of another ``type`` made of it."""

    def __init__(self, other_type: str) -> None:
        super().__init__()
        self.other_type = other_type

    def _payu(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("command") != "ORDER_DETAIL_BY_REFERENCE_CODE":
            return super()._payu(request)
        reference = body["details"]["referenceCode"]
        listed = self.under.get(reference, [])
        transactions = [{"id": tid, "type": "AUTHORIZATION_AND_CAPTURE" if n == 0 else self.other_type,
                         "transactionResponse": {"state": state, "responseCode": state, "transactionId": tid}}
                        for n, (tid, state) in enumerate(listed)]
        orders = [{"id": 1400449661, "referenceCode": reference, "status": "REFUNDED",
                   "transactions": transactions}] if transactions else None
        return _json(200, {"code": "SUCCESS", "error": None, "result": {"payload": orders}})


@pytest.mark.scenario("ATTACK-PAYU-FOREIGN-ATTEMPT")
@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
@pytest.mark.parametrize("other_type", ["REFUND", "VOID", "CAPTURE"])
async def test_an_approved_refund_or_void_under_the_reference_is_not_a_second_charge(
    database: Database, conn: asyncpg.Connection, other_type: str, named: bool
) -> None:
    payu = PayUWithTypes(other_type)
    async with running_core(make_settings(database.url), payu) as core:
        order_id, reference = await _attempt(conn)
        payu.under[reference] = [("T-charge", "APPROVED"), ("T-back", "APPROVED")]
        if named:
            assert (await _confirm(core, reference, "APPROVED", "T-charge")).status_code == 200
        other = await _confirm(core, reference, "APPROVED", "T-back")
        if not named:
            assert (await _confirm(core, reference, "APPROVED", "T-charge")).status_code == 200
        gid = await conn.fetchval("SELECT gateway_transaction_id FROM order_transactions WHERE reference = $1",
                                  reference)
        kinds = [r[0] for r in await conn.fetch("SELECT kind::text FROM payment_anomalies")]
    assert other.status_code == 422, other.text  # not a charge of ours: refused, recorded, nothing applied
    assert gid == "T-charge"
    assert await _state(conn, order_id) == ("paid", AMOUNT, False, "approved")
    assert "double_payment" not in kinds


@pytest.mark.scenario("ATTACK-PAYU-FOREIGN-ATTEMPT")
@pytest.mark.parametrize("other_type", ["REFUND", "VOID", "CAPTURE"])
async def test_the_reference_lookup_holds_an_attempt_whose_charge_payu_returned_and_calls_it_no_double_payment(
    database: Database, conn: asyncpg.Connection, other_type: str
) -> None:
    payu = PayUWithTypes(other_type)
    async with running_core(make_settings(database.url), payu) as core:
        order_id, reference = await _attempt(conn)
        payu.under[reference] = [("T-charge", "APPROVED"), ("T-back", "APPROVED")]
        resolved = await core.client.post(f"/admin/attempts/{reference}/resolve", headers=core.auth("ops-1", "admin"))
        kinds = [r[0] for r in await conn.fetch("SELECT kind::text FROM payment_anomalies")]
    assert resolved.status_code == 200 and resolved.json()["found"] == "held", resolved.text
    assert await _state(conn, order_id) == ("pending", Decimal("0.00"), False, "pending")
    assert kinds == ["identity_conflict"]  # for a person to look at; not "double_payment" (a refund to make)
