"""Bytes a gateway may send that Postgres refuses: NUL, lone surrogates, bodies that re-serialise past the
payload cap, deep nesting. Each is recorded (escaped or bounded, with the body's digest) and applied, or
refused with a 4xx that writes nothing — never a 500 on every delivery."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation, wompi_event_dict

pytestmark = pytest.mark.scenario("WH-STORABLE-PAYLOAD")
CENTS = 5_000_000
PAYU_TXN = "aa2f50b2-62a8-42de-b3be-c6fe08ec712f"
BODY_LIMIT = 64 * 1024  # LIMITS__MAX_BODY_BYTES in the suites


async def _wompi(live: Live, db: asyncpg.Connection, wompi_id: str, **unsigned: Any) -> tuple[dict[str, Any], Any]:
    seeded = await seed_transaction(db, gateway="wompi", gateway_transaction_id=wompi_id)
    event = wompi_event_dict(tx_id=wompi_id, status="APPROVED", amount_in_cents=CENTS,
                             reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"])
    event["data"]["transaction"].update(unsigned)
    return event, seeded["order_id"]


async def _stored(db: asyncpg.Connection) -> dict[str, Any]:
    return json.loads(await db.fetchval("SELECT payload::text FROM webhook_events"))


@pytest.mark.parametrize("unsigned", [{"customer_email": "a\x00b@x.co"}, {"reference": "ORD-\ud800"},
                                      {"redirect_url": "\x00" * 500}])
async def test_a_wompi_event_with_characters_jsonb_refuses_is_stored_escaped_and_applied(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target, unsigned: dict[str, str]
) -> None:
    event, order_id = await _wompi(live, core_db, "118437-5-00001", **unsigned)
    body = json.dumps(event).encode()  # ensure_ascii: the NUL and the surrogate travel as \u escapes
    response = await core.post("/webhooks/wompi", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert await target.order_status(str(order_id)) == "paid"
    stored = await _stored(core_db)
    assert stored["payharness_stored"] == {"form": "escaped", "raw_sha256": hashlib.sha256(body).hexdigest()}
    assert stored["event"]["data"]["transaction"]["id"] == "118437-5-00001"


async def test_a_wompi_event_under_the_body_limit_that_renders_past_the_payload_cap_is_bounded_and_applied(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target
) -> None:
    # Many tiny members: jsonb::text adds a space after every ',' and ':', so this grows by half when stored.
    event, order_id = await _wompi(live, core_db, "118437-5-00002", shipping_address={})
    compact = len(json.dumps(event, separators=(",", ":")))
    event["data"]["transaction"]["shipping_address"] = {f"k{n}": 0 for n in range((62_000 - compact) // 10)}
    body = json.dumps(event, separators=(",", ":")).encode()
    assert 60_000 < len(body) < BODY_LIMIT
    response = await core.post("/webhooks/wompi", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert await target.order_status(str(order_id)) == "paid"
    stored = await _stored(core_db)
    assert stored["payharness_stored"]["form"] == "bounded" and stored["payharness_stored"]["truncated"] is True
    assert stored["payharness_stored"]["raw_sha256"] == hashlib.sha256(body).hexdigest()
    assert stored["acted_on"] == {"id": "118437-5-00002", "status": "APPROVED", "amount_in_cents": CENTS,
                                  "currency": "COP"}


# A control character travels as 3 bytes (%01) and is stored as 6 (\u0001): 20,000 of them fit the body
# limit and render to twice the payload cap.
@pytest.mark.parametrize("extra", [{"description": "pay\x00harness"}, {"extra1": "\x01" * 20_000},
                                   {"extra2": "\x00" * 20_000}])
async def test_a_payu_confirmation_with_nul_or_huge_fields_is_stored_and_applied(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target, extra: dict[str, str]
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    creds = live.creds["payu"]
    form = payu_confirmation(reference_sale=str(seeded["reference"]), value=seeded["amount"],  # type: ignore[arg-type]
                             status="APPROVED", api_key=creds["api_key"], merchant_id=creds["merchant_id"],
                             transaction_id=PAYU_TXN)
    body, headers = form_body({**form, **extra})
    assert len(body) < BODY_LIMIT
    response = await core.post("/webhooks/payu", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert await target.order_status(str(seeded["order_id"])) == "paid"
    assert (await _stored(core_db))["payharness_stored"]["raw_sha256"] == hashlib.sha256(body).hexdigest()


# A signed reference no attempt of ours can have: with a NUL, long enough to fill every record it reaches
# (the event key, the anomaly's detail), or longer than the key column.
@pytest.mark.parametrize("reference", ["ORD-\x00-1", "\x00" * 20_000, "R" * 300])
async def test_a_payu_confirmation_with_an_unstorable_signed_reference_is_recorded_as_unknown_not_a_500(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, reference: str
) -> None:
    creds = live.creds["payu"]
    form = payu_confirmation(reference_sale=reference, value=50_000, status="APPROVED",  # type: ignore[arg-type]
                             api_key=creds["api_key"], merchant_id=creds["merchant_id"], transaction_id=PAYU_TXN)
    body, headers = form_body(form)
    first = await core.post("/webhooks/payu", content=body, headers=headers)
    again = await core.post("/webhooks/payu", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (422, 422), first.text
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1
    assert await core_db.fetchval("SELECT kind FROM payment_anomalies") == "unknown_reference"


async def test_a_payu_confirmation_with_a_currency_no_charge_has_is_a_422_that_writes_nothing(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # Signed, so it verifies; written into the refusal's reason it would overflow the anomaly's payload check.
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    creds = live.creds["payu"]
    form = payu_confirmation(reference_sale=str(seeded["reference"]), value=seeded["amount"],  # type: ignore[arg-type]
                             status="APPROVED", api_key=creds["api_key"], merchant_id=creds["merchant_id"],
                             transaction_id=PAYU_TXN, currency="\x00" * 20_000)
    body, headers = form_body(form)
    response = await core.post("/webhooks/payu", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 0


async def test_a_wompi_event_with_a_nul_in_its_signed_id_is_recorded_as_unknown_not_a_500(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    event = wompi_event_dict(tx_id="118437-\x00-1", status="APPROVED", amount_in_cents=CENTS, reference="R",
                             secret=live.creds["wompi"]["events_secret"])
    answers = [(await core.post("/webhooks/wompi", json=event)).status_code for _ in range(2)]
    assert answers == [422, 422]
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1


async def test_a_body_nested_thirty_thousand_deep_is_a_422_that_writes_nothing(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    body = b'{"event":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    response = await core.post("/webhooks/wompi", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "malformed_json"
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 0
