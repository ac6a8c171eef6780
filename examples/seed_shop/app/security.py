"""Who is calling (bearer tokens), and whether a webhook really comes from its gateway.

Each check has the seed's weak version and the fixed one side by side. Wompi's checksum is SHA-256 of the
listed properties' values, the event timestamp and the events secret; PayU's confirmation ``sign`` is MD5
of ``apiKey~merchant_id~reference_sale~new_value~currency~state_pol``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import HTTPException, Request

logger = logging.getLogger("seed_shop.security")

# The hardened shop insists that the checksum covers what moves money (an attacker holding a genuine event
# could otherwise list fewer properties and change the others).
WOMPI_REQUIRED_PROPERTIES = {"transaction.id", "transaction.status", "transaction.amount_in_cents"}


def current_user(request: Request) -> int:
    """The user id behind ``Authorization: Bearer <token>``; 401 without a known token."""
    users: dict[str, int] = request.app.state.settings.users
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or token not in users:
        raise HTTPException(401, "Not authenticated")
    return users[token]


def wompi_checksum(event: dict[str, Any], secret: str) -> str:
    values = ""
    for path in event["signature"]["properties"]:
        node: Any = event["data"]
        for part in path.split("."):
            node = node[part]
        values += "" if node is None else str(node)
    return hashlib.sha256(f"{values}{event['timestamp']}{secret}".encode()).hexdigest()


def wompi_event_is_valid(event: dict[str, Any], secret: str, hardened: bool) -> bool:
    if not hardened:
        if not secret:
            logger.warning("WOMPI_EVENTS_SECRET not configured - skipping verification")
            return True  # seed S8: development bypass, any request is accepted as a webhook
        try:
            return wompi_checksum(event, secret) == event["signature"]["checksum"]  # seed S8: plain ==
        except (KeyError, TypeError):
            return False
    # Fixed: the secret is required at start (config.check), the comparison is constant-time, and the
    # checksum must cover id, status and amount.
    try:
        signature = event["signature"]
        if not set(signature["properties"]) >= WOMPI_REQUIRED_PROPERTIES:
            return False
        received = signature["checksum"]
        if not isinstance(received, str):
            return False
        return hmac.compare_digest(wompi_checksum(event, secret).encode(), received.lower().encode())
    except (KeyError, TypeError, AttributeError, UnicodeError):
        return False


def payu_new_value(value: str) -> str:
    """PayU's ``new_value``: two decimals, dropping the second when it is 0 (150.00 -> 150.0)."""
    text = f"{Decimal(value):.2f}"
    return text[:-1] if text.endswith("0") else text


def payu_confirmation_is_valid(form: dict[str, str], api_key: str, hardened: bool) -> bool:
    try:
        text = "~".join([api_key, form["merchant_id"], form["reference_sale"], payu_new_value(form["value"]),
                         form["currency"], form["state_pol"]])
    except (KeyError, InvalidOperation):
        return False
    expected = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - PayU's documented signature
    if not hardened:
        return expected == form.get("sign")  # seed S8: plain ==
    return hmac.compare_digest(expected.encode(), form.get("sign", "").lower().encode())
