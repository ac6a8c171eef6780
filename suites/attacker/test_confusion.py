"""Confused identities: an event about one gateway's or one order's charge never moves another's.

Identifiers of different gateways share one table (``order_transactions``): a Wompi id, a PayU transaction id
and an Efecty payment code are all strings, and references of every gateway too. A genuine event naming a
value that happens to be (or is made to be) another gateway's id or reference must match nothing of that
gateway; Wompi's unsigned ``reference`` naming another order must not lead the event there.

The first two reach the core through its profile (payments started, events posted, outcome observed); the
third needs an attempt with no gateway id yet beside a charged one, which no request leaves behind: SQL.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live, seed_transaction
from suites.support.api import Actor
from suites.support.core_target import CoreOnly
from suites.support.events import form_body, payu_confirmation, wompi_event

AMOUNT = Decimal("50000.00")


async def _states(db: asyncpg.Connection) -> list[tuple[object, ...]]:
    rows = await db.fetch("SELECT o.id, o.status, o.approved_amount, o.flagged_for_refund, t.status AS t_status"
                          " FROM orders o JOIN order_transactions t ON t.order_id = o.id ORDER BY o.id")
    return [tuple(r) for r in rows]


async def _pending(target: Target, live: Live, gateway: str) -> dict[str, str]:
    """An order with a pending ``gateway`` attempt started through the core's profile, and the ids it holds."""
    buyer = Actor.buyer(live)
    order = await target.create_order(AMOUNT, user=buyer.headers)
    assert order.order_id is not None, order.text
    paid = await target.pay(gateway, order.order_id, AMOUNT, user=buyer.headers)
    assert paid.status == 200 and paid.reference, paid.text
    [row] = await target.transactions(order.order_id)
    assert row["status"] == "pending" and row["gateway_id"], row
    return {"order_id": order.order_id, "reference": paid.reference, "gateway_id": str(row["gateway_id"])}


async def _observed(target: Target, core_only: CoreOnly, *orders: dict[str, str]) -> list[tuple[object, ...]]:
    """Each order's status, amount paid and attempts through the profile; its refund flag (core-only)."""
    seen: list[tuple[object, ...]] = []
    async with core_only.schema() as db:
        for o in orders:
            rows = sorted((r["gateway_id"], r["status"]) for r in await target.transactions(o["order_id"]))
            flagged = await db.fetchval("SELECT flagged_for_refund FROM orders WHERE id = $1", int(o["order_id"]))
            seen.append((await target.order_status(o["order_id"]), await target.amount_paid(o["order_id"]), flagged,
                         rows))
    return seen


@pytest.mark.scenario("ATTACK-CROSS-GATEWAY")
async def test_a_genuine_wompi_event_naming_a_payu_or_efecty_id_moves_neither(
    live: Live, target: Target, core_only: CoreOnly
) -> None:
    # Through the core's profile: a pending PayU card (holder PENDING) and an Efecty voucher, whose ids (PayU's
    # transaction id, the voucher's payment code) and references a signed Wompi event then names.
    payu, efecty = await _pending(target, live, "payu"), await _pending(target, live, "efecty")
    before = await _observed(target, core_only, payu, efecty)
    secret = live.creds["wompi"]["events_secret"]
    for pending in (payu, efecty):
        for tx_id in (pending["gateway_id"], pending["reference"]):
            body, headers = wompi_event(tx_id=tx_id, status="APPROVED", amount_in_cents=5_000_000,
                                        reference=pending["reference"], secret=secret)
            response = await target.post_webhook("wompi", body, headers)
            assert response.status_code == 422, (tx_id, response.text)  # the core's refusal of an unknown id
    assert await _observed(target, core_only, payu, efecty) == before


@pytest.mark.scenario("ATTACK-CROSS-GATEWAY")
async def test_a_genuine_payu_confirmation_naming_a_wompi_or_efecty_reference_moves_neither(
    live: Live, target: Target, core_only: CoreOnly
) -> None:
    wompi, efecty = await _pending(target, live, "wompi"), await _pending(target, live, "efecty")
    before = await _observed(target, core_only, wompi, efecty)
    for pending in (wompi, efecty):
        for reference in (pending["reference"], pending["gateway_id"]):
            form = payu_confirmation(reference_sale=reference, value=AMOUNT, status="APPROVED",
                                     api_key=live.creds["payu"]["api_key"],
                                     merchant_id=live.creds["payu"]["merchant_id"],
                                     transaction_id=pending["gateway_id"])
            response = await target.post_webhook("payu", *form_body(form))
            assert response.status_code == 422, (reference, response.text)
    assert await _observed(target, core_only, wompi, efecty) == before


@pytest.mark.scenario("ATTACK-CROSS-GATEWAY")
async def test_a_wompi_event_whose_unsigned_reference_names_another_order_moves_only_its_own(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    ours = await seed_transaction(core_db, gateway="wompi", amount=AMOUNT, gateway_transaction_id="1234-1-00010")
    other = await seed_transaction(core_db, gateway="wompi", amount=AMOUNT, gateway_transaction_id=None)
    body, headers = wompi_event(tx_id="1234-1-00010", status="APPROVED", amount_in_cents=5_000_000,
                                reference=str(other["reference"]), secret=live.creds["wompi"]["events_secret"])
    response = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert response.status_code == 200, response.text
    states = {row[0]: row[1:] for row in await _states(core_db)}
    assert states[ours["order_id"]] == ("paid", AMOUNT, False, "approved")
    assert states[other["order_id"]] == ("pending", Decimal("0.00"), False, "pending")
    # The other attempt did not adopt the id either: it still waits for its own charge.
    assert await core_db.fetchval("SELECT gateway_transaction_id FROM order_transactions WHERE id = $1",
                                  other["transaction_id"]) is None
