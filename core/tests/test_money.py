"""Property and table tests for core.money: Decimal parsing, cents and each gateway's amount format."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import money

# Amounts as the core stores them: Numeric(15, 2), non-negative.
amounts = st.decimals(min_value=0, max_value=Decimal("9999999999999.99"), places=2, allow_nan=False)
cents = st.integers(min_value=0, max_value=999_999_999_999_999)


@given(amounts)
def test_cents_round_trip_is_exact(amount: Decimal) -> None:
    assert money.from_cents(money.to_cents(amount)) == amount


@given(cents)
def test_from_cents_then_to_cents_is_identity(value: int) -> None:
    assert money.to_cents(money.from_cents(value)) == value


@given(amounts)
def test_parse_accepts_its_own_formatting(amount: Decimal) -> None:
    text = money.format_amount(amount)
    assert money.parse_amount(text) == amount
    assert text == f"{amount:.2f}"


@given(st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False))
def test_parse_refuses_a_third_significant_decimal(value: Decimal) -> None:
    if value == value.quantize(Decimal("0.01")):
        assert money.parse_amount(value) == value
    else:
        with pytest.raises(ValueError, match="more than two decimals"):
            money.parse_amount(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_always_refused(value: float) -> None:
    with pytest.raises(TypeError):
        money.parse_amount(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", Decimal("NaN"), Decimal("Infinity")])
def test_parse_refuses_non_finite(value: str | Decimal) -> None:
    with pytest.raises(ValueError):
        money.parse_amount(value)


@pytest.mark.parametrize("value", [True, False, None, 1.5, [1]])
def test_parse_refuses_non_amount_types(value: object) -> None:
    with pytest.raises(TypeError):
        money.parse_amount(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "  ", "12,50", "1e", "abc"])
def test_parse_refuses_garbage(value: str) -> None:
    with pytest.raises(ValueError):
        money.parse_amount(value)


def test_parse_refuses_negative_unless_allowed() -> None:
    with pytest.raises(ValueError, match="negative"):
        money.parse_amount("-1.00")
    assert money.parse_amount("-1.5", allow_negative=True) == Decimal("-1.50")


def test_negative_zero_is_written_as_zero() -> None:
    assert money.format_amount(money.parse_amount("-0.00")) == "0.00"


@pytest.mark.parametrize("value", [Decimal("0.001"), Decimal("10.005")])
def test_to_cents_refuses_fractional_cents(value: Decimal) -> None:
    with pytest.raises(ValueError):
        money.to_cents(value)


def test_to_cents_refuses_float_and_from_cents_refuses_non_int() -> None:
    with pytest.raises(TypeError):
        money.to_cents(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        money.from_cents(Decimal("100"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        money.from_cents(True)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("65000.00", "COP", "65000"),
        ("20000", "COP", "20000"),
        ("3", "USD", "3"),
        ("150.25", "USD", "150.25"),
        ("150.50", "USD", "150.50"),
    ],
)
def test_payu_tx_value_is_written_as_signed(amount: str, currency: str, expected: str) -> None:
    assert money.payu_tx_value(Decimal(amount), currency) == expected


def test_payu_tx_value_refuses_cop_cents() -> None:
    with pytest.raises(ValueError, match="COP"):
        money.payu_tx_value(Decimal("65000.50"), "COP")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150.00", "150.0"),
        ("150", "150.0"),
        ("150.26", "150.26"),
        ("150.25", "150.25"),
        ("150.05", "150.05"),  # derived from the rule: second decimal 5, keep both, no rounding
        ("150.10", "150.1"),
        ("100.00", "100.0"),
        ("0.00", "0.0"),
    ],
)
def test_confirmation_new_value_drops_only_a_trailing_zero(value: str, expected: str) -> None:
    assert money.payu_confirmation_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("150.25", "150.2"), ("150.35", "150.4"), ("150.34", "150.3"), ("150.00", "150.0"), ("150.26", "150.3")],
)
def test_response_new_value_rounds_half_even(value: str, expected: str) -> None:
    assert money.payu_response_value(value) == expected


@given(amounts)
def test_confirmation_new_value_never_rounds(amount: Decimal) -> None:
    # Whatever is written must be numerically the amount itself.
    assert Decimal(money.payu_confirmation_value(amount)) == amount


@given(amounts)
def test_response_new_value_is_within_five_cents(amount: Decimal) -> None:
    assert abs(Decimal(money.payu_response_value(amount)) - amount) <= Decimal("0.05")


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2, allow_nan=False))
def test_asobancaria_cents_round_trip(amount: Decimal) -> None:
    field = money.asobancaria_cents(amount, 14)
    assert len(field) == 14
    assert field.isdigit()
    assert money.from_asobancaria_cents(field) == amount


def test_asobancaria_cents_refuses_overflow_and_bad_fields() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        money.asobancaria_cents(Decimal("1000000000000.00"), 14)
    for bad in ["", "00000000001 0", "0000000000x1", "-0000000000001"]:
        with pytest.raises(ValueError):
            money.from_asobancaria_cents(bad)
