"""PayU request inputs and parsed answers: frozen dataclasses, Decimal amounts, no raw dicts leaking out.

Parsers raise ValueError/KeyError/TypeError on a malformed payload; the client turns those into a
PayUNetworkError (the answer could not be understood, so the outcome is unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from core.money import parse_amount

# Transaction states after which PayU reports nothing more for this transaction (gateways.md §1.5).
FINAL_STATES = frozenset({"APPROVED", "DECLINED", "ERROR", "EXPIRED"})
FAILED_STATES = frozenset({"DECLINED", "ERROR", "EXPIRED"})
CASH_METHODS = frozenset({"EFECTY", "OTHERS_CASH"})


@dataclass(frozen=True, kw_only=True, slots=True)
class PayUAddress:
    street1: str
    city: str
    street2: str = ""
    state: str = ""
    country: str = "CO"
    postal_code: str = ""
    phone: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "street1": self.street1,
            "street2": self.street2,
            "city": self.city,
            "state": self.state,
            "country": self.country,
            "postalCode": self.postal_code,
            "phone": self.phone,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class PayUBuyer:
    """The buyer, who is also sent as the payer (the core has no separate payer)."""

    full_name: str
    email: str
    contact_phone: str
    dni_number: str
    merchant_buyer_id: str = ""
    dni_type: str | None = None
    address: PayUAddress | None = None

    def _person(self) -> dict[str, Any]:
        person: dict[str, Any] = {
            "fullName": self.full_name,
            "emailAddress": self.email,
            "contactPhone": self.contact_phone,
            "dniNumber": self.dni_number,
        }
        if self.dni_type:
            person["dniType"] = self.dni_type
        return person

    def as_buyer(self) -> dict[str, Any]:
        buyer = {"merchantBuyerId": self.merchant_buyer_id, **self._person()}
        if self.address:
            buyer["shippingAddress"] = self.address.as_json()
        return buyer

    def as_payer(self) -> dict[str, Any]:
        payer = {"merchantPayerId": self.merchant_buyer_id, **self._person()}
        if self.address:
            payer["billingAddress"] = self.address.as_json()
        return payer


@dataclass(frozen=True, kw_only=True, slots=True)
class PayUCard:
    """Card data as PayU's API takes it; number and CVV stay out of repr and logs."""

    number: str = field(repr=False)
    security_code: str = field(repr=False)
    expiration_date: str  # "YYYY/MM"
    name: str
    payment_method: str = "VISA"
    installments: int = 1

    @property
    def masked(self) -> str:
        return f"{self.number[:6]}******{self.number[-4:]}" if len(self.number) >= 10 else "****"

    def as_json(self) -> dict[str, str]:
        return {
            "number": self.number,
            "securityCode": self.security_code,
            "expirationDate": self.expiration_date,
            "name": self.name,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class PayUDevice:
    """Anti-fraud fields PayU marks mandatory for cards."""

    ip_address: str
    device_session_id: str = ""
    cookie: str = ""
    user_agent: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "deviceSessionId": self.device_session_id,
            "ipAddress": self.ip_address,
            "cookie": self.cookie,
            "userAgent": self.user_agent,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class PayUPse:
    financial_institution_code: str
    user_type: str  # "N" natural person, "J" legal person
    document_type: str
    document_number: str
    response_url: str


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms_to_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and not value.isdigit():
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _EPOCH + timedelta(milliseconds=int(value))


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class PayUTransactionResult:
    """A ``transactionResponse`` from SUBMIT_TRANSACTION, ORDER_DETAIL or TRANSACTION_RESPONSE_DETAIL."""

    state: str
    order_id: int | None
    transaction_id: str | None
    response_code: str | None
    pending_reason: str | None
    authorization_code: str | None
    trazability_code: str | None
    network_response_code: str | None
    response_message: str | None
    operation_date: datetime | None
    extra_parameters: Mapping[str, Any]
    additional_info: Mapping[str, Any]

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def approved(self) -> bool:
        return self.state == "APPROVED"

    @property
    def payment_reference(self) -> str | None:
        """Cash: the number the payer gives at the Efecty counter."""
        return _opt_str(self.extra_parameters.get("REFERENCE"))

    @property
    def expiration_date(self) -> datetime | None:
        return _ms_to_datetime(self.extra_parameters.get("EXPIRATION_DATE"))

    @property
    def receipt_url_html(self) -> str | None:
        return _opt_str(self.extra_parameters.get("URL_PAYMENT_RECEIPT_HTML"))

    @property
    def receipt_url_pdf(self) -> str | None:
        return _opt_str(self.extra_parameters.get("URL_PAYMENT_RECEIPT_PDF"))

    @property
    def bank_url(self) -> str | None:
        """PSE: where to send the payer."""
        return _opt_str(self.extra_parameters.get("BANK_URL"))

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, order_id: int | None = None) -> PayUTransactionResult:
        state = raw["state"]
        if not isinstance(state, str) or not state:
            raise ValueError("transactionResponse.state missing")
        raw_order = raw.get("orderId")
        if raw_order is None:
            raw_order = order_id
        return cls(
            state=state.upper(),  # one case wherever it is compared: PayU writes upper case; lower is no new state
            order_id=int(raw_order) if raw_order is not None else None,
            transaction_id=_opt_str(raw.get("transactionId")),
            response_code=_opt_str(raw.get("responseCode")),
            pending_reason=_opt_str(raw.get("pendingReason")),
            authorization_code=_opt_str(raw.get("authorizationCode")),
            trazability_code=_opt_str(raw.get("trazabilityCode")),
            network_response_code=_opt_str(raw.get("paymentNetworkResponseCode")),
            response_message=_opt_str(raw.get("responseMessage")),
            operation_date=_ms_to_datetime(raw.get("operationDate")),
            extra_parameters=MappingProxyType(dict(raw.get("extraParameters") or {})),
            additional_info=MappingProxyType(dict(raw.get("additionalInfo") or {})),
        )


