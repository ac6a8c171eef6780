"""Observation queries get each id in the type Postgres infers for its parameter, not one guessed from its look."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from harness.postgres import PostgresHandle
from harness.target.target import ObserveFailed, _count, _decimal, fetch

TABLE = "fetch_probe"


@pytest.fixture
async def conn(postgres: PostgresHandle) -> AsyncIterator[asyncpg.Connection]:
    """A connection with a temporary table (gone with the connection) of a text id, an integer id, an amount."""
    connection = await asyncpg.connect(postgres.dsn)
    await connection.execute(f"CREATE TEMP TABLE {TABLE} (text_id text, int_id bigint, amount numeric(14, 2))")
    await connection.execute(f"INSERT INTO {TABLE} VALUES ('494286951518', 7, 12.50), ('ab12', 8, 3)")
    try:
        yield connection
    finally:
        await connection.close()


async def test_an_all_digit_id_reaches_a_text_column_as_text(conn: asyncpg.Connection) -> None:
    """The preflight's random event id was all digits once in ~300 runs and failed 'expected str, got int'."""
    rows = await fetch(conn, f"SELECT int_id FROM {TABLE} WHERE text_id = $1", ["494286951518"])
    assert [r["int_id"] for r in rows] == [7]


async def test_an_integer_column_gets_an_integer(conn: asyncpg.Connection) -> None:
    rows = await fetch(conn, f"SELECT text_id FROM {TABLE} WHERE int_id = $1", ["8"])
    assert [r["text_id"] for r in rows] == ["ab12"]


async def test_a_numeric_parameter_is_a_decimal(conn: asyncpg.Connection) -> None:
    rows = await fetch(conn, f"SELECT text_id FROM {TABLE} WHERE amount = $1", ["12.50"])
    assert [r["text_id"] for r in rows] == ["494286951518"]


async def test_a_non_number_for_an_integer_column_is_a_value_error(conn: asyncpg.Connection) -> None:
    with pytest.raises(ValueError):
        await fetch(conn, f"SELECT 1 FROM {TABLE} WHERE int_id = $1", ["ab12"])


@pytest.mark.parametrize(("read", "field"), [(_decimal, "observe.amount_paid"), (_count, "observe.order_count")])
def test_a_null_observation_is_no_zero(read: Any, field: str) -> None:
    """A query that misses (a wrong column, an outer join) answers NULL: read as 0 it passed every check that
    expects nothing paid or nothing stored."""
    with pytest.raises(ObserveFailed, match=f"^{field}: NULL"):
        read(field, None)
    assert read(field, "0") == 0
