"""Builds Wompi `transaction.updated` event requests, with webhook chaos applied per attempt.

Usage: ``dispatcher.send(transaction_event(tx, config=config, clock=clock, url=events_url))``
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from simulators.common.chaos import MissingSignature, TamperSigned, TamperUnsigned, WrongSecret
from simulators.common.clock import SimClock
from simulators.common.delivery import WebhookMessage
from simulators.wompi.config import WompiConfig
from simulators.wompi.signing import event_checksum
from simulators.wompi.state import Transaction, iso

EVENT_PROPERTIES = ("transaction.id", "transaction.status", "transaction.amount_in_cents")
TOP_LEVEL_FIELDS = frozenset({"event", "environment", "timestamp", "sent_at"})
_ASCII_INTEGER = re.compile(r"-?[0-9]+")
WRONG_SECRET = "test_events_ThisIsNotTheMerchantsSecret000"  # noqa: S105 - deliberately wrong


class TransactionEventBuilder:
    """One logical event; every attempt re-renders it from the same snapshot.

    sent_at is the time of the first attempt and never changes (gateways.md §2.9). Whether the
    timestamp and checksum change on retries is UNCONFIRMED: by default they are frozen at the first
    attempt; ``regenerate=True`` gives each attempt a fresh timestamp and checksum.
    """

    def __init__(self, *, data: dict[str, Any], config: WompiConfig, clock: SimClock, regenerate: bool) -> None:
        self._data = data
        self._secret = config.events_secret
        self._environment = config.environment
        self._clock = clock
        self._regenerate = regenerate
        self._first: tuple[int, str] | None = None

    def request(self, attempt: int, chaos: tuple[object, ...]) -> tuple[bytes, dict[str, str]]:
        now = self._clock.now()
        if self._first is None:
            self._first = (int(now.timestamp()), iso(now) or "")
        timestamp, sent_at = self._first
        if self._regenerate:
            timestamp = int(now.timestamp())
        data = copy.deepcopy(self._data)
        secret = WRONG_SECRET if any(isinstance(c, WrongSecret) for c in chaos) else self._secret
        checksum = event_checksum(data, EVENT_PROPERTIES, timestamp, secret)
        body: dict[str, Any] = {
            "event": "transaction.updated",
            "data": data,
            "environment": self._environment,
            "signature": {"properties": list(EVENT_PROPERTIES), "checksum": checksum},
            "timestamp": timestamp,
            "sent_at": sent_at,
        }
        # Tampering happens after signing, as an attacker on the wire would do it: an unsigned field
        # keeps a valid checksum, a signed one breaks it.
        for item in chaos:
            if isinstance(item, TamperUnsigned | TamperSigned):
                _set_field(body, item.field, item.value)
        headers = {"Content-Type": "application/json", "X-Event-Checksum": checksum}
        if any(isinstance(c, MissingSignature) for c in chaos):
            del body["signature"]["checksum"]
            del headers["X-Event-Checksum"]
        return json.dumps(body, separators=(",", ":")).encode(), headers


def _set_field(body: dict[str, Any], field: str, value: str) -> None:
    """Set `field`: a top-level key, a dotted path inside data, or a bare transaction field name."""
    if field in TOP_LEVEL_FIELDS:
        node, key = body, field
    else:
        path = field if "." in field else f"transaction.{field}"
        *parents, key = path.split(".")
        node = body["data"]
        for part in parents:
            node = node.setdefault(part, {})
    old = node.get(key)
    # Keep the JSON type of integer fields so a tampered amount still looks like an amount.
    # ASCII integers only: str.isdigit admits '¹' (int() refuses it) and lstrip("-") admitted "--5".
    node[key] = int(value) if isinstance(old, int) and _ASCII_INTEGER.fullmatch(value) else value


def transaction_event(tx: Transaction, *, config: WompiConfig, clock: SimClock, url: str) -> WebhookMessage:
    """The webhook message for a transaction's current (final) status."""
    builder = TransactionEventBuilder(
        data={"transaction": tx.event_view()},
        config=config,
        clock=clock,
        regenerate=config.regenerate_event_signature_on_retry,
    )
    return WebhookMessage(
        gateway="wompi",
        kind="transaction.updated",
        url=url,
        event_key=f"{tx.id}:{tx.status}",
        build=builder,
    )
