"""Confused identities: an event about one gateway's or one order's charge never moves another's.

Identifiers of different gateways share one table (``order_transactions``): a Wompi id, a PayU transaction id
and an Efecty payment code are all strings, and references of every gateway too. A genuine event naming a
value that happens to be (or is made to be) another gateway's id or reference must match nothing of that
gateway; Wompi's unsigned ``reference`` naming another order must not lead the event there.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import httpx
import pytest

from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation, wompi_event

AMOUNT = Decimal("50000.00")


async def _states(db: asyncpg.Connection) -> list[tuple[object, ...]]:
    rows = await db.fetch("SELECT o.id, o.status, o.approved_amount, o.flagged_for_refund, t.status AS t_status"
                          " FROM orders o JOIN order_transactions t ON t.order_id = o.id ORDER BY o.id")
    return [tuple(r) for r in rows]


@pytest.mark.scenario("ATTACK-CROSS-GATEWAY")
async def test_a_genuine_wompi_event_naming_a_payu_or_efecty_id_moves_neither(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    payu = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id="7777-1-00001")
    efecty = await seed_transaction(core_db, gateway="efecty", amount=AMOUNT, gateway_transaction_id="EFE-1-ABCDEF")
    before = await _states(core_db)
    secret = live.creds["wompi"]["events_secret"]
    for seeded in (payu, efecty):
        for tx_id in (str(seeded["gateway_transaction_id"]), str(seeded["reference"])):
            body, headers = wompi_event(tx_id=tx_id, status="APPROVED", amount_in_cents=5_000_000,
                                        reference=str(seeded["reference"]), secret=secret)
            response = await core.post("/webhooks/wompi", content=body, headers=headers)
            assert response.status_code == 422, (tx_id, response.text)
    assert await _states(core_db) == before


@pytest.mark.scenario("ATTACK-CROSS-GATEWAY")
async def test_a_genuine_payu_confirmation_naming_a_wompi_or_efecty_reference_moves_neither(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    wompi = await seed_transaction(core_db, gateway="wompi", amount=AMOUNT, gateway_transaction_id="1234-1-00009")
    efecty = await seed_transaction(core_db, gateway="efecty", amount=AMOUNT, gateway_transaction_id="EFE-2-ABCDEF")
    before = await _states(core_db)
    for seeded in (wompi, efecty):
        for reference in (str(seeded["reference"]), str(seeded["gateway_transaction_id"])):
            form = payu_confirmation(reference_sale=reference, value=AMOUNT, status="APPROVED",
                                     api_key=live.creds["payu"]["api_key"],
                                     merchant_id=live.creds["payu"]["merchant_id"],
                                     transaction_id=str(seeded["gateway_transaction_id"]))
            body, headers = form_body(form)
            response = await core.post("/webhooks/payu", content=body, headers=headers)
            assert response.status_code == 422, (reference, response.text)
    assert await _states(core_db) == before


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
