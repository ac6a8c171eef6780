"""Efecty file lines: two payments of one code that share a sequence number are still two payments.

A reconciliation line's identity is (day, sequence, code) (core/reconcile.py ``line_key``); a second line
with the same identity is taken for the first one again ("already confirmed") and vanishes. The Asobancaria
parser does not make sequences unique, and nothing says a file numbers its details once for the whole file
rather than per batch (gateways.md §3: the layout is a third-party parser's). Two lines that differ in their
operation id and authorization code are two cash payments whatever their sequence says: the second is a
double payment, and the order must be flagged for a refund.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg
import pytest

from core.efecty_codes import BOGOTA
from core.tests.apikit import FakeGateways, asobancaria_file, make_settings, running_core
from core.tests.test_reconcile import voucher

if TYPE_CHECKING:
    from conftest import Database

SEQUENCE = slice(87, 94)


@pytest.mark.scenario("ATTACK-EFECTY-UNCOUNTED-CASH")
async def test_two_payments_of_a_code_with_one_sequence_number_are_a_double_payment(
    database: Database, conn: asyncpg.Connection
) -> None:
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        order, code = await voucher(core, "buyer-1", "50000.00")
        lines = asobancaria_file(today, [(code, Decimal("50000.00")), (code, Decimal("50000.00"))]).split("\n")
        # The second payment's own operation id and authorization code, but the first one's sequence number
        # (as a file numbering each batch from 1 would give it).
        second = lines[3]
        lines[3] = second[: SEQUENCE.start] + lines[2][SEQUENCE] + second[SEQUENCE.stop:]
        assert lines[3][68:80] != lines[2][68:80]
        gateways.asobancaria[today] = "\n".join(lines)
        admin = core.auth("ops-1", "admin")
        response = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["matched"], summary["duplicates"]) == (1, 1), summary
    assert await conn.fetchval("SELECT flagged_for_refund FROM orders WHERE id = $1", order["id"]) is True
