"""Amount conversions, weak (float, as the seed found them) and hardened (Decimal)."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def amount_in_cents(total: float | Decimal, hardened: bool) -> int:
    """The order total in the minor units Wompi wants."""
    if not hardened:
        # seed S3: float arithmetic truncated to int: 1234567.89 * 100 == 123456788.99999999 -> 123456788.
        return int(total * 100)
    cents = Decimal(total) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{total} has more than two decimals")
    return int(cents)


def from_cents(cents: int, hardened: bool) -> float | Decimal:
    """A gateway's amount in cents as the shop's money type."""
    if not hardened:
        return cents * 0.01  # seed S3: 123456789 * 0.01 == 1234567.8900000001
    return (Decimal(cents) / 100).quantize(CENT)


def as_text(amount: float | Decimal) -> str:
    """Two decimals, as PayU and Efecty want amounts written."""
    return f"{amount:.2f}"
