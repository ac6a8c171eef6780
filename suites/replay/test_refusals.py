"""Refused copies of genuine events: they never block the genuine event, and their copies write one row."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation, wompi_event_dict

pytestmark = pytest.mark.scenario("WH-REPLAY", "WH-REJECTED-NO-IDENTITY")
CENTS = 5_000_000
PAYU_TXN = "aa2f50b2-62a8-42de-b3be-c6fe08ec712f"


async def _rows(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("webhook_events", "webhook_event_conflicts", "payment_anomalies")}


async def test_a_copy_with_another_currency_is_refused_without_blocking_the_genuine_event(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-4-00001")
    genuine = wompi_event_dict(tx_id="118437-4-00001", status="APPROVED", amount_in_cents=CENTS,
                               reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"])
    copy = {**genuine, "data": {"transaction": {**genuine["data"]["transaction"], "currency": "USD"}}}
    refused = await core.post("/webhooks/wompi", json=copy)
    assert refused.status_code == 422, refused.text
    applied = await core.post("/webhooks/wompi", json=genuine)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    retry = await core.post("/webhooks/wompi", json=genuine)
    assert retry.json()["status"] == "duplicate"
    assert await target.order_status(str(seeded["order_id"])) == "paid"


async def test_copies_with_ever_different_unsigned_data_write_one_refusal_and_no_conflicts(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-4-00002")
    genuine = wompi_event_dict(tx_id="118437-4-00002", status="APPROVED", amount_in_cents=CENTS,
                               reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"])
    assert (await core.post("/webhooks/wompi", json=genuine)).status_code == 200
    for n in range(6):
        tx = {**genuine["data"]["transaction"], "reference": f"X-{n}", "customer_email": f"{n}@x.co"}
        same = await core.post("/webhooks/wompi", json={**genuine, "data": {"transaction": tx}})
        assert same.status_code == 200 and same.json()["status"] == "duplicate"
        other_currency = {**genuine, "data": {"transaction": {**tx, "currency": f"U{n}D"}}}
        assert (await core.post("/webhooks/wompi", json=other_currency)).status_code == 422
    # The genuine event, one refusal (currency) and its one anomaly: not one per copy.
    assert await _rows(core_db) == {"webhook_events": 2, "webhook_event_conflicts": 0, "payment_anomalies": 1}


async def test_payu_copies_with_forged_transaction_ids_write_one_refusal(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    creds = live.creds["payu"]
    genuine = payu_confirmation(reference_sale=str(seeded["reference"]), value=seeded["amount"],  # type: ignore[arg-type]
                                status="APPROVED", api_key=creds["api_key"], merchant_id=creds["merchant_id"],
                                transaction_id=PAYU_TXN)
    for n in range(4):
        forged = {**genuine, "transaction_id": f"00000000-0000-4000-8000-00000000000{n}"}
        body, headers = form_body(forged)
        assert (await core.post("/webhooks/payu", content=body, headers=headers)).status_code == 422
    assert await _rows(core_db) == {"webhook_events": 1, "webhook_event_conflicts": 0, "payment_anomalies": 1}
    body, headers = form_body(genuine)
    assert (await core.post("/webhooks/payu", content=body, headers=headers)).status_code == 200
    # PayU's retry differing in unsigned fields only is the same confirmation.
    body, headers = form_body({**genuine, "response_code_pol": "9", "reference_pol": "1", "attempts": "3"})
    again = await core.post("/webhooks/payu", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert await target.order_status(str(seeded["order_id"])) == "paid"
    assert (await _rows(core_db))["webhook_event_conflicts"] == 0
