"""The defects that put issue 13's fixes back re-create the mistake they name (no stack needed).

The matrix proves a suite catches each; these prove, in a second, that a patch is not a no-op that the
suites happen to trip over for another reason.
"""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from typing import Any

import pytest

from harness.defects import REGISTRY, catalog


def _replacements(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[Any, Any]]:
    """``{original's name: (original, replacement)}`` for the defect's patch, nothing rebound in the core."""
    pairs: dict[str, tuple[Any, Any]] = {}

    def record(original: Any, replacement: Any) -> int:
        pairs[original.__name__] = (original, replacement)
        return 1

    monkeypatch.setattr(catalog, "replace_everywhere", record)
    patch = REGISTRY[name].patch
    assert patch is not None
    patch()
    return pairs


def _event(transaction: dict[str, Any], properties: list[str], checksum: str = "") -> dict[str, Any]:
    return {"event": "transaction.updated", "data": {"transaction": transaction}, "timestamp": 1733270400,
            "signature": {"properties": properties, "checksum": checksum}}


def test_wompi_properties_unchecked_lets_a_captured_checksum_sign_a_forged_status(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from core.signing import wompi

    secret = "test_events_secret"
    genuine_txn = {"id": "118437-5-00001", "status": "DECLINED", "amount_in_cents": 6500000}
    genuine = _event(genuine_txn, list(wompi.REQUIRED_PROPERTIES))
    captured = wompi.event_checksum(genuine, secret)
    # The attacker lists one unsigned field holding the whole captured concatenation and sets the rest freely.
    forged = _event({"id": "118437-5-00001", "status": "APPROVED", "amount_in_cents": 6500000,
                     "customer_email": "118437-5-00001DECLINED6500000"}, ["transaction.customer_email"], captured)
    assert not wompi.verify_event(forged, events_secret=secret).valid

    original, replacement = _replacements("wompi_properties_unchecked", monkeypatch)["_properties"]
    assert original is wompi._properties
    monkeypatch.setattr(wompi, "_properties", replacement)
    assert wompi.verify_event(forged, events_secret=secret).valid
    assert wompi.verify_event(genuine | {"signature": {"properties": list(wompi.REQUIRED_PROPERTIES),
                                                       "checksum": captured}}, events_secret=secret).valid


def test_payload_stored_raw_hands_postgres_the_nul_and_the_unbounded_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.webhooks import storable, store

    pairs = _replacements("payload_stored_raw", monkeypatch)
    assert set(pairs) == {"_event_row", "dumps"}
    payload = {"data": {"transaction": {"id": "t-1", "customer_email": "a\x00b@example.com"}}}
    # The core writes the NUL out as six characters; the defect sends JSON's \u0000 escape, which JSONB refuses.
    assert json.loads(store.dumps(payload))["data"]["transaction"]["customer_email"] == "a\\u0000b@example.com"
    assert json.loads(pairs["dumps"][1](payload)) == payload

    big = {"data": {"transaction": {"id": "t-2"}, "padding": ["x"] * 30_000}}

    class Event:  # what _event_row reads of an IncomingEvent
        gateway, event_key, event_type, signature, payload_sha256 = "wompi", "k", "transaction.updated", "s", "0" * 64
        payload = big
        stored_payload = storable.for_storage(big, raw_sha256="0" * 64, acted_on={"id": "t-2"})

    original_row, raw_row = pairs["_event_row"]
    assert original_row(Event())["payload"]["payharness_stored"]["form"] == "bounded"
    assert raw_row(Event())["payload"] is big
    assert storable.rendered_size(big) > storable.STORED_MAX_BYTES


class _Recorder:
    """An AsyncConnection stand-in that keeps each statement as Postgres would receive it."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    async def execute(self, statement: Any) -> Any:
        from sqlalchemy.dialects import postgresql

        self.sql.append(str(statement.compile(dialect=postgresql.dialect())))
        return self

    def scalar_one(self) -> int:
        return 7

    scalar_one_or_none = scalar_one


async def _insert_sql(insert_attempt: Any) -> str:
    from types import SimpleNamespace

    from core.db.models import Gateway

    conn = _Recorder()
    body = SimpleNamespace(method="CARD", amount=Decimal("65000.00"), currency="COP")
    attempt = await insert_attempt(conn, None, body, 3, 11, "ORD-11", Gateway.WOMPI)
    assert (attempt.order_id, attempt.transaction_id, attempt.key_id) == (11, 7, 3)
    return next(sql for sql in conn.sql if sql.startswith("INSERT INTO order_transactions"))


async def test_two_live_attempts_drops_the_index_migration_0004_creates_and_inserts_without_its_guard(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from core.api import checkout

    migration = importlib.import_module("core.migrations.versions.0004_one_live_attempt_per_order")
    defect = REGISTRY["two_live_attempts"]
    assert defect.schema_sql == (f"DROP INDEX {migration.INDEX}",)
    assert defect.parts == {"code", "schema"}
    original, replacement = _replacements("two_live_attempts", monkeypatch)["_insert_attempt"]
    assert original is checkout._insert_attempt
    assert "ON CONFLICT (order_id) WHERE status = 'pending' DO NOTHING" in await _insert_sql(original)
    assert "ON CONFLICT" not in await _insert_sql(replacement)


def test_each_issue_13_defect_names_its_finding_and_its_suites() -> None:
    for name in ("wompi_properties_unchecked", "two_live_attempts", "payload_stored_raw"):
        assert REGISTRY[name].finding.startswith("issue 13 §1"), name
        assert all(target.startswith("suites/") for target in REGISTRY[name].quick), name
