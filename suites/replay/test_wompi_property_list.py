"""Wompi's property list is the sender's choice: events re-listed around captured checksums move no money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from suites.conftest import Live, seed_transaction
from suites.support.events import wompi_event_dict

pytestmark = pytest.mark.scenario("WH-SIGNATURE", "WH-PROPERTY-LIST")
CENTS = 5_000_000


def _concatenation(event: dict[str, Any]) -> str:
    tx = event["data"]["transaction"]
    return "".join(str(tx[p.split(".")[1]]) for p in event["signature"]["properties"])


def _relisted(captured: dict[str, Any], **acted_on: object) -> dict[str, Any]:
    """The captured checksum and timestamp kept; one unsigned field carries the captured concatenation."""
    forged = {**captured, "data": {"transaction": {**captured["data"]["transaction"], **acted_on}},
              "signature": {"properties": ["transaction.customer_email"],
                            "checksum": captured["signature"]["checksum"]}}
    forged["data"]["transaction"]["customer_email"] = _concatenation(captured)
    return forged


async def _state(db: asyncpg.Connection, order_id: object) -> tuple[Any, ...]:
    order = await db.fetchrow("SELECT status, approved_amount FROM orders WHERE id = $1", order_id)
    events = await db.fetchval("SELECT count(*) FROM webhook_events")
    return order["status"], order["approved_amount"], events


async def test_a_declined_card_is_not_paid_by_an_approved_event_built_from_its_own_declined_event(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-3-00001")
    declined = wompi_event_dict(tx_id="118437-3-00001", status="DECLINED", amount_in_cents=CENTS,
                                reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"])
    forged = _relisted(declined, status="APPROVED")
    headers = {"x-event-checksum": forged["signature"]["checksum"]}
    response = await core.post("/webhooks/wompi", json=forged, headers=headers)
    assert response.status_code == 401, response.text
    assert await _state(core_db, seeded["order_id"]) == ("pending", Decimal("0.00"), 0)
    # The genuine event still applies afterwards.
    assert (await core.post("/webhooks/wompi", json=declined)).status_code == 200
    assert (await _state(core_db, seeded["order_id"]))[0] == "failed"


async def test_another_buyers_paid_order_is_not_cancelled_by_a_voided_event_built_from_mine(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    secret = live.creds["wompi"]["events_secret"]
    mine = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-3-00002")
    victim = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-3-00003",
                                    buyer_id="buyer-2")
    paid = wompi_event_dict(tx_id="118437-3-00003", status="APPROVED", amount_in_cents=CENTS,
                            reference=str(victim["reference"]), secret=secret)
    assert (await core.post("/webhooks/wompi", json=paid)).status_code == 200
    before = await _state(core_db, victim["order_id"])
    assert before[:2] == ("paid", Decimal("50000.00"))
    captured = wompi_event_dict(tx_id="118437-3-00002", status="APPROVED", amount_in_cents=CENTS,
                                reference=str(mine["reference"]), secret=secret)
    forged = _relisted(captured, id="118437-3-00003", status="VOIDED")
    assert (await core.post("/webhooks/wompi", json=forged)).status_code == 401
    assert await _state(core_db, victim["order_id"]) == before
