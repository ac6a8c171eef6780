"""Reading a SUBMIT_TRANSACTION body into a checked request, with PayU's field rules.

Structure only: credentials, signature, uniqueness and sandbox outcomes are decided by the gateway.

Usage: ``req = parse_submit(body, accounts={"512321": "CO"}, currencies=("COP", "USD"))``
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from simulators.payu.errors import BadRequest

_CENT = Decimal("0.01")
# PayU writes amounts as (14,2) in its confirmation table: 12 integer digits and 2 decimals. Chosen
# as the limit of every additionalValues amount (PayU documents no other maximum for cards).
MAX_AMOUNT = Decimal("999999999999.99")
_IVA = Decimal("1.19")  # TX_TAX defaults to 19 % IVA when omitted


@dataclass(frozen=True)
class CardInput:
    number: str
    cvv: str | None
    expiration: str
    holder: str
    process_without_cvv: bool
    debit: bool


@dataclass(frozen=True)
class SubmitRequest:
    """A SUBMIT_TRANSACTION whose shape is valid."""

    account_id: str
    country: str
    reference: str
    description: str
    language: str
    notify_url: str | None
    signature: str
    value: Decimal
    value_text: str  # the amount exactly as sent, for the signature
    currency: str
    tax: Decimal
    tax_return_base: Decimal
    buyer: dict[str, Any]
    shipping_address: dict[str, Any] | None
    payer: dict[str, Any]
    method: str
    tx_type: str
    ip_address: str
    device_session_id: str | None
    extra: dict[str, Any]
    is_test: bool
    card: CardInput | None
    expiration_date: datetime | None


def obj(parent: dict[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any]:
    """A nested JSON object, or BadRequest naming its path."""
    value = parent.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{path}{key} is required and must be an object")
    return value


def text(parent: dict[str, Any], key: str, path: str, *, required: bool = True, lo: int = 1, hi: int = 255) -> str:
    """A string field with PayU's length limits, or BadRequest."""
    value = parent.get(key)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{path}{key} is required")
        return ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadRequest(f"{path}{key} must be a string")
    if not lo <= len(value) <= hi:
        raise BadRequest(f"{path}{key} must be {lo} to {hi} characters")
    return value


def amount(node: dict[str, Any], path: str) -> tuple[Decimal, str, str]:
    """(value, value as sent, currency) of an additionalValues entry; never via float."""
    raw = node.get("value")
    if isinstance(raw, bool) or raw is None:
        raise BadRequest(f"{path}.value is required")
    if isinstance(raw, int | Decimal):
        sent = str(raw)
    elif isinstance(raw, str):
        sent = raw.strip()
    else:
        raise BadRequest(f"{path}.value must be a number")
    try:
        value = Decimal(sent)
    except InvalidOperation as exc:
        raise BadRequest(f"{path}.value is not a number") from exc
    if not value.is_finite() or value < 0:
        raise BadRequest(f"{path}.value must be a non-negative number")
    if value > MAX_AMOUNT:
        raise BadRequest(f"{path}.value must be at most {MAX_AMOUNT} (12 digits and 2 decimals)")
    if value != value.quantize(_CENT, rounding=ROUND_HALF_UP):
        raise BadRequest(f"{path}.value cannot have more than 2 decimals")
    currency = node.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise BadRequest(f"{path}.currency must be an ISO-4217 code")
    return value, sent, currency


def _same_currency(values: dict[str, Any], key: str, currency: str) -> Decimal:
    """A tax amount, which must be in the order's currency."""
    value, _, its_currency = amount(obj(values, key, "transaction.order.additionalValues."), key)
    if its_currency != currency:
        raise BadRequest(f"{key}.currency [{its_currency}] must be the order's currency [{currency}]")
    return value


