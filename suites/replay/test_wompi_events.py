"""Wompi events against the live core: replays, tampering, stale and forged signatures."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from suites.conftest import Live, seed_transaction
from suites.support.events import wompi_event, wompi_event_dict

pytestmark = pytest.mark.scenario("WH-REPLAY")
AMOUNT = Decimal("50000.00")


async def _counts(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("webhook_events", "webhook_event_conflicts", "payment_anomalies")}


async def _order(db: asyncpg.Connection, order_id: object) -> asyncpg.Record:
    return await db.fetchrow("SELECT status, approved_amount, flagged_for_refund FROM orders WHERE id = $1", order_id)


def _secret(live: Live) -> str:
    return live.creds["wompi"]["events_secret"]


async def test_identical_replay_answers_200_and_changes_nothing(live: Live, core: httpx.AsyncClient,
                                                                core_db: asyncpg.Connection) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00001")
    body, headers = wompi_event(tx_id="118437-1-00001", status="APPROVED", amount_in_cents=5_000_000,
                                reference=str(seeded["reference"]), secret=_secret(live))
    first = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "applied"
    before = (await _counts(core_db), dict(await _order(core_db, seeded["order_id"])))
    replay = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    after = (await _counts(core_db), dict(await _order(core_db, seeded["order_id"])))
    assert after == before
    assert before[1] == {"status": "paid", "approved_amount": AMOUNT, "flagged_for_refund": False}


@pytest.mark.scenario("WH-SIGNATURE")
@pytest.mark.parametrize(("field", "value"), [("status", "APPROVED"), ("amount_in_cents", 1),
                                              ("id", "118437-1-99999")])
async def test_tampered_signed_field_is_refused_with_401_and_writes_nothing(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, field: str, value: object
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00002")
    event = wompi_event_dict(tx_id="118437-1-00002", status="DECLINED", amount_in_cents=5_000_000,
                             reference=str(seeded["reference"]), secret=_secret(live))
    event["data"]["transaction"][field] = value
    response = await core.post("/webhooks/wompi", json=event)
    assert response.status_code == 401
    assert await _counts(core_db) == {"webhook_events": 0, "webhook_event_conflicts": 0, "payment_anomalies": 0}
    assert (await _order(core_db, seeded["order_id"]))["status"] == "pending"


async def test_tampered_unsigned_reference_moves_no_money_to_another_order(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    mine = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00003")
    victim = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00004")
    # A valid event for my transaction, re-pointed at the victim's reference (not covered by the checksum).
    event = wompi_event_dict(tx_id="118437-1-00003", status="APPROVED", amount_in_cents=5_000_000,
                             reference=str(victim["reference"]), secret=_secret(live))
    assert (await core.post("/webhooks/wompi", json=event)).status_code == 200
    assert (await _order(core_db, mine["order_id"]))["status"] == "paid"
    assert (await _order(core_db, victim["order_id"]))["status"] == "pending"
    # The honest event arriving afterwards differs only in an unsigned field the core never acts on: the same
    # event (a duplicate), not a conflict — a conflict row per tampered copy would grow without bound.
    honest = wompi_event_dict(tx_id="118437-1-00003", status="APPROVED", amount_in_cents=5_000_000,
                              reference=str(mine["reference"]), secret=_secret(live))
    again = await core.post("/webhooks/wompi", json=honest)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert (await _counts(core_db))["webhook_event_conflicts"] == 0
    assert (await _order(core_db, mine["order_id"]))["approved_amount"] == AMOUNT


@pytest.mark.parametrize(("offset", "code"), [(-3 * 24 * 3600, "stale_event"), (3600, "future_event")])
async def test_stale_and_future_timestamps_are_refused(live: Live, core: httpx.AsyncClient,
                                                       core_db: asyncpg.Connection, offset: int, code: str) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00005")
    body, headers = wompi_event(tx_id="118437-1-00005", status="APPROVED", amount_in_cents=5_000_000,
                                reference=str(seeded["reference"]), secret=_secret(live),
                                timestamp=int(time.time()) + offset)
    response = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert (await _counts(core_db))["webhook_events"] == 0


async def test_an_event_a_day_old_is_still_accepted_because_wompi_retries_for_24_hours(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00006")
    body, headers = wompi_event(tx_id="118437-1-00006", status="APPROVED", amount_in_cents=5_000_000,
                                reference=str(seeded["reference"]), secret=_secret(live),
                                timestamp=int(time.time()) - 25 * 3600)
    assert (await core.post("/webhooks/wompi", content=body, headers=headers)).status_code == 200


async def test_missing_signature_wrong_secret_and_mismatched_header_are_refused(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00007")
    kwargs: dict[str, Any] = {"tx_id": "118437-1-00007", "status": "APPROVED", "amount_in_cents": 5_000_000,
              "reference": str(seeded["reference"])}
    unsigned = wompi_event_dict(secret=_secret(live), **kwargs)
    del unsigned["signature"]["checksum"]
    wrong_secret, wrong_headers = wompi_event(secret="test_events_not_the_merchants_secret", **kwargs)
    good = wompi_event_dict(secret=_secret(live), **kwargs)
    other = wompi_event_dict(secret=_secret(live), **{**kwargs, "status": "DECLINED"})
    attempts = [
        await core.post("/webhooks/wompi", json=unsigned),
        await core.post("/webhooks/wompi", content=wrong_secret, headers=wrong_headers),
        await core.post("/webhooks/wompi", content=json.dumps(good),
                        headers={"content-type": "application/json",
                                 "x-event-checksum": other["signature"]["checksum"]}),
    ]
    assert [r.status_code for r in attempts] == [401, 401, 401]
    assert await _counts(core_db) == {"webhook_events": 0, "webhook_event_conflicts": 0, "payment_anomalies": 0}


@pytest.mark.scenario("WH-AMOUNT-CHECK", "WH-EVENT-LINKED")
async def test_an_amount_that_differs_from_the_charge_is_refused_and_flagged(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="118437-1-00008")
    body, headers = wompi_event(tx_id="118437-1-00008", status="APPROVED", amount_in_cents=100,
                                reference=str(seeded["reference"]), secret=_secret(live))
    response = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert response.status_code == 422
    assert (await _order(core_db, seeded["order_id"]))["status"] == "pending"
    kinds = [r["kind"] for r in await core_db.fetch("SELECT kind FROM payment_anomalies")]
    assert kinds == ["amount_mismatch"]
    linked = await core_db.fetchval("SELECT transaction_id FROM webhook_events")
    assert linked == seeded["transaction_id"]


async def test_an_event_for_a_transaction_nobody_created_is_recorded_and_not_applied(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    body, headers = wompi_event(tx_id="118437-1-77777", status="APPROVED", amount_in_cents=5_000_000,
                                reference="ORD-nobody", secret=_secret(live))
    response = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert response.status_code == 422
    assert [r["kind"] for r in await core_db.fetch("SELECT kind FROM payment_anomalies")] == ["unknown_reference"]
    assert await core_db.fetchval("SELECT count(*) FROM orders WHERE status = 'paid'") == 0


@pytest.mark.scenario("WH-MALFORMED")
async def test_malformed_json_is_a_422_and_writes_nothing(live: Live, core: httpx.AsyncClient,
                                                         core_db: asyncpg.Connection) -> None:
    response = await core.post("/webhooks/wompi", content=b'{"event": "transaction.updated",',
                               headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert (await _counts(core_db))["webhook_events"] == 0
