"""Wompi's two signatures as pure functions: the integrity signature and the event checksum.

Both are plain SHA-256 over a concatenation with the secret appended — not HMAC (a common
misreading; Wompi El Salvador is the product that uses HMAC). Usage:

    integrity_signature("ref-1", 2490000, "COP", "test_integrity_...")
    event_checksum(event["data"], event["signature"]["properties"], event["timestamp"], secret)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def integrity_signature(
    reference: str,
    amount_in_cents: int,
    currency: str,
    integrity_secret: str,
    expiration_time: str | None = None,
) -> str:
    """SHA-256 hex of reference + amount_in_cents + currency [+ expiration_time] + secret.

    Usage: ``integrity_signature("sk8-438k4", 2490000, "COP", secret)``
    """
    # The amount must be the bare integer: "2490000", never "2,490,000" or "2490000.00".
    if isinstance(amount_in_cents, bool) or not isinstance(amount_in_cents, int):
        raise TypeError("amount_in_cents must be an int")
    parts = [reference, str(amount_in_cents), currency]
    if expiration_time is not None:
        parts.append(expiration_time)
    parts.append(integrity_secret)
    return _sha256("".join(parts))


def resolve_property(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path inside the event's ``data``: ``transaction.id`` is data.transaction.id.

    Raises KeyError when a segment is missing.
    """
    node: Any = data
    for segment in path.split("."):
        if not isinstance(node, Mapping) or segment not in node:
            raise KeyError(path)
        node = node[segment]
    return node


def stringify(value: Any) -> str:
    """How a property value enters the checksum.

    Integers as plain digits (the documented example). Booleans, nulls and nested values are
    UNCONFIRMED; this simulator writes ``true``/``false``, the empty string for null, and
    str() for anything else.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def event_checksum(
    data: Mapping[str, Any],
    properties: Sequence[str],
    timestamp: int,
    events_secret: str,
) -> str:
    """SHA-256 hex of the listed property values (resolved in ``data``) + timestamp + events secret.

    Usage: ``event_checksum(body["data"], body["signature"]["properties"], body["timestamp"], secret)``
    """
    values = "".join(stringify(resolve_property(data, p)) for p in properties)
    return _sha256(f"{values}{int(timestamp)}{events_secret}")


def checksums_match(expected: str, received: str | None) -> bool:
    """Compare two hex checksums case-insensitively (the docs print uppercase, the API sends lowercase)."""
    if not received:
        return False
    return hmac.compare_digest(expected.lower().encode(), received.strip().lower().encode())


def verify_event(body: Mapping[str, Any], events_secret: str) -> bool:
    """True when a whole event body's ``signature.checksum`` matches its data, properties and timestamp.

    Usage: ``verify_event(json.loads(raw), "test_events_...")``
    """
    try:
        signature = body["signature"]
        expected = event_checksum(body["data"], signature["properties"], body["timestamp"], events_secret)
    except (KeyError, TypeError, ValueError):
        return False
    return checksums_match(expected, signature.get("checksum"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