def _card(transaction: dict[str, Any]) -> CardInput | None:
    if transaction.get("creditCardTokenId"):
        raise BadRequest("creditCardTokenId: tokenised cards are not supported by this simulator")
    node = transaction.get("creditCard")
    debit = False
    if node is None and transaction.get("debitCard") is not None:
        node, debit = transaction.get("debitCard"), True
    if node is None:
        return None
    if not isinstance(node, dict):
        raise BadRequest("transaction.creditCard must be an object")
    cvv = node.get("securityCode")
    return CardInput(
        number=str(node.get("number", "")).replace(" ", ""),
        cvv=None if cvv is None else str(cvv),
        expiration=str(node.get("expirationDate", "")),
        holder=text(node, "name", "transaction.creditCard.", hi=255),
        process_without_cvv=bool(node.get("processWithoutCvv2", False)),
        debit=debit,
    )


def _expiration(transaction: dict[str, Any]) -> datetime | None:
    raw = transaction.get("expirationDate")
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise BadRequest("transaction.expirationDate must be YYYY-MM-DDTHH:MM:SS")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("transaction.expirationDate must be YYYY-MM-DDTHH:MM:SS[.mmm]") from exc
    # The documented example's EXPIRATION_DATE equals the requested local-less time read as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_submit(body: dict[str, Any], *, accounts: dict[str, str], currencies: tuple[str, ...]) -> SubmitRequest:
    """Check the shape of a SUBMIT_TRANSACTION body; raise BadRequest on the first problem."""
    transaction = obj(body, "transaction", "")
    order = obj(transaction, "order", "transaction.")
    account_id = text(order, "accountId", "transaction.order.", hi=20)
    country = accounts.get(account_id)
    if country is None:
        raise BadRequest(f"Invalid accountId [{account_id}]")
    if country != "CO":
        raise BadRequest("This simulator models PayU Colombia only (accountId 512321)")
    values = obj(order, "additionalValues", "transaction.order.")
    value, sent, currency = amount(obj(values, "TX_VALUE", "transaction.order.additionalValues."), "TX_VALUE")
    if value <= 0:
        raise BadRequest("TX_VALUE.value must be greater than zero")
    if currency not in currencies:
        raise BadRequest(f"The currency [{currency}] is not supported by the account [{account_id}]")
    if currency == "COP" and value != value.to_integral_value():
        raise BadRequest("TX_VALUE.value cannot include decimals for COP")
    if "TX_TAX" in values:
        tax = _same_currency(values, "TX_TAX", currency)
        base = _same_currency(values, "TX_TAX_RETURN_BASE", currency) if "TX_TAX_RETURN_BASE" in values else Decimal(0)
    else:
        base = (value / _IVA).quantize(_CENT, rounding=ROUND_HALF_UP)
        tax = value - base
    notify = text(order, "notifyUrl", "transaction.order.", required=False, hi=2048) or None
    payment_country = text(transaction, "paymentCountry", "transaction.", hi=2)
    if payment_country != country:
        raise BadRequest(f"transaction.paymentCountry [{payment_country}] does not match the account ({country})")
    extra = transaction.get("extraParameters") or {}
    if not isinstance(extra, dict):
        raise BadRequest("transaction.extraParameters must be an object")
    payer = transaction.get("payer") or {}
    buyer = order.get("buyer") or {}
    shipping = order.get("shippingAddress")
    return SubmitRequest(
        account_id=account_id,
        country=country,
        reference=text(order, "referenceCode", "transaction.order."),
        description=text(order, "description", "transaction.order."),
        language=text(order, "language", "transaction.order.", required=False, hi=2) or "es",
        notify_url=notify,
        signature=text(order, "signature", "transaction.order."),
        value=value,
        value_text=sent,
        currency=currency,
        tax=tax,
        tax_return_base=base,
        buyer=buyer if isinstance(buyer, dict) else {},
        shipping_address=shipping if isinstance(shipping, dict) else None,
        payer=payer if isinstance(payer, dict) else {},
        method=text(transaction, "paymentMethod", "transaction.", hi=32).upper(),
        tx_type=text(transaction, "type", "transaction.", hi=32),
        ip_address=text(transaction, "ipAddress", "transaction.", required=False, hi=39),
        device_session_id=text(transaction, "deviceSessionId", "transaction.", required=False) or None,
        extra=extra,
        is_test=bool(body.get("test", False)),
        card=_card(transaction),
        expiration_date=_expiration(transaction),
    )
