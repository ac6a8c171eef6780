"""The Efecty code probe on a real Postgres, one schema per case: it passes only when a unique index over the
column refuses the repeat, it is inconclusive (a failure) when anything else happens, and it leaves nothing.

Each case builds a table ``probe.codes`` with two payments (two orders, two codes) in the test's own database
(the ``conn`` fixture: a fresh clone, dropped afterwards) and gives the second the first one's code.
"""

from __future__ import annotations

import asyncpg
import pytest

from harness.target.evidence import locate, repeat_efecty_code, unique_indexes
from harness.target.profile import EfectyCode
from harness.target.target import ObserveFailed

TABLE = "CREATE TABLE probe.codes (id serial PRIMARY KEY, order_id int NOT NULL, gateway text NOT NULL, code text"
REPEAT = "UPDATE probe.codes SET code = :taken WHERE code = :own"
SPEC = EfectyCode(column="probe.codes.code", repeat=REPEAT)


async def _codes(conn: asyncpg.Connection, table: str, *after: str) -> None:
    await conn.execute("CREATE SCHEMA probe")
    await conn.execute(table)
    for statement in after:
        await conn.execute(statement)
    await conn.execute("INSERT INTO probe.codes (order_id, gateway, code) VALUES (1, 'efecty', 'MST-1-AAAAAA'),"
                       " (2, 'efecty', 'MST-2-BBBBBB'), (3, 'wompi', 'WOMPI-REF-3')")


async def _probe(conn: asyncpg.Connection, spec: EfectyCode = SPEC) -> tuple[str, str]:
    probe = await repeat_efecty_code(conn, spec, taken="MST-1-AAAAAA", own="MST-2-BBBBBB")
    return probe.verdict, probe.evidence


@pytest.mark.parametrize("table", [
    f"{TABLE} UNIQUE)",
    f"{TABLE}, CONSTRAINT uq_code UNIQUE (gateway, code))",
])
async def test_a_unique_constraint_over_the_code_refuses_the_repeat(conn: asyncpg.Connection, table: str) -> None:
    await _codes(conn, table)
    verdict, evidence = await _probe(conn, EfectyCode(column="probe.codes.code",
                                                      repeat=REPEAT + " AND gateway = 'efecty'"))
    assert verdict == "refused", evidence
    assert "CREATE UNIQUE INDEX" in evidence and "(probe rolled back)" in evidence


async def test_a_partial_unique_index_over_efecty_codes_refuses_the_repeat(conn: asyncpg.Connection) -> None:
    await _codes(conn, f"{TABLE})",
                 "CREATE UNIQUE INDEX uq_efecty_code ON probe.codes (code) WHERE gateway = 'efecty'")
    verdict, evidence = await _probe(conn, EfectyCode(column="probe.codes.code",
                                                      repeat=REPEAT + " AND gateway = 'efecty'"))
    assert verdict == "refused" and "uq_efecty_code" in evidence and "WHERE" in evidence, evidence


async def test_a_deferred_unique_constraint_is_checked_at_once_and_refuses(conn: asyncpg.Connection) -> None:
    """Without SET CONSTRAINTS ALL IMMEDIATE the check waits for a COMMIT that never comes: 'accepted' (tried)."""
    await _codes(conn, f"{TABLE} UNIQUE DEFERRABLE INITIALLY DEFERRED)")
    verdict, evidence = await _probe(conn, EfectyCode(column="probe.codes.code",
                                                      repeat=REPEAT + " AND gateway = 'efecty'"))
    assert verdict == "refused", evidence


async def test_no_constraint_takes_the_repeat_and_the_probe_leaves_nothing(conn: asyncpg.Connection) -> None:
    await _codes(conn, f"{TABLE})")
    verdict, evidence = await _probe(conn, EfectyCode(column="probe.codes.code",
                                                      repeat=REPEAT + " AND gateway = 'efecty'"))
    assert verdict == "accepted", evidence
    assert "held by 2 rows of probe.codes.code" in evidence and "none" in evidence
    rows = await conn.fetch("SELECT order_id, code FROM probe.codes WHERE gateway = 'efecty' ORDER BY order_id")
    assert [tuple(r) for r in rows] == [(1, "MST-1-AAAAAA"), (2, "MST-2-BBBBBB")]


async def test_a_unique_key_that_also_holds_the_order_lets_two_orders_share_a_code(conn: asyncpg.Connection) -> None:
    """The catalog would show a unique index on the code column; only the probe shows it guards nothing here."""
    await _codes(conn, f"{TABLE}, UNIQUE (order_id, code))")
    verdict, evidence = await _probe(conn, EfectyCode(column="probe.codes.code",
                                                      repeat=REPEAT + " AND gateway = 'efecty'"))
    assert verdict == "accepted", evidence
    assert len(await unique_indexes(conn, await locate(conn, SPEC))) == 1


async def test_a_refusal_by_another_unique_index_is_no_evidence_about_codes(conn: asyncpg.Connection) -> None:
    """The repeat also moves the payment to order 1, which a unique order_id refuses: that says nothing of codes."""
    await _codes(conn, f"{TABLE}, CONSTRAINT uq_one_payment_per_order UNIQUE (order_id))")
    spec = EfectyCode(column="probe.codes.code", repeat="UPDATE probe.codes SET code = :taken, order_id = 1"
                                                        " WHERE code = :own AND gateway = 'efecty'")
    verdict, evidence = await _probe(conn, spec)
    assert verdict == "inconclusive" and "uq_one_payment_per_order" in evidence, evidence


@pytest.mark.parametrize(("repeat", "why"), [
    ("UPDATE probe.codes SET code = :taken WHERE kode = :own", "erred: UndefinedColumnError"),
    ("UPDATE probe.codes SET code = :taken WHERE code = :own AND order_id = 99", "did not give the second payment"),
    ("UPDATE probe.codes SET code = :taken WHERE code = :own AND gateway = 'efecty' AND order_id / 0 = 1",
     "erred: DivisionByZeroError"),
])
async def test_a_probe_that_errs_or_changes_nothing_is_inconclusive_never_a_pass(
    conn: asyncpg.Connection, repeat: str, why: str
) -> None:
    await _codes(conn, f"{TABLE})")
    verdict, evidence = await _probe(conn, EfectyCode(column="probe.codes.code", repeat=repeat))
    assert verdict == "inconclusive" and why in evidence, evidence


async def test_a_column_that_does_not_hold_the_codes_is_inconclusive(conn: asyncpg.Connection) -> None:
    await _codes(conn, f"{TABLE}, other text UNIQUE)")
    spec = EfectyCode(column="probe.codes.other", repeat="UPDATE probe.codes SET other = :taken WHERE other = :own")
    verdict, evidence = await _probe(conn, spec)
    assert verdict == "inconclusive" and "not the codes' column" in evidence, evidence


@pytest.mark.parametrize(("column", "line"), [
    ("probe.nocodes.code", "evidence.efecty_code.column: no table probe.nocodes in the database"),
    ("probe.codes.kode", "evidence.efecty_code.column: table probe.codes has no column kode"),
])
async def test_a_column_not_in_the_catalog_is_named(conn: asyncpg.Connection, column: str, line: str) -> None:
    await _codes(conn, f"{TABLE})")
    with pytest.raises(ObserveFailed, match=line):
        await _probe(conn, EfectyCode(column=column, repeat=REPEAT))
