"""Genuine, signed words about one charge arriving in any order: backwards, sideways, repeated, on both gateways.

The attacker here is the network (or a gateway's retry schedule): every event is genuine, but they arrive late,
twice, or out of order — APPROVED then DECLINED, DECLINED then APPROVED, a VOIDED before the approval it voids.
The first final word about a charge decides it (a void may follow an approval); a later contradicting word never
moves money back or forth, and an approval after a failure flags the order for a refund instead. Never a 5xx.
Found nothing in the 2026-12-04 round: kept as the class test of status order for PayU and Wompi.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation, wompi_event

AMOUNT, CENTS = Decimal("50000.00"), 5_000_000
FAILED = {"DECLINED", "EXPIRED", "ERROR"}
_examples = itertools.count(1)
LIVE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)


def expected(words: list[str]) -> tuple[str, Decimal, bool, str]:
    """The model: (order status, approved amount, flagged, attempt status) after ``words`` about one charge."""
    attempt, flagged = "PENDING", False
    for word in words:
        if word == attempt or word == "PENDING":
            continue
        if attempt == "PENDING" or (attempt == "APPROVED" and word == "VOIDED"):
            attempt = word
        elif attempt in FAILED and word == "APPROVED":
            flagged = True
    order = {"PENDING": "pending", "APPROVED": "paid", "VOIDED": "cancelled"}.get(attempt, "failed")
    return order, AMOUNT if attempt == "APPROVED" else Decimal("0.00"), flagged, attempt.lower()


async def _state(db: asyncpg.Connection, order_id: object) -> tuple[object, ...]:
    row = await db.fetchrow("SELECT o.status::text, o.approved_amount, o.flagged_for_refund, t.status::text"
                            " FROM orders o JOIN order_transactions t ON t.order_id = o.id WHERE o.id = $1", order_id)
    return tuple(row)


@pytest.mark.scenario("ATTACK-STATUS-ORDER")
@LIVE
@given(words=st.lists(st.sampled_from(["PENDING", "APPROVED", "DECLINED", "VOIDED", "ERROR"]), min_size=1,
                      max_size=5))
async def test_wompi_words_about_one_charge_in_any_order_move_money_once_by_the_first_final_one(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, words: list[str]
) -> None:
    tx_id = f"118437-77-{next(_examples):05d}"
    seeded = await seed_transaction(core_db, gateway="wompi", amount=AMOUNT, gateway_transaction_id=tx_id)
    for word in words:
        body, headers = wompi_event(tx_id=tx_id, status=word, amount_in_cents=CENTS, reference="R",
                                    secret=live.creds["wompi"]["events_secret"])
        response = await core.post("/webhooks/wompi", content=body, headers=headers)
        assert response.status_code == 200, (words, response.text)
    assert await _state(core_db, seeded["order_id"]) == expected(words), words


@pytest.mark.scenario("ATTACK-STATUS-ORDER")
@LIVE
@given(words=st.lists(st.sampled_from(["PENDING", "APPROVED", "DECLINED", "EXPIRED"]), min_size=1, max_size=5))
async def test_payu_words_about_one_charge_in_any_order_move_money_once_by_the_first_final_one(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, words: list[str]
) -> None:
    tx_id = f"payu-order-{next(_examples):05d}"
    seeded = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id=tx_id)
    for word in words:
        form = payu_confirmation(reference_sale=str(seeded["reference"]), value=AMOUNT, status=word,
                                 api_key=live.creds["payu"]["api_key"], merchant_id=live.creds["payu"]["merchant_id"],
                                 transaction_id=tx_id)
        body, headers = form_body(form)
        response = await core.post("/webhooks/payu", content=body, headers=headers)
        assert response.status_code == 200, (words, response.text)
    assert await _state(core_db, seeded["order_id"]) == expected(words), words
