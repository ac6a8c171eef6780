"""Efecty client: register cash vouchers, read them back, fetch the daily reconciliation (JSON or file).

Efecty has no public merchant API (gateways.md §3); this client speaks the project's Efecty HTTP
contract, which the simulator implements. Registering a voucher is retried: the payment code is
ours and unique, so a retry that meets 409 DUPLICATE_CODE reads the voucher back and, if amount,
currency and reference are the ones we sent, that is our own earlier success.

Usage::

    efecty = EfectyClient(http, EfectyConfig(base_url="http://127.0.0.1:8003",
                                             api_key=SecretStr("efecty_test_key_..."), convenio="110634"))
    voucher = await efecty.register_voucher(payment_code="EFE-42-7KQ9", amount=Decimal("50000"),
                                            expires_at=deadline, reference="order-42")
    parsed = parse_asobancaria(await efecty.reconciliation_file(date(2025, 1, 31)))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from core.gateways._http import ErrorFamily, GatewayClientBase, loads
from core.gateways.errors import (
    EfectyAuthenticationError,
    EfectyDuplicateCodeError,
    EfectyError,
    EfectyNetworkError,
    EfectyNotFoundError,
    EfectyTransactionError,
    EfectyValidationError,
)
from core.gateways.resilience import BreakerPolicy, RetryPolicy, Timeouts
from core.money import format_amount, parse_amount

__all__ = ["EfectyClient", "EfectyConfig", "Reconciliation", "ReconciliationPayment", "Voucher"]

EFECTY_ERRORS = ErrorFamily(
    network=EfectyNetworkError,
    authentication=EfectyAuthenticationError,
    validation=EfectyValidationError,
    transaction=EfectyTransactionError,
)
# Cashier-side refusals: the payment itself cannot happen, the request was well formed.
_TRANSACTION_CODES = frozenset({"EXPIRED", "ALREADY_PAID", "AMOUNT_MISMATCH"})


@dataclass(frozen=True, kw_only=True)
class EfectyConfig:
    base_url: str
    api_key: SecretStr
    convenio: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/api/v1/{path.lstrip('/')}"


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Voucher:
    payment_code: str
    amount: Decimal
    currency: str
    status: str  # PENDING | PAID | EXPIRED
    expires_at: datetime | None
    created_at: datetime | None
    reference: str | None
    paid_at: datetime | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Voucher:
        return cls(
            payment_code=str(raw["payment_code"]),
            amount=parse_amount(raw["amount"]),
            currency=str(raw["currency"]),
            status=str(raw["status"]),
            expires_at=_when(raw.get("expires_at")),
            created_at=_when(raw.get("created_at")),
            reference=None if raw.get("reference") is None else str(raw["reference"]),
            paid_at=_when(raw.get("paid_at")),
        )


@dataclass(frozen=True, slots=True)
class ReconciliationPayment:
    payment_code: str
    amount: Decimal
    paid_at: datetime | None
    point_id: str | None
    authorization_code: str | None
    operation_id: str | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ReconciliationPayment:
        def opt(key: str) -> str | None:
            return None if raw.get(key) is None else str(raw[key])

        return cls(
            payment_code=str(raw["payment_code"]),
            amount=parse_amount(raw["amount"]),
            paid_at=_when(raw.get("paid_at")),
            point_id=opt("point_id"),
            authorization_code=opt("authorization_code"),
            operation_id=opt("operation_id"),
        )


@dataclass(frozen=True, slots=True)
class Reconciliation:
    day: date
    convenio: str
    payments: tuple[ReconciliationPayment, ...]
    total: Decimal

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Reconciliation:
        payments = tuple(ReconciliationPayment.parse(p) for p in raw["payments"])
        total = parse_amount(raw["total"])
        if total != sum((p.amount for p in payments), Decimal("0.00")):
            raise ValueError("reconciliation total does not equal the sum of its payments")
        return cls(
            day=date.fromisoformat(str(raw["date"])), convenio=str(raw["convenio"]), payments=payments, total=total
        )


def _raise_for_status(response: httpx.Response, operation: str) -> None:
    status = response.status_code
    if status < 400:
        return
    try:
        payload = loads(response.content)
    except (ValueError, UnicodeDecodeError):
        payload = None
    error = payload.get("error") if isinstance(payload, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code = None if error.get("code") is None else str(error["code"])
    message = str(error.get("message") or code or "request refused")[:300]
    fields = error.get("fields")
    common: dict[str, Any] = {"operation": operation, "status_code": status, "error_code": code}
    if status in (401, 403):
        raise EfectyAuthenticationError(message, **common)
    if status == 404:
        raise EfectyNotFoundError(message, **common)
    if code == "DUPLICATE_CODE":
        raise EfectyDuplicateCodeError(message, **common)
    if code in _TRANSACTION_CODES or status == 410:
        raise EfectyTransactionError(message, **common)
    raise EfectyValidationError(message, details=dict(fields) if isinstance(fields, Mapping) else None, **common)


class EfectyClient(GatewayClientBase[EfectyConfig]):
    """Async Efecty client; one instance (and one breaker) per process is intended."""

    gateway = "efecty"
    errors = EFECTY_ERRORS

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key.get_secret_value()}"}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        extract: Callable[[httpx.Response], Any],
        json_body: Any = None,
    ) -> Any:
        # Every Efecty call is safe to repeat: reads, and registration keyed by our own code.
        def parse(response: httpx.Response) -> Any:
            _raise_for_status(response, operation)
            return self._caller.shaped(lambda: extract(response), response, operation)

        return await self._caller.request(
            method,
            self.config.url(path),
            operation=operation,
            retry=True,
            parse=parse,
            headers=self._headers(),
            json_body=json_body,
        )

    def _json(self, response: httpx.Response, operation: str) -> Any:
        return self._caller.decode(response, operation)

    async def register_voucher(
        self,
        *,
        payment_code: str,
        amount: Decimal,
        expires_at: datetime,
        reference: str,
        description: str | None = None,
        currency: str = "COP",
    ) -> Voucher:
        """Register a voucher; raises EfectyDuplicateCodeError if the code belongs to another voucher."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        body: dict[str, Any] = {
            "payment_code": payment_code,
            "amount": format_amount(amount),
            "currency": currency,
            "expires_at": expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "reference": reference,
        }
        if description:
            body["description"] = description
        op = "register_voucher"
        try:
            return await self._call(
                "POST",
                "vouchers",
                operation=op,
                json_body=body,
                extract=lambda r: Voucher.parse(self._json(r, op)["voucher"]),
            )
        except EfectyDuplicateCodeError as exc:
            try:
                existing = await self.get_voucher(payment_code)
            except EfectyError as lookup:
                if not exc.outcome_unknown:
                    raise
                # An earlier try may have registered the voucher (resilience.call_with_retry marked the
                # refusal): a failed read-back must not turn that into "not registered", or the core would
                # expire a code Efecty may still collect on.
                raise EfectyNetworkError(
                    "register outcome unknown and the voucher read-back failed",
                    operation=op,
                    retryable=False,
                    outcome_unknown=True,
                ) from lookup
            if (existing.amount, existing.currency, existing.reference) != (amount, currency, reference):
                raise EfectyDuplicateCodeError(
                    "payment code already registered for another voucher",
                    operation=op,
                    error_code="DUPLICATE_CODE",
                    result=existing,
                    status_code=exc.status_code,
                ) from exc
            return existing

    async def get_voucher(self, payment_code: str) -> Voucher:
        op = "get_voucher"
        return await self._call(
            "GET",
            f"vouchers/{quote(payment_code, safe='')}",
            operation=op,
            extract=lambda r: Voucher.parse(self._json(r, op)["voucher"]),
        )

    async def reconciliation_json(self, day: date) -> Reconciliation:
        """The day's payments (Bogota calendar day) as JSON; refuses another convenio's report."""
        op = "reconciliation_json"
        report: Reconciliation = await self._call(
            "GET",
            f"reconciliation/{day.isoformat()}",
            operation=op,
            extract=lambda r: Reconciliation.parse(self._json(r, op)),
        )
        if report.convenio != self.config.convenio or report.day != day:
            raise EfectyError(
                f"reconciliation for convenio {report.convenio} on {report.day} is not ours", operation=op
            )
        return report

    async def reconciliation_file(self, day: date) -> str:
        """The day's Asobancaria 2001 file as text; parse it with ``parse_asobancaria``."""
        return await self._call(
            "GET",
            f"reconciliation/{day.isoformat()}/asobancaria",
            operation="reconciliation_file",
            extract=lambda r: r.text,
        )
