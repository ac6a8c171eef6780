"""Efecty codes and barcode data: format, GS1 check digit, and uniqueness enforced by the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine

from core.efecty_codes import (
    BARCODE_LENGTH,
    CodeSpaceExhausted,
    barcode_data,
    barcode_is_valid,
    gs1_check_digit,
    issue_code,
    make_code,
    random_part,
)

pytestmark = pytest.mark.scenario("EFECTY-CODES")

if TYPE_CHECKING:
    from conftest import Database

EXPIRY = datetime(2025, 2, 1, 3, 0, tzinfo=UTC)  # 2025-01-31 22:00 in Bogota


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("400638133393", 1),  # EAN-13 4006381333931
        ("629104150021", 3),  # EAN-13 6291041500213
        ("7501031311309"[:-1], 9),  # EAN-13 7501031311309
        ("03600029145", 2),  # UPC-A 036000291452
    ],
)
@pytest.mark.scenario("EFECTY-BARCODE")
def test_gs1_check_digit_matches_published_barcodes(digits: str, check: int) -> None:
    assert gs1_check_digit(digits) == check


def test_random_part_is_six_characters_from_the_alphabet() -> None:
    parts = {random_part() for _ in range(200)}
    assert all(re.fullmatch(r"[A-Z0-9]{6}", p) for p in parts)
    assert len(parts) > 190  # a constant or low-entropy source would repeat


def test_code_format_and_prefix_rules() -> None:
    assert make_code("EFE", 42, "7KQ9ZP") == "EFE-42-7KQ9ZP"
    for bad_prefix in ("0EF", "efe", "", "E-F"):
        with pytest.raises(ValueError):
            make_code(bad_prefix, 1, "AAAAAA")
    with pytest.raises(ValueError):
        make_code("EFE", 1, "aaaaaa")


def test_barcode_layout() -> None:
    data = barcode_data("110634", 42, Decimal("65000.50"), EXPIRY)
    assert len(data) == BARCODE_LENGTH
    assert data[:10] == "0000110634"
    assert data[10:22] == "000000000042"
    assert data[22:36] == "00000006500050"
    assert data[36:44] == "20250131"  # the expiry date is Bogota's, not UTC's
    assert barcode_is_valid(data)


@given(
    order_id=st.integers(1, 10**12 - 1),
    cents=st.integers(100_000, 5_000_000_000),
    position=st.integers(0, BARCODE_LENGTH - 1),
    delta=st.integers(1, 9),
)
@pytest.mark.scenario("EFECTY-BARCODE")
def test_any_single_digit_error_breaks_the_check_digit(order_id: int, cents: int, position: int, delta: int) -> None:
    data = barcode_data("110634", order_id, Decimal(cents) / 100, EXPIRY)
    assert barcode_is_valid(data)
    wrong = str((int(data[position]) + delta) % 10)
    assert not barcode_is_valid(data[:position] + wrong + data[position + 1 :])


def _forced(*parts: str) -> Iterator[str]:
    yield from parts


async def _order(conn: asyncpg.Connection, reference: str) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ($1, 'b1', 65000) RETURNING id", reference
        )
    )


@pytest.mark.scenario("EFECTY-CODE-UNIQUENESS")
async def test_code_collisions_retry_with_a_new_random_part(database: Database, conn: asyncpg.Connection) -> None:
    order_id = await _order(conn, "ORD-COLLIDE")
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as c:
            first = await issue_code(
                c,
                order_id=order_id,
                amount=Decimal("65000.00"),
                expires_at=EXPIRY,
                prefix="EFE",
                convenio="110634",
                rand=lambda: "AAAAAA",
            )
        # The next source repeats the taken part twice before offering a fresh one.
        source = _forced("AAAAAA", "AAAAAA", "BBBBBB")
        async with engine.begin() as c:
            second = await issue_code(
                c,
                order_id=order_id,
                amount=Decimal("65000.00"),
                expires_at=EXPIRY,
                prefix="EFE",
                convenio="110634",
                rand=lambda: next(source),
            )
    finally:
        await engine.dispose()
    assert first.payment_code == f"EFE-{order_id}-AAAAAA" and first.attempts == 1
    assert second.payment_code == f"EFE-{order_id}-BBBBBB" and second.attempts == 3
    # The savepoints rolled back only the colliding inserts: both codes are stored, once each.
    codes = [r["payment_code"] for r in await conn.fetch("SELECT payment_code FROM efecty_payments ORDER BY id")]
    assert codes == [first.payment_code, second.payment_code]


@pytest.mark.scenario("EFECTY-CODE-UNIQUENESS")
async def test_a_source_that_always_collides_gives_up_after_bounded_attempts(
    database: Database, conn: asyncpg.Connection
) -> None:
    order_id = await _order(conn, "ORD-STUCK")
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as c:
            await issue_code(
                c,
                order_id=order_id,
                amount=Decimal("1000"),
                expires_at=EXPIRY + timedelta(days=1),
                prefix="EFE",
                convenio="110634",
                rand=lambda: "ZZZZZZ",
            )
        calls = 0

        def stuck() -> str:
            nonlocal calls
            calls += 1
            return "ZZZZZZ"

        with pytest.raises(CodeSpaceExhausted):
            async with engine.begin() as c:
                await issue_code(
                    c,
                    order_id=order_id,
                    amount=Decimal("1000"),
                    expires_at=EXPIRY,
                    prefix="EFE",
                    convenio="110634",
                    rand=stuck,
                    attempts=4,
                )
    finally:
        await engine.dispose()
    assert calls == 4
    assert await conn.fetchval("SELECT count(*) FROM efecty_payments") == 1
