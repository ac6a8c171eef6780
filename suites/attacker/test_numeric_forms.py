"""Numeric forms of a signed amount: every spelling of the charge's amount, or of another, moves money at most once.

Two attacker models. A captured genuine PayU confirmation: its ``sign`` covers ``new_value``, a normal form
of ``value``, so every spelling with the same numeric value (``5E+4``, ``50000.000``, other Unicode digit
sets, a sign, underscores) verifies with the captured sign — each must be the same event again (a duplicate)
or refused, never a second effect. A misbehaving Wompi that signs what it sends: ``amount_in_cents`` as a
string, a decimal, an exponent, zero, negative zero, a negative or a 100-bit number — only the plain integer
equal to the charge may be applied, and nothing the odd forms wrote may block the genuine event.
"""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal

import asyncpg
import httpx
import pytest

from suites.conftest import Live, seed_transaction
from suites.support.events import WOMPI_PROPERTIES, form_body, payu_confirmation, wompi_event_dict

AMOUNT = Decimal("50000.00")
CENTS = 5_000_000


def _digits(text: str, zero: int) -> str:
    """``text`` with its ASCII digits written in the Unicode digit set whose zero is ``zero``."""
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)


# Spellings of 50000.00 that Python's Decimal reads as that value (the core's sign check normalises them).
PAYU_SAME_VALUE = ["5E+4", "5e4", "0.5E5", "50000.000", "50000.0000000", "+50000.00", "50_000.00", "050000.00",
                   "50000.", "5000000E-2"] + [_digits("50000.00", zero) for zero in (0x0660, 0x06F0, 0x0966, 0xFF10)]
# Spellings of other values, or of none: never verifiable with the captured sign, never a 5xx.
PAYU_OTHER_VALUE = ["-50000.00", "-0", "0", "50000.001", "50000.01", "NaN", "Infinity", "-Infinity", "sNaN",
                    "1E+999999999", "1E-999999999", "9" * 40, "0x1", "", " "]


def _payu(live: Live, reference: str, transaction_id: str) -> dict[str, str]:
    return payu_confirmation(reference_sale=reference, value=AMOUNT, status="APPROVED",
                             api_key=live.creds["payu"]["api_key"], merchant_id=live.creds["payu"]["merchant_id"],
                             transaction_id=transaction_id)


async def _state(db: asyncpg.Connection, order_id: object) -> tuple[object, ...]:
    row = await db.fetchrow("SELECT o.status, o.approved_amount, o.flagged_for_refund, t.status AS t_status"
                            " FROM orders o JOIN order_transactions t ON t.order_id = o.id WHERE o.id = $1", order_id)
    return tuple(row)


@pytest.mark.scenario("ATTACK-NUMERIC-FORMS")
async def test_spellings_of_a_captured_payu_value_are_the_same_event_or_refused(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id="payu-tx-1")
    genuine = _payu(live, str(seeded["reference"]), "payu-tx-1")
    body, headers = form_body(genuine)
    assert (await core.post("/webhooks/payu", content=body, headers=headers)).status_code == 200
    paid = await _state(core_db, seeded["order_id"])
    assert paid == ("paid", AMOUNT, False, "approved")
    events = await core_db.fetchval("SELECT count(*) FROM webhook_events")
    for value in PAYU_SAME_VALUE + PAYU_OTHER_VALUE:
        body, headers = form_body({**genuine, "value": value})
        response = await core.post("/webhooks/payu", content=body, headers=headers)
        assert response.status_code < 500, (value, response.text)
        if response.status_code == 200:
            assert response.json()["status"] == "duplicate", (value, response.text)
        else:
            assert response.status_code in (401, 422), (value, response.status_code)
        if value in PAYU_OTHER_VALUE:
            assert response.status_code == 401, (value, response.text)  # the captured sign cannot cover it
    assert await _state(core_db, seeded["order_id"]) == paid
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == events
    assert await core_db.fetchval("SELECT count(*) FROM webhook_event_conflicts") == 0
    assert await core_db.fetchval("SELECT count(*) FROM payment_anomalies") == 0


@pytest.mark.scenario("ATTACK-NUMERIC-FORMS")
async def test_a_respelled_payu_value_sent_before_the_genuine_one_applies_the_charge_exactly_once(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    for value in PAYU_SAME_VALUE[:4] + PAYU_SAME_VALUE[-2:]:
        seeded = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id=f"tx-{value}")
        genuine = _payu(live, str(seeded["reference"]), f"tx-{value}")
        for form in ({**genuine, "value": value}, genuine):
            body, headers = form_body(form)
            response = await core.post("/webhooks/payu", content=body, headers=headers)
            assert response.status_code < 500, (value, response.text)
        # Either the respelling was refused and the genuine one applied, or the respelling applied the exact
        # amount and the genuine one was its duplicate: the same end state, one event row.
        assert await _state(core_db, seeded["order_id"]) == ("paid", AMOUNT, False, "approved"), value
        count = await core_db.fetchval("SELECT count(*) FROM webhook_events WHERE order_id = $1", seeded["order_id"])
        assert count == 1, value


def _wompi_body(live: Live, tx_id: str, amount_text: str) -> tuple[bytes, dict[str, str]]:
    """A Wompi event whose amount_in_cents is written as ``amount_text`` (JSON), checksummed as the core reads it."""
    timestamp = int(time.time())
    parsed = json.loads(amount_text, parse_float=Decimal)
    signed = parsed if isinstance(parsed, str) else ("true" if parsed is True else str(parsed))
    checksum = hashlib.sha256(f"{tx_id}APPROVED{signed}{timestamp}{live.creds['wompi']['events_secret']}"
                              .encode()).hexdigest()
    event = wompi_event_dict(tx_id=tx_id, status="APPROVED", amount_in_cents=CENTS, reference="R", secret="unused",
                             timestamp=timestamp)
    event["data"]["transaction"]["amount_in_cents"] = "@AMOUNT@"
    event["signature"] = {"properties": WOMPI_PROPERTIES, "checksum": checksum}
    raw = json.dumps(event).replace('"@AMOUNT@"', amount_text)
    assert json.loads(raw, parse_float=Decimal)["data"]["transaction"]["amount_in_cents"] == parsed
    return raw.encode(), {"content-type": "application/json", "x-event-checksum": checksum}


WOMPI_ODD_AMOUNTS = ['"5000000"', "5000000.0", "5E6", "5e+6", "50000.00E2", "5000000.00", "0", "-0",
                     "-5000000", str(2**100), "4999999", "5000001", "true", '" 5000000"', '"5000000 "']


@pytest.mark.scenario("ATTACK-NUMERIC-FORMS")
async def test_a_wompi_amount_other_than_the_plain_charged_integer_never_applies(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", amount=AMOUNT, gateway_transaction_id="1234-1-00001")
    for text in WOMPI_ODD_AMOUNTS:
        body, headers = _wompi_body(live, "1234-1-00001", text)
        response = await core.post("/webhooks/wompi", content=body, headers=headers)
        assert response.status_code in (401, 422), (text, response.status_code, response.text)
        assert await _state(core_db, seeded["order_id"]) == ("pending", Decimal("0.00"), False, "pending"), text
    body, headers = _wompi_body(live, "1234-1-00001", str(CENTS))
    response = await core.post("/webhooks/wompi", content=body, headers=headers)
    assert (response.status_code, response.json()["status"]) == (200, "applied"), response.text
    assert await _state(core_db, seeded["order_id"]) == ("paid", AMOUNT, False, "approved")
