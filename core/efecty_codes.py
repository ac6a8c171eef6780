"""Efecty payment codes and barcode data: unique codes from ``secrets``, a check digit the cashier can trust.

**Code** ``PREFIX-ORDERID-RANDOM`` (e.g. ``EFE-42-7KQ9ZP``): the prefix from settings (it must start with a
letter — the Asobancaria file pads references with zeros and the parser strips leading zeros), the order
id, and six characters ``A–Z0–9`` drawn with ``secrets`` (36⁶ ≈ 2.2·10⁹ per order, so a code cannot be
guessed from the order id). Uniqueness is the database's job: ``uq_efecty_payments_payment_code``. The
INSERT runs in a savepoint; on that violation another random part is drawn, a bounded number of times.

**Barcode data** (the project's scheme; Efecty publishes none — gateways.md §3): 45 digits,

    convenio (10) · order id (12) · amount in cents (14) · expiry date YYYYMMDD, Bogota (8) · check (1)

each zero-padded, and the last digit is the GS1 mod-10 check digit over the 44 before it (weights 3 and
1 alternating from the right, as for GTIN/GLN/SSCC), so a mis-keyed digit is caught at the counter.

Usage::

    issued = await issue_code(conn, order_id=42, amount=Decimal("50000.00"), expires_at=deadline,
                              prefix="EFE", convenio="110634")
    assert barcode_is_valid(issued.barcode_data)
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.models import EfectyPayment
from core.money import to_cents

ALPHABET = string.ascii_uppercase + string.digits
RANDOM_LENGTH = 6
MAX_ATTEMPTS = 8
CODE_MAX_LENGTH = 50  # efecty_payments.payment_code and the Efecty API's limit
BARCODE_LENGTH = 45
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")  # Colombia keeps no daylight saving time
_UNIQUE_CODE = "uq_efecty_payments_payment_code"
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")

efecty_t = cast(Table, EfectyPayment.__table__)

RandomPart = Callable[[], str]


class CodeSpaceExhausted(RuntimeError):
    """Every attempt collided; with a 36⁶ random part this means a broken random source."""


def random_part() -> str:
    """Six characters ``A–Z0–9`` from the operating system's CSPRNG."""
    return "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))


def make_code(prefix: str, order_id: int, rand: str) -> str:
    if not _PREFIX.match(prefix):
        raise ValueError("the Efecty code prefix must be 1–16 of A–Z0–9 and start with a letter")
    if len(rand) != RANDOM_LENGTH or any(c not in ALPHABET for c in rand):
        raise ValueError(f"the random part must be {RANDOM_LENGTH} characters A–Z0–9")
    code = f"{prefix}-{order_id}-{rand}"
    if len(code) > CODE_MAX_LENGTH:
        raise ValueError("payment code too long")
    return code


def gs1_check_digit(digits: str) -> int:
    """GS1 mod-10: weight 3 on the rightmost digit, then 1, 3, … leftwards; the check tops the sum up to 10."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("GS1 check digits are computed over digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _field(value: int, width: int, name: str) -> str:
    text = str(value)
    if value < 0 or len(text) > width:
        raise ValueError(f"{name} does not fit in {width} digits")
    return text.zfill(width)


def barcode_data(convenio: str, order_id: int, amount: Decimal, expires_at: datetime) -> str:
    """The 45-digit barcode payload described in the module docstring."""
    if not convenio.isascii() or not convenio.isdigit():
        raise ValueError("the convenio must be digits")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    body = (
        _field(int(convenio), 10, "convenio")
        + _field(order_id, 12, "order id")
        + _field(to_cents(amount), 14, "amount")
        + expires_at.astimezone(BOGOTA).strftime("%Y%m%d")
    )
    return body + str(gs1_check_digit(body))


def barcode_is_valid(data: str) -> bool:
    """Length, digits only, and the check digit agrees with the rest."""
    if len(data) != BARCODE_LENGTH or not data.isascii() or not data.isdigit():
        return False
    return gs1_check_digit(data[:-1]) == int(data[-1])


@dataclass(frozen=True, slots=True)
class IssuedCode:
    efecty_payment_id: int
    payment_code: str
    barcode_data: str
    expires_at: datetime
    attempts: int


def _is_code_collision(exc: IntegrityError) -> bool:
    # asyncpg's UniqueViolationError (the DBAPI error's cause) names the constraint it hit.
    cause = getattr(exc.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(exc.orig, "constraint_name", None)
    return name == _UNIQUE_CODE if name else _UNIQUE_CODE in str(exc.orig)


async def issue_code(
    conn: AsyncConnection,
    *,
    order_id: int,
    amount: Decimal,
    expires_at: datetime,
    prefix: str,
    convenio: str,
    transaction_id: int | None = None,
    rand: RandomPart = random_part,
    attempts: int = MAX_ATTEMPTS,
) -> IssuedCode:
    """Insert an ``efecty_payments`` row with a fresh unique code, inside the caller's transaction.

    ``rand`` is injectable so a test can force collisions. Raises CodeSpaceExhausted after ``attempts``.
    """
    barcode = barcode_data(convenio, order_id, amount, expires_at)
    for attempt in range(1, attempts + 1):
        code = make_code(prefix, order_id, rand())
        try:
            # A savepoint: a collision must not abort the caller's whole transaction.
            async with conn.begin_nested():
                row_id = (
                    await conn.execute(
                        insert(efecty_t)
                        .values(
                            order_id=order_id,
                            transaction_id=transaction_id,
                            payment_code=code,
                            barcode_data=barcode,
                            amount=amount,
                            expires_at=expires_at,
                        )
                        .returning(efecty_t.c.id)
                    )
                ).scalar_one()
        except IntegrityError as exc:
            if not _is_code_collision(exc):
                raise
            continue
        return IssuedCode(int(row_id), code, barcode, expires_at, attempt)
    raise CodeSpaceExhausted(f"no unique Efecty code after {attempts} attempts")
