"""Money and time formats of the Efecty API: COP amounts as 2-decimal strings, Bogota days."""

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

# Colombia has had no DST since 1993: a fixed offset is exact and needs no tz database.
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")
CENT = Decimal("0.01")
_STRICT = re.compile(r"^(0|[1-9]\d{0,11})\.\d{2}$")
_LENIENT = re.compile(r"^(0|[1-9]\d{0,11})(\.\d{1,2})?$")


def parse_amount(value: object, *, strict: bool = True) -> Decimal | None:
    """``"12345.00"`` -> Decimal; None when not a string in the expected shape (numbers are refused).

    ``strict`` demands exactly two decimals (merchant API); a cashier may type ``"12345"``.
    """
    if not isinstance(value, str) or not (_STRICT if strict else _LENIENT).match(value):
        return None
    return Decimal(value).quantize(CENT)


def format_amount(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with a Z, to the microsecond, e.g. ``2026-03-01T17:00:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: object) -> datetime | None:
    """An ISO-8601 timestamp with an explicit offset (``Z`` allowed), as aware UTC; else None."""
    if not isinstance(value, str):
        return None
    if len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        # astimezone overflows for the first and last hours Python can represent (0001-01-01, 9999-12-31).
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def bogota_day(moment: datetime) -> date:
    return moment.astimezone(BOGOTA).date()
