"""Signed gateway events for the suites, made with the simulators' signers — not the core's.

The core verifies with its own implementation (core/signing); the suites sign with the simulators'
(simulators/*/signing). A bug shared by both would need the same mistake written twice (STYLE.md 4).

Usage::

    body, headers = wompi_event(tx_id="118437-1700000000-00001", status="APPROVED", amount_in_cents=5_000_000,
                                reference="ORD-1-ab12", secret=creds["wompi"]["events_secret"])
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from simulators.payu.signing import confirmation_sign
from simulators.wompi.signing import event_checksum

WOMPI_PROPERTIES = ["transaction.id", "transaction.status", "transaction.amount_in_cents"]
PAYU_STATE = {"APPROVED": ("4", "1", "APPROVED"), "DECLINED": ("6", "5", "ENTITY_DECLINED"),
              "EXPIRED": ("5", "20", "EXPIRED_TRANSACTION"), "PENDING": ("7", "25", "PENDING_TRANSACTION_CONFIRMATION")}


def wompi_event_dict(*, tx_id: str, status: str, amount_in_cents: int, reference: str, secret: str,
                     currency: str = "COP", timestamp: int | None = None) -> dict[str, Any]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    data = {"transaction": {"id": tx_id, "amount_in_cents": amount_in_cents, "reference": reference,
                            "customer_email": "comprador@example.com", "currency": currency,
                            "payment_method_type": "CARD", "redirect_url": None, "status": status,
                            "shipping_address": None, "payment_link_id": None, "payment_source_id": None}}
    checksum = event_checksum(data, WOMPI_PROPERTIES, timestamp, secret)
    return {"event": "transaction.updated", "data": data, "environment": "test",
            "signature": {"properties": list(WOMPI_PROPERTIES), "checksum": checksum},
            "timestamp": timestamp, "sent_at": "2026-11-26T10:00:00.000Z"}


def wompi_event(**kwargs: Any) -> tuple[bytes, dict[str, str]]:
    """A signed ``transaction.updated`` body and its headers (checksum also in X-Event-Checksum)."""
    event = wompi_event_dict(**kwargs)
    return json.dumps(event).encode(), {"content-type": "application/json",
                                        "x-event-checksum": event["signature"]["checksum"]}


def payu_confirmation(*, reference_sale: str, value: Decimal, status: str, api_key: str, merchant_id: str,
                      transaction_id: str | None = None, currency: str = "COP", attempts: int = 1,
                      algorithm: str = "MD5", secret: str | None = None) -> dict[str, str]:
    """A signed PayU confirmation form (as a dict; post it form-encoded)."""
    state_pol, code, message = PAYU_STATE[status]
    form = {
        "merchant_id": merchant_id, "state_pol": state_pol, "risk": "1.0", "response_code_pol": code,
        "reference_sale": reference_sale, "reference_pol": "1400449660", "extra1": "", "extra2": "",
        "payment_method": "10", "payment_method_type": "2", "installments_number": "1",
        "value": f"{value:.2f}", "tax": "0.00", "additional_value": "0.00",
        "transaction_date": "2026-11-26 10:00:00", "currency": currency, "email_buyer": "comprador@example.com",
        "cus": "", "pse_bank": "", "test": "1", "description": "payharness", "attempts": str(attempts),
        "transaction_id": transaction_id or str(uuid.uuid4()), "response_message_pol": message,
        "payment_method_name": "VISA", "date": "2026.11.26 10:00:00",
    }
    form["sign"] = confirmation_sign(api_key=api_key, merchant_id=merchant_id, reference_sale=reference_sale,
                                     value=form["value"], currency=currency, state_pol=state_pol,
                                     algorithm=algorithm, secret=secret)
    return form


def form_body(form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded"}
