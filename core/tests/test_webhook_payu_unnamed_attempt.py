"""PayU confirmations while the attempt does not hold PayU's id for its charge yet (the submit's answer not stored).

PayU may hold several transactions under one ``reference_sale`` (one per attempt of a sale, gateways.md §4).
Here PayU's Queries API is faked, so any list of them in any states can be drawn and the core driven through
HTTP; suites/attacker/test_payu_unnamed_attempt.py drives the same holes end to end against the PayU simulator
holding a buyer's retry under the reference. The foreign-attempt rules must hold while the attempt's id is empty
too:

- PayU lists another transaction under the reference that is not failed (pending, approved, no state): a failure
  of one transaction does not end the attempt (its own charge may still take the money);
- two approved transactions under the reference are money taken twice: the order is flagged for a refund,
  whichever confirmation arrives first, and PayU's re-deliveries add nothing.

Red before (attack round of 2026-12-04): the decline ended the attempt (order failed, payable again) while the
charge was pending or approved at PayU, and the second approval was SAME (no flag, a charge never refunded).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.signing.payu import confirmation_sign
from core.tests.apikit import SECRETS, Core, FakeGateways, _json, make_settings, running_core

if TYPE_CHECKING:
    from conftest import Database

AMOUNT = Decimal("50000.00")
STATE_POL = {"APPROVED": "4", "DECLINED": "6", "EXPIRED": "5", "ERROR": "104", "PENDING": "7"}
FAILED = {"DECLINED", "EXPIRED", "ERROR"}
_references = itertools.count(1)


class PayUWithSeveral(FakeGateways):
    """FakeGateways whose PayU Queries API lists ``under[reference]``: (transaction id, state) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.under: dict[str, list[tuple[str, str]]] = {}

    def _payu(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("command") != "ORDER_DETAIL_BY_REFERENCE_CODE":
            return super()._payu(request)
        reference = body["details"]["referenceCode"]
        transactions = [{"id": tid, "type": "AUTHORIZATION_AND_CAPTURE",
                         "transactionResponse": {"state": state, "responseCode": state, "transactionId": tid}}
                        for tid, state in self.under.get(reference, [])]
        orders = [{"id": 1400449660, "referenceCode": reference, "status": "CAPTURED",
                   "transactions": transactions}] if transactions else None
        return _json(200, {"code": "SUCCESS", "error": None, "result": {"payload": orders}})


async def _attempt(conn: asyncpg.Connection) -> tuple[int, str]:
    """An order and its pending PayU attempt whose PayU id is not stored yet; (order id, reference)."""
    n = next(_references)
    order_id = await conn.fetchval("INSERT INTO orders (reference, buyer_id, total_amount) VALUES ($1, 'b', $2)"
                                   " RETURNING id", f"ORD-UN-{n}", AMOUNT)
    reference = f"ORD-UN-{n}-a"
    await conn.execute("INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount,"
                       " currency, status) VALUES ($1, 'payu', $2, 'CARD', $3, 'COP', 'pending')",
                       order_id, reference, AMOUNT)
    return order_id, reference


async def _confirm(core: Core, reference: str, state: str, transaction_id: str) -> httpx.Response:
    value, pol = f"{AMOUNT:.2f}", STATE_POL[state]
    form = {"merchant_id": "508029", "reference_sale": reference, "value": value, "currency": "COP",
            "state_pol": pol, "transaction_id": transaction_id, "reference_pol": "1400449660",
            "sign": confirmation_sign(SECRETS["payu_api_key"], "508029", reference, value, "COP", pol)}
    response = await core.client.post("/webhooks/payu", content=urlencode(form).encode(),
                                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code < 500, response.text
    return response


async def _state(conn: asyncpg.Connection, order_id: int) -> tuple[str, Decimal, bool, str]:
    row = await conn.fetchrow("SELECT o.status::text, o.approved_amount, o.flagged_for_refund, t.status::text"
                              " FROM orders o JOIN order_transactions t ON t.order_id = o.id WHERE o.id = $1",
                              order_id)
    return (row[0], row[1], row[2], row[3])


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@pytest.mark.parametrize("ours", ["PENDING", "APPROVED"])
async def test_a_declined_transaction_does_not_end_an_unnamed_attempt_while_payu_lists_a_live_one(
    database: Database, conn: asyncpg.Connection, ours: str
) -> None:
    payu = PayUWithSeveral()
    async with running_core(make_settings(database.url), payu) as core:
        order_id, reference = await _attempt(conn)
        payu.under[reference] = [("T-ours", ours), ("T-declined", "DECLINED")]
        await _confirm(core, reference, "DECLINED", "T-declined")
        assert await _state(conn, order_id) == ("pending", Decimal("0.00"), False, "pending")
        if ours == "APPROVED":
            assert (await _confirm(core, reference, "APPROVED", "T-ours")).status_code == 200
            assert await _state(conn, order_id) == ("paid", AMOUNT, False, "approved")


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@pytest.mark.parametrize("order", [("T-1", "T-2"), ("T-2", "T-1")])
async def test_two_approved_transactions_under_an_unnamed_attempt_flag_the_order_once(
    database: Database, conn: asyncpg.Connection, order: tuple[str, str]
) -> None:
    payu = PayUWithSeveral()
    async with running_core(make_settings(database.url), payu) as core:
        order_id, reference = await _attempt(conn)
        payu.under[reference] = [("T-1", "APPROVED"), ("T-2", "APPROVED")]
        for transaction_id in (*order, *order):  # PayU's re-deliveries change nothing more
            await _confirm(core, reference, "APPROVED", transaction_id)
    assert await _state(conn, order_id) == ("paid", AMOUNT, True, "approved")
    assert [r[0] for r in await conn.fetch("SELECT kind::text FROM payment_anomalies")] == ["double_payment"]


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
async def test_two_approvals_racing_to_name_the_attempt_leave_one_charge_counted_and_the_order_flagged(
    database: Database, conn: asyncpg.Connection
) -> None:
    # The guard is ADOPT's "no id yet, or this one" condition: under READ COMMITTED the loser's UPDATE re-reads the
    # row after the winner's commit and matches nothing, so it is the foreign one. Without it both "adopt".
    payu = PayUWithSeveral()
    async with running_core(make_settings(database.url), payu) as core:
        orders = []
        for n in range(5):
            order_id, reference = await _attempt(conn)
            payu.under[reference] = [(f"R{n}-1", "APPROVED"), (f"R{n}-2", "APPROVED")]
            orders.append((order_id, reference, n))
        await asyncio.gather(*(_confirm(core, reference, "APPROVED", f"R{n}-{i}")
                               for _, reference, n in orders for i in (1, 2)))
    for order_id, _, _ in orders:
        assert await _state(conn, order_id) == ("paid", AMOUNT, True, "approved")
    assert await conn.fetchval("SELECT count(*) FROM payment_anomalies WHERE kind = 'double_payment'") == 5


# The class: any number of transactions under the reference in any states, confirmations in any order. What
# the order may show is decided by PayU's list alone: paid iff one is approved, flagged iff two are, failed
# only when every transaction PayU lists has failed, and never a 5xx.
_states = st.lists(st.sampled_from(["APPROVED", "DECLINED", "EXPIRED", "ERROR", "PENDING"]), min_size=1, max_size=4)


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=25,
          deadline=None)
@given(states=_states, data=st.data())
async def test_any_confirmations_under_an_unnamed_attempt_never_end_it_early_nor_hide_a_second_charge(
    database: Database, conn: asyncpg.Connection, states: list[str], data: st.DataObject
) -> None:
    payu = PayUWithSeveral()
    example = next(_references)  # PayU's ids are unique: fresh ones per example (the database outlives it)
    listed = [(f"T-{example}-{i}", s) for i, s in enumerate(states)]
    sent = data.draw(st.lists(st.sampled_from([t for t, s in listed if s != "PENDING"] or [listed[0][0]]), max_size=6),
                     label="confirmations")
    async with running_core(make_settings(database.url), payu) as core:
        order_id, reference = await _attempt(conn)
        payu.under[reference] = listed
        for transaction_id in sent:
            await _confirm(core, reference, dict(listed)[transaction_id], transaction_id)
    status, approved, flagged, attempt = await _state(conn, order_id)
    said = {dict(listed)[t] for t in sent}
    approvals = sum(1 for t in set(sent) if dict(listed)[t] == "APPROVED")
    if approvals:
        assert (status, approved, attempt) == ("paid", AMOUNT, "approved"), (listed, sent)
    else:
        assert approved == Decimal("0.00"), (listed, sent)
    assert flagged == (approvals >= 2), (listed, sent)
    if status == "failed" or attempt in {s.lower() for s in FAILED}:
        # Ended as failed only when every transaction PayU lists under the reference has failed.
        assert all(s in FAILED for _, s in listed), (listed, sent)
        assert said <= FAILED


class ConfirmedDuringSubmit(PayUWithSeveral):
    """PayU confirms another approved transaction under the reference while the core's submit is still in flight."""

    core: Core | None = None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle(request)
        body = json.loads(request.content) if request.url.host == "payu.test" else {}
        if body.get("command") == "SUBMIT_TRANSACTION" and self.core is not None:
            reference = body["transaction"]["order"]["referenceCode"]
            ours = response.json()["transactionResponse"]["transactionId"]
            self.under[reference] = [("T-first", "APPROVED"), (ours, "APPROVED")]
            assert (await _confirm(self.core, reference, "APPROVED", "T-first")).status_code == 200
        return response


@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
async def test_a_submit_answer_approving_another_transaction_than_the_attempt_adopted_flags_the_order(
    database: Database, conn: asyncpg.Connection
) -> None:
    # The webhook adopted the first approved transaction as the attempt's charge; the submit's own answer then
    # names another approved one. Red before: the answer's id was (rightly) not written over the adopted one, but
    # its approval was applied to the attempt as if it were the same charge — SAME, no flag, one charge unrefunded.
    gateways = ConfirmedDuringSubmit()
    async with running_core(make_settings(database.url), gateways) as core:
        gateways.core = core
        order = await core.create_order("buyer-1", str(AMOUNT))
        body = {"order_id": order["id"], "amount": order["outstanding_amount"], "currency": "COP", "method": "CARD",
                "customer_email": "ana@example.com", "gateway": "payu",
                "card": {"number": "4037997623271984", "cvc": "321", "exp_month": 12, "exp_year": 2030,
                         "holder": "APPROVED"},
                "payer": {"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "123456789"}}
        answer = await core.client.post("/payments/process", json=body,
                                        headers=core.auth("buyer-1", **{"Idempotency-Key": "submit-raced-0001"}))
    assert answer.status_code == 200, answer.text
    assert await _state(conn, order["id"]) == ("paid", AMOUNT, True, "approved")
    assert [r[0] for r in await conn.fetch("SELECT kind::text FROM payment_anomalies")] == ["double_payment"]


# The same class on the other path that ends an attempt from PayU's records: the reference lookup (core/api/resolve.py,
# here through POST /admin/attempts/{reference}/resolve). Red before: it took PayU's *latest* transaction as the
# charge (a decline after a still pending one ended the attempt) and the first of two approved ones (no flag).
@pytest.mark.scenario("ATTACK-PAYU-UNNAMED-ATTEMPT")
@pytest.mark.parametrize(("listed", "after"), [
    ([("T-live", "PENDING"), ("T-no", "DECLINED")], ("pending", Decimal("0.00"), False, "pending")),
    ([("T-no", "DECLINED"), ("T-no2", "EXPIRED")], ("failed", Decimal("0.00"), False, "expired")),
    ([("T-a", "APPROVED"), ("T-no", "DECLINED")], ("paid", AMOUNT, False, "approved")),
    ([("T-a", "APPROVED"), ("T-b", "APPROVED")], ("pending", Decimal("0.00"), False, "pending")),
], ids=["pending-then-declined", "all-failed", "approved-and-declined", "two-approved"])
async def test_the_reference_lookup_ends_an_unnamed_attempt_only_on_what_every_payu_transaction_says(
    database: Database, conn: asyncpg.Connection, listed: list[tuple[str, str]], after: tuple[object, ...]
) -> None:
    payu = PayUWithSeveral()
    async with running_core(make_settings(database.url), payu) as core:
        order_id, reference = await _attempt(conn)
        payu.under[reference] = [(f"{t}-{order_id}", s) for t, s in listed]
        answer = await core.client.post(f"/admin/attempts/{reference}/resolve", headers=core.auth("ops", "admin"))
    assert answer.status_code == 200, answer.text
    assert await _state(conn, order_id) == after, answer.text
    kinds = [r[0] for r in await conn.fetch("SELECT kind::text FROM payment_anomalies")]
    assert kinds == (["double_payment"] if len([s for _, s in listed if s == "APPROVED"]) > 1 else []), kinds
