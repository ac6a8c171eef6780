"""Money columns, indexes and foreign keys as the schema promises them, read from models and the live database."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import Float, Numeric

from core.db.models import Base

pytestmark = pytest.mark.scenario("DB-SCHEMA")

MONEY_COLUMNS = {
    ("orders", "total_amount"), ("orders", "approved_amount"),
    ("order_transactions", "amount"), ("efecty_payments", "amount"),
}


def test_no_float_column_exists_in_the_models() -> None:
    floats = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, Float) or (isinstance(column.type, Numeric) and column.type.asdecimal is False)
    ]
    assert floats == []


def test_money_columns_are_numeric_15_2_in_the_models() -> None:
    for table, column in MONEY_COLUMNS:
        kind = Base.metadata.tables[table].columns[column].type
        assert isinstance(kind, Numeric) and (kind.precision, kind.scale) == (15, 2), (table, column)


async def test_no_float_column_exists_in_the_migrated_database(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('real', 'double precision', 'money')"
    )
    assert [tuple(r) for r in rows] == []
    money = await conn.fetch(
        "SELECT table_name, column_name, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'numeric'"
    )
    found = {(r["table_name"], r["column_name"]): (r["numeric_precision"], r["numeric_scale"]) for r in money}
    assert set(found) == MONEY_COLUMNS
    assert set(found.values()) == {(15, 2)}


async def test_every_foreign_key_column_has_an_index(conn: asyncpg.Connection) -> None:
    fks = await conn.fetch(
        "SELECT c.conrelid::regclass::text AS tbl, a.attname AS col FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f'"
    )
    assert len(fks) >= 10
    missing = []
    for fk in fks:
        indexed = await conn.fetchval(
            "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] WHERE i.indrelid = $1::regclass AND a.attname = $2",
            fk["tbl"], fk["col"],
        )
        if not indexed:
            missing.append(f"{fk['tbl']}.{fk['col']}")
    assert missing == []


async def test_status_is_not_indexed_so_webhook_updates_stay_in_place(conn: asyncpg.Connection) -> None:
    # The seed asked for an index on the transaction status ("get all approved transactions"). The core
    # never looks rows up by status, and every applied webhook changes the status of one order and one
    # transaction: an index on it makes each of those updates write into every index of its table instead
    # of updating in place (HOT). Migration 0003 drops both indexes and leaves room on each page. (0004's
    # one-live-attempt index is partial on status = 'pending': a transaction leaving pending is not HOT.)
    indexes = await conn.fetch(
        "SELECT tablename, indexdef FROM pg_indexes WHERE tablename IN ('orders', 'order_transactions')")
    assert [r["indexdef"] for r in indexes if "(status)" in r["indexdef"]] == []
    options = await conn.fetch(
        "SELECT relname, reloptions FROM pg_class WHERE relname IN ('orders', 'order_transactions') ORDER BY relname")
    assert [(r["relname"], r["reloptions"]) for r in options] == [
        ("order_transactions", ["fillfactor=85"]), ("orders", ["fillfactor=85"])]


async def test_raw_gateway_payloads_are_jsonb(conn: asyncpg.Connection) -> None:
    kinds = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE column_name IN ('gateway_response', 'payload') AND table_schema = 'public'"
    )
    assert {r["data_type"] for r in kinds} == {"jsonb"}
    assert len(kinds) == 3


async def test_the_database_is_at_the_migrations_head(conn: asyncpg.Connection) -> None:
    from alembic.script import ScriptDirectory

    from core.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/x")).get_current_head()
    assert await conn.fetchval("SELECT version_num FROM alembic_version") == head
