"""Wompi request inputs and parsed answers: frozen dataclasses, amounts as Decimal pesos plus exact cents.

Parsers raise ValueError/KeyError/TypeError on a malformed payload; the client turns those into a
WompiNetworkError (the answer could not be understood).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from core.money import from_cents

FINAL_STATUSES = frozenset({"APPROVED", "DECLINED", "VOIDED", "ERROR"})
FAILED_STATUSES = frozenset({"DECLINED", "VOIDED", "ERROR"})


def _cents(value: Any) -> int:
    # JSON integers arrive as int; an integral Decimal (4490000.0) is accepted, a fraction is not.
    if isinstance(value, bool):
        raise TypeError("amount_in_cents is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"amount_in_cents is not an integer: {value!r}")


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class CardMethod:
    """Pay with a card token from ``tokenize_card``."""

    token: str = field(repr=False)
    installments: int = 1

    def as_json(self) -> dict[str, Any]:
        return {"type": "CARD", "token": self.token, "installments": self.installments}


@dataclass(frozen=True, slots=True)
class NequiMethod:
    phone_number: str

    def as_json(self) -> dict[str, Any]:
        return {"type": "NEQUI", "phone_number": self.phone_number}


@dataclass(frozen=True, kw_only=True, slots=True)
class PseMethod:
    user_type: int  # 0 natural person, 1 legal person
    user_legal_id_type: str  # "CC" | "NIT"
    user_legal_id: str
    financial_institution_code: str
    payment_description: str

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "PSE",
            "user_type": self.user_type,
            "user_legal_id_type": self.user_legal_id_type,
            "user_legal_id": self.user_legal_id,
            "financial_institution_code": self.financial_institution_code,
            # Wompi refuses more than 64 characters; a description is not worth a failed payment.
            "payment_description": self.payment_description[:64],
        }


PaymentMethod = CardMethod | NequiMethod | PseMethod


@dataclass(frozen=True, slots=True)
class AcceptanceTokens:
    """Both presigned tokens a transaction must carry (terms and personal-data authorisation)."""

    acceptance_token: str
    acceptance_permalink: str | None
    personal_data_token: str | None
    personal_data_permalink: str | None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> AcceptanceTokens:
        terms = data["presigned_acceptance"]
        personal = data.get("presigned_personal_data_auth") or {}
        return cls(
            acceptance_token=str(terms["acceptance_token"]),
            acceptance_permalink=_opt_str(terms.get("permalink")),
            personal_data_token=_opt_str(personal.get("acceptance_token")),
            personal_data_permalink=_opt_str(personal.get("permalink")),
        )


@dataclass(frozen=True, slots=True)
class CardToken:
    id: str
    brand: str | None
    last_four: str | None
    exp_month: str | None
    exp_year: str | None
    card_holder: str | None
    expires_at: datetime | None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> CardToken:
        return cls(
            id=str(data["id"]),
            brand=_opt_str(data.get("brand")),
            last_four=_opt_str(data.get("last_four")),
            exp_month=_opt_str(data.get("exp_month")),
            exp_year=_opt_str(data.get("exp_year")),
            card_holder=_opt_str(data.get("card_holder")),
            expires_at=_when(data.get("expires_at")),
        )


@dataclass(frozen=True, slots=True)
class NequiToken:
    id: str
    status: str
    phone_number: str | None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> NequiToken:
        return cls(id=str(data["id"]), status=str(data["status"]), phone_number=_opt_str(data.get("phone_number")))


@dataclass(frozen=True, slots=True)
class PseBank:
    code: str
    name: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> PseBank:
        return cls(code=str(data["financial_institution_code"]), name=str(data["financial_institution_name"]))


@dataclass(frozen=True, slots=True)
class WompiTransaction:
    """A Wompi transaction as the gateway reports it (``GET /v1/transactions/{id}``)."""

    id: str
    reference: str
    amount_in_cents: int
    currency: str
    status: str
    status_message: str | None
    payment_method_type: str | None
    customer_email: str | None
    created_at: datetime | None
    finalized_at: datetime | None
    redirect_url: str | None
    payment_method_extra: Mapping[str, Any]

    @property
    def amount(self) -> Decimal:
        return from_cents(self.amount_in_cents)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def async_payment_url(self) -> str | None:
        """PSE and similar: where the payer finishes paying (may appear only after a poll)."""
        extra = self.payment_method_extra
        return _opt_str(extra.get("async_payment_url") or extra.get("url"))

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> WompiTransaction:
        method = data.get("payment_method") or {}
        extra = method.get("extra") if isinstance(method, Mapping) else None
        status = data["status"]
        if not isinstance(status, str) or not status:
            raise ValueError("transaction status missing")
        return cls(
            id=str(data["id"]),
            reference=str(data["reference"]),
            amount_in_cents=_cents(data["amount_in_cents"]),
            currency=str(data["currency"]),
            status=status,
            status_message=_opt_str(data.get("status_message")),
            payment_method_type=_opt_str(data.get("payment_method_type")),
            customer_email=_opt_str(data.get("customer_email")),
            created_at=_when(data.get("created_at")),
            finalized_at=_when(data.get("finalized_at")),
            redirect_url=_opt_str(data.get("redirect_url")),
            payment_method_extra=MappingProxyType(dict(extra or {})),
        )
