"""Which fields each gateway signs, as the live core treats them: one genuine event per field, that field
changed, and the answer and the order's status compared with the table below.

signed: the change breaks the signature (401, nothing written). checked: unsigned, but the core compares it
with what it stored (or asks the gateway) and refuses a difference (422, nothing applied). ignored: unsigned
and never acted on (200, applied exactly as the genuine event).
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation, wompi_event_dict

pytestmark = pytest.mark.scenario("WH-SIGNATURE-SCOPE", "WH-SIGNATURE")

SIGNED, CHECKED, IGNORED = (401, "pending"), (422, "pending"), (200, "paid")
# Wompi: field → (its changed value, what the core must do). Top-level fields are marked with a leading "/".
WOMPI: dict[str, tuple[Any, tuple[int, str]]] = {
    "id": ("118437-6-99999", SIGNED),
    "status": ("DECLINED", SIGNED),
    "amount_in_cents": (5_000_100, SIGNED),
    "/timestamp": (None, SIGNED),  # one second later
    "/signature.properties": (["transaction.id", "transaction.amount_in_cents", "transaction.status"], SIGNED),
    "currency": ("USD", CHECKED),
    "/event": ("nequi_token.updated", CHECKED),
    "reference": ("ORD-someone-else", IGNORED),
    "customer_email": ("otro@example.com", IGNORED),
    "payment_method_type": ("NEQUI", IGNORED),
    "redirect_url": ("https://evil.example/", IGNORED),
    "shipping_address": ({"city": "Cali"}, IGNORED),
    "payment_link_id": ("link_1", IGNORED),
    "payment_source_id": (3891, IGNORED),
    "/environment": ("prod", IGNORED),
    "/sent_at": ("2020-01-01T00:00:00.000Z", IGNORED),
}
PAYU_TXN = "aa2f50b2-62a8-42de-b3be-c6fe08ec712f"
PAYU: dict[str, tuple[str, tuple[int, str]]] = {
    "merchant_id": ("500238", SIGNED),
    "reference_sale": ("ORD-someone-else", SIGNED),
    "value": ("50000.10", SIGNED),
    "currency": ("USD", SIGNED),
    "state_pol": ("6", SIGNED),
    "sign": ("0" * 32, SIGNED),
    "transaction_id": ("00000000-0000-4000-8000-000000000000", CHECKED),  # PayU's Queries API knows no such
    "reference_pol": ("1", IGNORED),
    "response_code_pol": ("5", IGNORED),
    "response_message_pol": ("ENTITY_DECLINED", IGNORED),
    "attempts": ("9", IGNORED),
    "email_buyer": ("otro@example.com", IGNORED),
    "description": ("tampered", IGNORED),
    "extra1": ("tampered", IGNORED),
    "payment_method_name": ("MASTERCARD", IGNORED),
    "transaction_date": ("2020-01-01 00:00:00", IGNORED),
    "risk": ("0.0", IGNORED),
}


def _tamper_wompi(event: dict[str, Any], field: str, value: Any) -> None:
    if field == "/timestamp":
        event["timestamp"] += 1
    elif field == "/signature.properties":
        event["signature"]["properties"] = value
    elif field.startswith("/"):
        event[field[1:]] = value
    else:
        event["data"]["transaction"][field] = value


async def test_wompi_signs_id_status_amount_and_timestamp_and_the_core_checks_or_ignores_the_rest(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target
) -> None:
    seen: dict[str, tuple[int, str]] = {}
    for n, (field, (value, _)) in enumerate(WOMPI.items()):
        seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id=f"118437-6-{n:05d}")
        event = wompi_event_dict(tx_id=f"118437-6-{n:05d}", status="APPROVED", amount_in_cents=5_000_000,
                                 reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"],
                                 timestamp=int(time.time()) - 60)
        _tamper_wompi(event, field, value)
        response = await core.post("/webhooks/wompi", json=event)
        seen[field] = (response.status_code, await target.order_status(str(seeded["order_id"])))
    assert seen == {field: expected for field, (_, expected) in WOMPI.items()}


async def test_payu_signs_merchant_reference_value_currency_state_and_the_core_checks_or_ignores_the_rest(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target
) -> None:
    creds = live.creds["payu"]
    seen: dict[str, tuple[int, str]] = {}
    for field, (value, _) in PAYU.items():
        payu_id = f"{PAYU_TXN[:-4]}{len(seen):04d}"
        seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=payu_id)
        form = payu_confirmation(reference_sale=str(seeded["reference"]), value=seeded["amount"],  # type: ignore[arg-type]
                                 status="APPROVED", api_key=creds["api_key"], merchant_id=creds["merchant_id"],
                                 transaction_id=str(seeded["gateway_transaction_id"]))
        body, headers = form_body({**form, field: value})
        response = await core.post("/webhooks/payu", content=body, headers=headers)
        seen[field] = (response.status_code, await target.order_status(str(seeded["order_id"])))
    assert seen == {field: expected for field, (_, expected) in PAYU.items()}