@dataclass(frozen=True, slots=True)
class PayUOrderTransaction:
    id: str
    type: str | None
    payment_method: str | None
    response: PayUTransactionResult | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], order_id: int) -> PayUOrderTransaction:
        response = raw.get("transactionResponse")
        return cls(
            id=str(raw["id"]),
            type=None if (kind := _opt_str(raw.get("type"))) is None else kind.upper(),
            payment_method=_opt_str(raw.get("paymentMethod")),
            response=PayUTransactionResult.parse(response, order_id=order_id) if response else None,
        )


def _tx_value(additional: Any) -> tuple[Decimal | None, str | None]:
    if not isinstance(additional, Mapping):
        return None, None
    tx_value = additional.get("TX_VALUE")
    if not isinstance(tx_value, Mapping) or tx_value.get("value") is None:
        return None, None
    value = tx_value["value"]
    return parse_amount(value), _opt_str(tx_value.get("currency"))


@dataclass(frozen=True, slots=True)
class PayUOrder:
    """An order from the Queries API; ``transactions`` holds every attempt PayU made for it."""

    id: int
    reference_code: str
    status: str
    amount: Decimal | None
    currency: str | None
    transactions: tuple[PayUOrderTransaction, ...]

    def charges(self) -> list[PayUOrderTransaction]:
        """The charge attempts, in PayU's order (refunds and voids are not charges)."""
        return [t for t in self.transactions if t.type in (None, "AUTHORIZATION_AND_CAPTURE", "AUTHORIZATION")]

    def latest_payment(self) -> PayUOrderTransaction | None:
        """The last charge attempt (refunds and voids are not charges)."""
        charges = self.charges()
        return charges[-1] if charges else None

    def approved(self) -> list[PayUOrderTransaction]:
        """Every approved transaction, refunds and voids included: more than one is for a person to look at."""
        return [t for t in self.transactions if t.response is not None and t.response.approved]

    def approved_charges(self) -> list[PayUOrderTransaction]:
        """The approved charges: money taken (more than one is money taken twice, for a person to refund one)."""
        charges = self.charges()
        return [t for t in self.approved() if any(t is c for c in charges)]

    def returned(self) -> list[PayUOrderTransaction]:
        """Approved transactions that are not charges (a refund, a void, a capture): money going back or a charge
        moved on, so which charge stands is a person's call — for the webhook's lookup and the submit's recovery
        alike, never a charge of its own."""
        charges = self.charges()
        return [t for t in self.approved() if not any(t is c for c in charges)]

    def deciding_charge(self) -> PayUOrderTransaction | None:
        """The charge whose word settles an attempt that does not know its own PayU id, or None while none may.

        PayU can hold several charges under one reference (a buyer paying again), and the one asked about may
        not be the last: an approved charge is money taken, whatever a later one says (more than one is for a
        person to refund: ``approved``); else one still undecided may yet take the money, so no
        failure ends the attempt; only when every charge failed does the latest failure."""
        charges = self.charges()
        approved = [t for t in charges if t.response is not None and t.response.approved]
        if approved:
            return approved[0]
        undecided = [t for t in charges if t.response is None or t.response.state not in FAILED_STATES]
        if undecided:
            return undecided[0]
        return charges[-1] if charges else None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PayUOrder:
        order_id = int(raw["id"])
        amount, currency = _tx_value(raw.get("additionalValues"))
        return cls(
            id=order_id,
            reference_code=str(raw["referenceCode"]),
            status=str(raw.get("status") or ""),
            amount=amount,
            currency=currency,
            transactions=tuple(PayUOrderTransaction.parse(t, order_id) for t in raw.get("transactions") or ()),
        )


@dataclass(frozen=True, slots=True)
class PayUPaymentMethod:
    id: str
    description: str
    country: str
    enabled: bool

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PayUPaymentMethod:
        # The documented example once returns "co" in lower case.
        return cls(
            id=str(raw["id"]),
            description=str(raw["description"]),
            country=str(raw.get("country") or "").upper(),
            enabled=bool(raw.get("enabled", False)),
        )


@dataclass(frozen=True, slots=True)
class PayUBank:
    id: str
    description: str
    pse_code: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PayUBank:
        return cls(id=str(raw["id"]), description=str(raw["description"]), pse_code=str(raw["pseCode"]))
