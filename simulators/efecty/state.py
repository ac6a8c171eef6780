"""Efecty's books: registered vouchers, payments taken at points, and the injected oddities.

Usage: ``book = EfectyBook(seed=0); book.register(...); book.pay(code, amount, "PT-0042", now)``
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from simulators.efecty.errors import AlreadyPaid, AmountMismatch, DuplicateCode, Expired, UnknownCode
from simulators.efecty.money import bogota_day, format_amount, iso


@dataclass(frozen=True)
class Payment:
    """A cash payment at a point: the receipt the cashier hands over and a line of the day's file."""

    payment_code: str
    amount: Decimal
    paid_at: datetime
    point_id: str
    authorization_code: str
    operation_id: str
    # False for lines injected through /__admin (no voucher, or a different amount).
    registered: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "payment_code": self.payment_code,
            "amount": format_amount(self.amount),
            "paid_at": iso(self.paid_at),
            "point_id": self.point_id,
            "authorization_code": self.authorization_code,
            "operation_id": self.operation_id,
        }


@dataclass
class Voucher:
    payment_code: str
    amount: Decimal
    currency: str
    expires_at: datetime
    created_at: datetime
    reference: str
    description: str | None = None
    status: str = "PENDING"
    payment: Payment | None = None
    expired_at: datetime | None = None

    def refresh(self, now: datetime) -> None:
        # Expiry is lazy: a voucher becomes EXPIRED the first time anyone looks after its deadline.
        if self.status == "PENDING" and now >= self.expires_at:
            self.status = "EXPIRED"
            self.expired_at = self.expires_at

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "payment_code": self.payment_code,
            "amount": format_amount(self.amount),
            "currency": self.currency,
            "status": self.status,
            "expires_at": iso(self.expires_at),
            "created_at": iso(self.created_at),
            "reference": self.reference,
        }
        if self.description is not None:
            body["description"] = self.description
        if self.payment is not None:
            body["paid_at"] = iso(self.payment.paid_at)
        return body


@dataclass
class EfectyBook:
    """All vouchers and payments; deterministic for a given seed (authorization codes, operation ids)."""

    seed: int = 0
    vouchers: dict[str, Voucher] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._operations = self._first_operation()

    def clear(self) -> None:
        self.vouchers.clear()
        self.payments.clear()
        self._rng = random.Random(self.seed)
        self._operations = self._first_operation()

    def _first_operation(self) -> int:
        # Operation ids are a six-digit counter; starting it at a seeded point keeps two runs' ids apart.
        return self._rng.randrange(1_000_000)

    def register(self, voucher: Voucher) -> Voucher:
        if voucher.payment_code in self.vouchers:
            raise DuplicateCode(f"payment code {voucher.payment_code!r} is already registered")
        self.vouchers[voucher.payment_code] = voucher
        return voucher

    def get(self, code: str, now: datetime) -> Voucher | None:
        voucher = self.vouchers.get(code)
        if voucher is not None:
            voucher.refresh(now)
        return voucher

    def pay(self, code: str, amount: Decimal, point_id: str, now: datetime) -> Payment:
        """What a cashier's terminal does: refuse like a real point, else take the cash."""
        voucher = self.get(code, now)
        if voucher is None:
            raise UnknownCode(f"no voucher with payment code {code!r} for this convenio")
        if voucher.status == "PAID":
            raise AlreadyPaid(f"payment code {code!r} was paid at {iso(voucher.payment.paid_at)}")  # type: ignore[union-attr]
        if voucher.status == "EXPIRED":
            raise Expired(f"payment code {code!r} expired at {iso(voucher.expires_at)}")
        if amount != voucher.amount:
            raise AmountMismatch(
                f"payment code {code!r} is for {format_amount(voucher.amount)}, not {format_amount(amount)}"
            )
        payment = self._new_payment(code, amount, point_id, now, registered=True)
        voucher.status = "PAID"
        voucher.payment = payment
        return payment

    def expire(self, code: str, now: datetime) -> Voucher:
        voucher = self.get(code, now)
        if voucher is None:
            raise UnknownCode(f"no voucher with payment code {code!r}")
        if voucher.status == "PAID":
            raise AlreadyPaid(f"payment code {code!r} is already paid")
        if voucher.status == "PENDING":
            voucher.status = "EXPIRED"
            voucher.expired_at = now
        return voucher

    def inject(self, code: str, amount: Decimal, point_id: str, paid_at: datetime) -> Payment:
        """A line in the reconciliation feed that no cashier rule produced (unknown code, other amount)."""
        return self._new_payment(code, amount, point_id, paid_at, registered=False)

    def _new_payment(
        self, code: str, amount: Decimal, point_id: str, paid_at: datetime, *, registered: bool
    ) -> Payment:
        self._operations += 1
        payment = Payment(
            payment_code=code,
            amount=amount,
            paid_at=paid_at,
            point_id=point_id,
            authorization_code=f"{self._rng.randrange(1_000_000):06d}",
            operation_id=f"{self._operations % 1_000_000:06d}",
            registered=registered,
        )
        self.payments.append(payment)
        return payment

    def payments_on(self, day: date) -> list[Payment]:
        """Payments whose Bogota-local date is ``day``, in the order they were taken."""
        return sorted((p for p in self.payments if bogota_day(p.paid_at) == day), key=lambda p: p.paid_at)
