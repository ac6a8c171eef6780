"""The one module that owns money rules: parsing, quantizing, cents and each gateway's amount format.

Every amount in the core is a `decimal.Decimal` with at most two places. A float is refused on sight:
binary floats cannot hold 0.1 exactly, and a payment system that rounds silently pays silently.

Usage::

    amount = parse_amount("65000.00")          # Decimal('65000.00')
    to_cents(amount)                            # 6500000, what Wompi wants
    payu_tx_value(amount, "COP")                # '65000', what PayU signs and receives
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

__all__ = [
    "AMOUNT_INT_MAX",
    "AMOUNT_PATTERN",
    "CENT",
    "asobancaria_cents",
    "format_amount",
    "from_asobancaria_cents",
    "from_cents",
    "parse_amount",
    "parse_amount_input",
    "payu_confirmation_value",
    "payu_response_value",
    "payu_tx_value",
    "quantize",
    "to_cents",
]

CENT = Decimal("0.01")
# The one published shape of an amount string a client may send: what NUMERIC(15, 2) holds, ASCII digits,
# nothing else. Decimal() alone also reads "1e3", "+5", "65_000", " 5 " and full-width or Arabic-Indic digits.
AMOUNT_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
AMOUNT_INT_MAX = 10**13 - 1
_AMOUNT_TEXT = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,2})?", re.ASCII)
_TENTH = Decimal("0.1")
_HUNDRED = Decimal(100)


def parse_amount(value: str | int | Decimal, *, allow_negative: bool = False) -> Decimal:
    """Parse an amount into a Decimal with exactly two places.

    Refuses floats and bools (TypeError), NaN, infinities, more than two significant decimals and,
    unless asked, negative amounts (ValueError). Usage: ``parse_amount("150.25")``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        # bool is an int subclass; True is not one peso.
        raise TypeError(f"amounts must be str, int or Decimal, not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty amount")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"amount must be finite, got {number}")
    return quantize(number, allow_negative=allow_negative)


def parse_amount_input(value: str | int) -> Decimal:
    """Parse an amount a client sent: a string matching ``AMOUNT_PATTERN`` exactly, or an integer in range.

    Stricter than ``parse_amount``, which also reads what gateways send. TypeError for any other type
    (floats and bools included), ValueError for anything outside the pattern or the range.
    Usage: ``parse_amount_input("65000.50")``.
    """
    if isinstance(value, str):
        # fullmatch, not match with "$": "$" also matches before a trailing newline.
        if _AMOUNT_TEXT.fullmatch(value) is None:
            raise ValueError(f'amount must match {AMOUNT_PATTERN}, like "65000.00"')
        return quantize(Decimal(value))
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"amounts must be str or int, not {type(value).__name__}")
    if not 0 <= value <= AMOUNT_INT_MAX:
        raise ValueError(f"an integer amount must be between 0 and {AMOUNT_INT_MAX}")
    return quantize(Decimal(value))


def quantize(amount: Decimal, *, allow_negative: bool = False) -> Decimal:
    """Write an amount with exactly two places, refusing any change of value (never rounds).

    Usage: ``quantize(Decimal("7.5")) == Decimal("7.50")``.
    """
    if isinstance(amount, float):
        raise TypeError("floats are never amounts")
    if not amount.is_finite():
        raise ValueError(f"amount must be finite, got {amount}")
    try:
        exact = amount.quantize(CENT)
    except InvalidOperation:
        raise ValueError(f"amount too large: {amount}") from None
    if exact != amount:
        raise ValueError(f"amount has more than two decimals: {amount}")
    if exact < 0 and not allow_negative:
        raise ValueError(f"amount must not be negative: {amount}")
    # Normalise negative zero: -0.00 would print as '-0.00' in gateway payloads.
    return exact + 0 if exact == 0 else exact


def format_amount(amount: Decimal) -> str:
    """Write an amount with two decimals and no grouping (``"12345.00"``), as the Efecty API wants."""
    return f"{quantize(amount, allow_negative=True):f}"


def to_cents(amount: Decimal) -> int:
    """Turn pesos into integer cents (Wompi's ``amount_in_cents``); refuses fractional cents.

    Usage: ``to_cents(Decimal("24900.00")) == 2490000``.
    """
    if isinstance(amount, float | bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"to_cents takes a Decimal, not {type(amount).__name__}")
    exact = quantize(Decimal(amount), allow_negative=True)
    return int(exact * _HUNDRED)


def from_cents(cents: int) -> Decimal:
    """Turn integer cents back into pesos with two places. Usage: ``from_cents(2490000)``."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be an int, not {type(cents).__name__}")
    return (Decimal(cents) / _HUNDRED).quantize(CENT)


def payu_tx_value(amount: Decimal, currency: str) -> str:
    """Write ``TX_VALUE`` exactly as PayU both receives and signs it.

    PayU Colombia says COP amounts "cannot include decimals", and the documented signature of the
    Colombia example signs ``65000``, not ``65000.00`` (gateways.md §1.6). A whole amount is therefore
    written without decimals in any currency; a fractional COP amount is refused rather than rounded.
    Usage: ``payu_tx_value(Decimal("65000.00"), "COP") == "65000"``.
    """
    exact = quantize(amount)
    if exact == exact.to_integral_value():
        return str(int(exact))
    if currency.upper() == "COP":
        raise ValueError(f"PayU Colombia refuses COP amounts with decimals: {exact}")
    return f"{exact:f}"


def payu_confirmation_value(value: str | Decimal) -> str:
    """``new_value`` for the confirmation-URL ``sign``: look at the second decimal, never round.

    If the second decimal is 0, write one decimal (``150.00`` → ``150.0``, ``150`` → ``150.0``);
    otherwise keep both (``150.25`` → ``150.25``, ``150.05`` → ``150.05``). gateways.md §1.7 and §5.3:
    this is *not* the response-URL rule. Usage: ``payu_confirmation_value("150.00") == "150.0"``.
    """
    exact = parse_amount(value)
    if (exact * _HUNDRED) % 10 == 0:
        return f"{exact.quantize(_TENTH):f}"
    return f"{exact:f}"


def payu_response_value(value: str | Decimal) -> str:
    """``new_value`` for the response-URL signature: round to one decimal, half to even.

    ``150.25`` → ``150.2``, ``150.35`` → ``150.4`` (gateways.md §1.7). Usage:
    ``payu_response_value("150.25") == "150.2"``.
    """
    exact = parse_amount(value)
    return f"{exact.quantize(_TENTH, rounding=ROUND_HALF_EVEN):f}"


def asobancaria_cents(amount: Decimal, width: int) -> str:
    """Write an amount as zero-padded cents in a fixed-width Asobancaria field; refuses overflow."""
    cents = to_cents(amount)
    if cents < 0:
        raise ValueError("Asobancaria amounts are never negative")
    text = str(cents)
    if len(text) > width:
        raise ValueError(f"{amount} does not fit in {width} digits of cents")
    return text.zfill(width)


def from_asobancaria_cents(field: str) -> Decimal:
    """Read a zero-padded Asobancaria cents field (digits only) into pesos."""
    if not field or not field.isascii() or not field.isdigit():
        raise ValueError(f"Asobancaria amount must be digits, got {field!r}")
    return from_cents(int(field))
