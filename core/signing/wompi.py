"""Wompi signatures: the integrity signature and the event checksum, both plain SHA-256 (not HMAC).

The event checksum covers only the values named in ``signature.properties`` (resolved inside ``data``)
plus ``timestamp`` and the events secret (gateways.md §2.9). Every other field of the event, e.g.
``reference`` or ``customer_email`` when not listed, is unsigned and must not be trusted.

The property list travels in the event, unsigned, and the values are concatenated without separators,
so the sender chooses how the signed string is cut into values. Left open, anyone holding one genuine
event could list a single unsigned field whose value is the whole captured concatenation and then set
``id``, ``status`` and ``amount_in_cents`` freely. The list must therefore *begin* with
``REQUIRED_PROPERTIES`` in Wompi's documented order, name each property once, and name only plain
``transaction.<field>`` paths; more properties may follow (Wompi says the list may grow). With the id
first and a status word after it, the only cut left to a forger is to move trailing digits of the
amount into a later property, which makes the amount differ from the charge, and the core refuses it.

Usage::

    integrity_signature("sk8-438k4-xmxm392-sn2m", 2490000, "COP", integrity_secret)
    verdict = verify_event(event, events_secret=secret, header_checksum=headers.get("X-Event-Checksum"))
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.signing._common import VALID, Verdict, hex_equal, invalid

__all__ = ["REQUIRED_PROPERTIES", "EventSignatureError", "event_checksum", "integrity_signature", "verify_event"]

# Real events list three properties; a cap keeps a hostile body from making us hash megabytes.
MAX_PROPERTIES = 32
# What the core acts on, in the order Wompi documents; every event's list must start with exactly these.
REQUIRED_PROPERTIES = ("transaction.id", "transaction.status", "transaction.amount_in_cents")
# No nesting, no other top-level object, no empty or odd segments: a path names one field of the transaction.
_PATH = re.compile(r"transaction\.[a-z_][a-z0-9_]{0,63}")


class EventSignatureError(ValueError):
    """The event cannot be checksummed at all (malformed ``signature`` or unresolvable property)."""


def _sha256(text: str) -> str:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate (JSON may escape one) has no UTF-8 form, so Wompi cannot have hashed it.
        raise EventSignatureError("a signed value is not valid Unicode") from exc
    return hashlib.sha256(data).hexdigest()


def integrity_signature(
    reference: str,
    amount_in_cents: int,
    currency: str,
    integrity_secret: str,
    *,
    expiration_time: str | None = None,
) -> str:
    """SHA-256 of ``reference + amount_in_cents + currency [+ expiration_time] + secret``.

    ``amount_in_cents`` must be the plain integer Wompi receives (no separators, no decimals).
    Usage: ``integrity_signature(ref, core.money.to_cents(amount), "COP", secret)``.
    """
    if isinstance(amount_in_cents, bool) or not isinstance(amount_in_cents, int):
        raise TypeError("amount_in_cents must be an int")
    if amount_in_cents < 0:
        raise ValueError("amount_in_cents must not be negative")
    if not reference or not currency or not integrity_secret:
        raise ValueError("reference, currency and the integrity secret are required")
    middle = expiration_time or ""
    return _sha256(f"{reference}{amount_in_cents}{currency}{middle}{integrity_secret}")


def _stringify(path: str, value: Any) -> str:
    # Wompi documents only strings and integers as property values (integers as plain digits).
    # Booleans, nulls and nested objects have no documented form, so we refuse them rather than guess
    # a format that might happen to match a forgery. Floats are refused: parse bodies with
    # parse_float=Decimal so a number keeps the exact text Wompi hashed.
    if isinstance(value, bool) or value is None:
        raise EventSignatureError(f"property {path} is {value!r}; only strings and numbers are signable")
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise EventSignatureError(f"property {path} is not a finite number")
        return str(value)
    if isinstance(value, float):
        raise EventSignatureError(f"property {path} was parsed as float; parse with parse_float=Decimal")
    raise EventSignatureError(f"property {path} is a {type(value).__name__}, not a signable scalar")


def _resolve(data: Mapping[str, Any], path: str) -> Any:
    if not path or any(not part for part in path.split(".")):
        raise EventSignatureError(f"property path {path!r} is malformed")
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise EventSignatureError(f"property {path} does not resolve in data")
        node = node[part]
    return node


def _properties(event: Mapping[str, Any]) -> list[str]:
    signature = event.get("signature")
    if not isinstance(signature, Mapping):
        raise EventSignatureError("signature object missing")
    props = signature.get("properties")
    if not isinstance(props, list) or not props:
        raise EventSignatureError("signature.properties must be a non-empty list")
    if len(props) > MAX_PROPERTIES:
        raise EventSignatureError(f"signature.properties lists more than {MAX_PROPERTIES} entries")
    if not all(isinstance(p, str) for p in props):
        raise EventSignatureError("signature.properties must be a list of strings")
    if tuple(props[: len(REQUIRED_PROPERTIES)]) != REQUIRED_PROPERTIES:
        raise EventSignatureError("signature.properties must begin with " + ", ".join(REQUIRED_PROPERTIES))
    if len(set(props)) != len(props):
        raise EventSignatureError("signature.properties names a property twice")
    for path in props:
        if not _PATH.fullmatch(path):
            raise EventSignatureError(f"property path {path[:80]!r} is not transaction.<field>")
    return props


def event_checksum(event: Mapping[str, Any], events_secret: str) -> str:
    """Expected checksum of a Wompi event, from its own property list; raises EventSignatureError.

    Usage: ``event_checksum(json.loads(body, parse_float=Decimal), secret)``.
    """
    if not events_secret:
        raise ValueError("the events secret is required")
    data = event.get("data")
    if not isinstance(data, Mapping):
        raise EventSignatureError("data object missing")
    timestamp = event.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise EventSignatureError("timestamp must be a non-negative integer")
    values = [_stringify(p, _resolve(data, p)) for p in _properties(event)]
    return _sha256("".join(values) + str(timestamp) + events_secret)


def verify_event(
    event: Mapping[str, Any],
    *,
    events_secret: str,
    header_checksum: str | None = None,
) -> Verdict:
    """Verify a Wompi event in constant time; the verdict's reason says why it failed.

    The checksum arrives twice, in ``X-Event-Checksum`` and in ``signature.checksum``; when both are
    present they must agree, so a body cannot be paired with someone else's header. Usage:
    ``verify_event(event, events_secret=secret, header_checksum=request.headers.get("X-Event-Checksum"))``.
    """
    if not isinstance(event, Mapping):
        return invalid("event is not a JSON object")
    signature = event.get("signature")
    body_checksum = signature.get("checksum") if isinstance(signature, Mapping) else None
    if body_checksum is not None and not isinstance(body_checksum, str):
        return invalid("signature.checksum is not a string")
    header = header_checksum.strip() if header_checksum else None
    body = body_checksum.strip() if body_checksum else None
    if not header and not body:
        return invalid("no checksum in header or body")
    if header and body and header.lower() != body.lower():
        return invalid("header and body checksums differ")
    received = header or body or ""
    try:
        expected = event_checksum(event, events_secret)
    except EventSignatureError as exc:
        return invalid(str(exc))
    if not hex_equal(expected, received):
        return invalid("checksum does not match")
    return VALID
