"""Efecty codes and barcodes at their edges: widths, non-ASCII digits, what the issued row records, collisions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from core.efecty_codes import (
    BARCODE_LENGTH,
    CODE_MAX_LENGTH,
    _is_code_collision,
    barcode_data,
    barcode_is_valid,
    gs1_check_digit,
    issue_code,
    make_code,
)

pytestmark = pytest.mark.scenario("EFECTY-CODES")

if TYPE_CHECKING:
    from conftest import Database

EXPIRY = datetime(2025, 2, 1, 3, 0, tzinfo=UTC)
# Digits that str.isdigit() and int() accept but a barcode scanner and the Asobancaria file do not.
ARABIC_INDIC = "١١٠٦٣٤"
FULLWIDTH = "１１０６３４"


def test_a_code_may_fill_the_column_exactly_but_not_exceed_it() -> None:
    prefix = "E" + "F" * 15  # the longest prefix the rules allow
    fits = 10 ** (CODE_MAX_LENGTH - len(prefix) - 8 - 1)  # "-" + order id + "-" + six characters
    assert len(make_code(prefix, fits, "AAAAAA")) == CODE_MAX_LENGTH
    with pytest.raises(ValueError):
        make_code(prefix, fits * 10, "AAAAAA")


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULLWIDTH])
def test_only_ascii_digits_make_a_barcode(digits: str) -> None:
    with pytest.raises(ValueError):
        gs1_check_digit(digits)
    with pytest.raises(ValueError):
        barcode_data(digits, 42, Decimal("1000.00"), EXPIRY)


@given(convenio=st.integers(0, 10**10 - 1), order_id=st.integers(0, 10**12 - 1), cents=st.integers(0, 10**14 - 1))
def test_every_field_reads_back_from_its_fixed_position(convenio: int, order_id: int, cents: int) -> None:
    data = barcode_data(str(convenio), order_id, Decimal(cents) / 100, EXPIRY)
    assert (int(data[:10]), int(data[10:22]), int(data[22:36])) == (convenio, order_id, cents)
    assert len(data) == BARCODE_LENGTH and barcode_is_valid(data)


def test_zero_is_a_field_value_like_any_other() -> None:
    assert barcode_data("0", 0, Decimal("0.00"), EXPIRY)[:36] == "0" * 36


@pytest.mark.parametrize(("order_id", "amount"), [(-1, Decimal("1.00")), (1, Decimal("-0.01")),
                                                  (10**12, Decimal("1.00")), (1, Decimal(10**12))])
def test_values_that_do_not_fit_their_field_are_refused(order_id: int, amount: Decimal) -> None:
    with pytest.raises(ValueError):
        barcode_data("110634", order_id, amount, EXPIRY)


@pytest.mark.parametrize(("convenio", "order_id", "cents", "field"), [
    ("1" * 11, 1, 100, "convenio does not fit in 10 digits"),
    ("110634", 10**12, 100, "order id does not fit in 12 digits"),
    ("110634", 1, 10**14, "amount does not fit in 14 digits"),
])
def test_a_value_too_wide_is_refused_naming_its_field(convenio: str, order_id: int, cents: int, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}$"):
        barcode_data(convenio, order_id, Decimal(cents) / 100, EXPIRY)


def _with_check(body: str) -> str:
    return body + str(gs1_check_digit(body))


def test_a_payload_is_valid_only_at_45_ascii_digits_even_when_its_check_digit_agrees() -> None:
    good = barcode_data("110634", 42, Decimal("65000.50"), EXPIRY)
    assert barcode_is_valid(good)
    assert not barcode_is_valid(_with_check(good[:-2]))  # 44 digits, self-consistent
    assert not barcode_is_valid(_with_check(good))  # 46 digits, self-consistent
    # A letter where a digit belongs is invalid, not an error at the counter.
    assert barcode_is_valid(good[:5] + "A" + good[6:]) is False
    assert barcode_is_valid(good[:-1] + "٣") is False


class _Driver(Exception):
    def __init__(self, message: str, constraint_name: str | None = None) -> None:
        super().__init__(message)
        self.constraint_name = constraint_name


def _integrity(orig: Exception, cause: Exception | None = None) -> IntegrityError:
    orig.__cause__ = cause
    return IntegrityError("INSERT INTO efecty_payments …", {}, orig)


@pytest.mark.parametrize(
    ("error", "collision"),
    [
        # asyncpg through SQLAlchemy: the adapted error's cause names the constraint.
        (_integrity(_Driver("duplicate key"), _Driver("duplicate key", "uq_efecty_payments_payment_code")), True),
        (_integrity(_Driver("uq_efecty_payments_payment_code"), _Driver("x", "fk_efecty_payments_order_id")), False),
        # A driver that puts the name on the error itself.
        (_integrity(_Driver("duplicate key", "uq_efecty_payments_payment_code")), True),
        (_integrity(_Driver("violates", "uq_orders_reference")), False),
        # A driver that names no constraint: only the message can tell.
        (_integrity(_Driver('violates unique constraint "uq_efecty_payments_payment_code"')), True),
        (_integrity(_Driver('violates foreign key constraint "fk_efecty_payments_order_id"')), False),
        # A driver whose errors have no constraint_name attribute at all.
        (_integrity(Exception('duplicate key violates unique constraint "uq_efecty_payments_payment_code"')), True),
        (_integrity(Exception("deadlock detected")), False),
    ],
)
def test_only_a_violation_of_the_code_constraint_counts_as_a_collision(error: IntegrityError, collision: bool) -> None:
    assert _is_code_collision(error) is collision


async def test_the_issued_row_records_the_transaction_the_code_pays_for(database: Database,
                                                                         conn: asyncpg.Connection) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-TXN', 'b1', 65000) RETURNING id")
    txn_id = await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency)"
        " VALUES ($1, 'efecty', 'ORD-TXN-1', 'EFECTY', 65000, 'COP') RETURNING id", order_id)
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as c:
            issued = await issue_code(c, order_id=order_id, amount=Decimal("65000.00"), expires_at=EXPIRY,
                                      prefix="EFE", convenio="110634", transaction_id=txn_id, rand=lambda: "QWERTY")
    finally:
        await engine.dispose()
    row = await conn.fetchrow("SELECT id, transaction_id, expires_at, payment_code FROM efecty_payments")
    assert (issued.efecty_payment_id, issued.expires_at, issued.payment_code) == (
        row["id"], EXPIRY, row["payment_code"])
    assert row["transaction_id"] == txn_id and row["expires_at"] == EXPIRY
