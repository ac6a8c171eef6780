"""Spellings of a captured signature: case, padding, Unicode look-alikes — the same event once, or refused.

A captured genuine PayU ``sign`` or Wompi checksum is hex. Respelled (upper case, padded with ASCII or
Unicode spaces, zero-width characters, full-width digits, a ``0x`` prefix, truncated, doubled), it is either
the same signature (then the event is a duplicate of the genuine one) or no signature at all (401). Never a
5xx, never a second event row, never a change of money state.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import httpx
import pytest

from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation, wompi_event_dict

AMOUNT = Decimal("50000.00")


def _spellings(sig: str) -> list[tuple[str, bool]]:
    """(spelling, whether it is the same signature) for a hex digest. Surrounding whitespace is not part of a
    signature, Unicode's (a no-break space) included; a zero-width space is not whitespace."""
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in sig)
    return [(sig.upper(), True), (f" {sig} ", True), (f"\t{sig}\n", True), (sig.swapcase(), True),
            (f"\u00a0{sig}", True), (f"{sig}\u200b", False), (fullwidth, False), (f"0x{sig}", False),
            (sig[:-1], False), (sig + sig, False), (sig[:-1] + "g", False), ("", False),
            (sig.replace(sig[0], "\u0660"), False)]


async def _money(db: asyncpg.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await db.fetch("SELECT o.status, o.approved_amount, o.flagged_for_refund, t.status"
                                             " FROM orders o JOIN order_transactions t ON t.order_id = o.id")]


@pytest.mark.scenario("ATTACK-SIGNATURE-SPELLINGS")
async def test_respelled_payu_signs_are_the_same_event_or_refused(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", amount=AMOUNT, gateway_transaction_id="payu-sig-1")
    genuine = payu_confirmation(reference_sale=str(seeded["reference"]), value=AMOUNT, status="APPROVED",
                                api_key=live.creds["payu"]["api_key"], merchant_id=live.creds["payu"]["merchant_id"],
                                transaction_id="payu-sig-1")
    body, headers = form_body(genuine)
    assert (await core.post("/webhooks/payu", content=body, headers=headers)).status_code == 200
    paid = await _money(core_db)
    for spelling, same in _spellings(genuine["sign"]):
        body, headers = form_body({**genuine, "sign": spelling})
        response = await core.post("/webhooks/payu", content=body, headers=headers)
        expected = (200, "duplicate") if same else (401, None)
        got = (response.status_code, response.json().get("status") if response.status_code == 200 else None)
        assert got == expected, (spelling, response.text)
    assert await _money(core_db) == paid
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1


@pytest.mark.scenario("ATTACK-SIGNATURE-SPELLINGS")
async def test_respelled_wompi_checksums_in_header_or_body_are_the_same_event_or_refused(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    import json

    await seed_transaction(core_db, gateway="wompi", amount=AMOUNT, gateway_transaction_id="1234-9-00001")
    event = wompi_event_dict(tx_id="1234-9-00001", status="APPROVED", amount_in_cents=5_000_000, reference="R",
                             secret=live.creds["wompi"]["events_secret"])
    checksum = event["signature"]["checksum"]
    raw = json.dumps(event).encode()
    response = await core.post("/webhooks/wompi", content=raw, headers={"content-type": "application/json",
                                                                         "x-event-checksum": checksum})
    assert response.status_code == 200, response.text
    paid = await _money(core_db)
    for spelling, same in _spellings(checksum):
        in_body = json.dumps({**event, "signature": {**event["signature"], "checksum": spelling}}).encode()
        # An empty header is no header (the body's checksum decides): only the body is respelled then.
        cases = ((raw, spelling), (in_body, None), (in_body, spelling)) if spelling else ((in_body, None),)
        for content, header in cases:
            headers = {"content-type": "application/json"}
            if header is not None:
                headers["x-event-checksum"] = header
            try:
                response = await core.post("/webhooks/wompi", content=content, headers=headers)
            except (httpx.LocalProtocolError, UnicodeEncodeError):
                continue  # not a sendable header value (surrounding or non-Latin-1 characters): HTTP refuses it
            expected = (200, "duplicate") if same else (401, None)
            got = (response.status_code, response.json().get("status") if response.status_code == 200 else None)
            assert got == expected, (repr(spelling), header is not None, content is raw, response.text)
    assert await _money(core_db) == paid
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1
