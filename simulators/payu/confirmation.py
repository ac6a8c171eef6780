"""The confirmation POST PayU sends to a transaction's notifyUrl once it is final, and its chaos.

The body is form-encoded with every documented field (card fields only for cards, as PayU's 2026 page
says the payload is dynamic). ``sign`` covers merchant_id, reference_sale, new_value, currency and
state_pol only; ``attempts`` changes per attempt and is not signed, so the sign is the same every time.

Usage: ``builder = ConfirmationBuilder(confirmation_fields(order, tx, merchant_id="508029"), signer)``
then ``builder.request(attempt=1, chaos=())`` -> ``(body, headers)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from simulators.common.chaos import MissingSignature, TamperSigned, TamperUnsigned, WrongSecret
from simulators.payu.sandbox import PAYMENT_METHOD_IDS, method_type, pse_bank_name, response_code_pol
from simulators.payu.signing import Algorithm, confirmation_sign
from simulators.payu.state import Order, Transaction

# PayU Colombia's dates are local; Colombia has had no DST since 1993, so a fixed UTC-5 is exact.
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")
_CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT):f}"


def transaction_date(moment: datetime) -> str:
    """``transaction_date`` is ``YYYY-MM-DD HH:mm:ss`` (24 h) in Bogotá time."""
    return moment.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M:%S")


def legacy_date(moment: datetime) -> str:
    """``date`` is ``YYYY.MM.DD hh:mm:ss`` on a 12-hour clock with no AM/PM (13:07 prints as 01:07)."""
    return moment.astimezone(BOGOTA).strftime("%Y.%m.%d %I:%M:%S")


def _address(source: dict[str, Any] | None, key: str) -> dict[str, Any]:
    value = (source or {}).get(key)
    return value if isinstance(value, dict) else {}


def confirmation_fields(order: Order, tx: Transaction, *, merchant_id: str) -> dict[str, str]:
    """Every field of the confirmation POST except ``sign`` and ``attempts`` (added per attempt)."""
    state_pol, code_pol = response_code_pol(tx.response_code)
    method_id = PAYMENT_METHOD_IDS.get(tx.payment_method, "")
    billing = _address(tx.payer, "billingAddress")
    shipping = order.shipping_address or _address(order.buyer, "shippingAddress")
    moment = tx.created_at.astimezone(UTC)
    fields: dict[str, str] = {
        "merchant_id": merchant_id,
        "state_pol": str(state_pol),
        "risk": "0.00",
        "response_code_pol": str(code_pol),
        "reference_sale": order.reference_code,
        "reference_pol": str(order.id),
        "extra1": "",
        "extra2": "",
        "extra3": "",
        "payment_method": method_id,
        "payment_method_type": str(method_type(tx.payment_method)),
        "installments_number": str(tx.installments),
        "value": _money(order.value),
        "tax": _money(order.tax),
        "additional_value": "0.00",
        "transaction_date": transaction_date(moment),
        "currency": order.currency,
        "email_buyer": str(order.buyer.get("emailAddress", "")),
        "cus": tx.cus or "",
        "pse_bank": (pse_bank_name(str(tx.request_extra.get("FINANCIAL_INSTITUTION_CODE", ""))) or "")
        if tx.kind == "PSE"
        else "",
        "test": "1" if order.is_test else "0",
        "description": order.description,
        "billing_address": str(billing.get("street1", "")),
        "shipping_address": str((shipping or {}).get("street1", "")),
        "phone": str(tx.payer.get("contactPhone", "")),
        "office_phone": "",
        "account_number_ach": "",
        "account_type_ach": "",
        "administrative_fee": "0.00",
        "administrative_fee_base": "0.00",
        "administrative_fee_tax": "0.00",
        "airline_code": "",
        "authorization_code": tx.authorization_code or "",
        "bank_id": method_id,
        "billing_city": str(billing.get("city", "")),
        "billing_country": str(billing.get("country", "")),
        "commision_pol": "0.00",  # sic: PayU's spelling
        "commision_pol_currency": order.currency,
        "customer_number": "",
        "date": legacy_date(moment),
        "error_code_bank": "",
        "error_message_bank": "",
        "exchange_rate": "1.00",
        "ip": tx.ip_address,
        "nickname_buyer": "",
        "nickname_seller": "",
        "payment_method_id": str(method_type(tx.payment_method)),
        # UNCONFIRMED value set; the sample shows R for a rejection. A = approved here.
        "payment_request_state": "A" if tx.state == "APPROVED" else "R",
        "pse_reference1": str(tx.request_extra.get("PSE_REFERENCE1", "")) if tx.kind == "PSE" else "",
        "pse_reference2": str(tx.request_extra.get("PSE_REFERENCE2", "")) if tx.kind == "PSE" else "",
        "pse_reference3": str(tx.request_extra.get("PSE_REFERENCE3", "")) if tx.kind == "PSE" else "",
        "response_message_pol": tx.response_code,
        "shipping_city": str((shipping or {}).get("city", "")),
        "shipping_country": str((shipping or {}).get("country", "")),
        "transaction_bank_id": "",
        "transaction_id": tx.id,
        "payment_method_name": tx.payment_method,
        "bank_referenced_name": "",
        "antifraudMerchantId": "",
    }
    if tx.card is not None:
        fields.update(
            {
                "cc_holder": tx.card.holder,
                "cc_number": tx.card.masked_number,
                "cardType": tx.card.card_type,
                "franchise": tx.card.franchise,
            }
        )
    return fields


@dataclass(frozen=True)
class Signer:
    """How this simulator signs confirmations: the merchant's apiKey, the digest and (HMAC) the secret."""

    api_key: str
    algorithm: Algorithm
    secret: str | None = None

    def sign(self, fields: dict[str, str], *, wrong: bool = False) -> str:
        # A wrong secret: the right scheme keyed with something the merchant does not hold.
        api_key = f"wrong-{self.api_key}" if wrong and self.algorithm is not Algorithm.HMAC_SHA256 else self.api_key
        secret = f"wrong-{self.secret}" if wrong and self.secret else self.secret
        return confirmation_sign(
            api_key=api_key,
            merchant_id=fields["merchant_id"],
            reference_sale=fields["reference_sale"],
            value=fields["value"],
            currency=fields["currency"],
            state_pol=fields["state_pol"],
            algorithm=self.algorithm,
            secret=secret,
        )


class ConfirmationBuilder:
    """A ``WebhookBuilder`` for one confirmation: bumps ``attempts`` and applies signing chaos."""

    def __init__(self, fields: dict[str, str], signer: Signer) -> None:
        self.fields = dict(fields)
        self._signer = signer

    def request(self, attempt: int, chaos: tuple[object, ...]) -> tuple[bytes, dict[str, str]]:
        fields = dict(self.fields)
        fields["attempts"] = str(attempt)
        fields["sign"] = self._signer.sign(fields, wrong=any(isinstance(c, WrongSecret) for c in chaos))
        for c in chaos:
            # Both tampers overwrite after signing; which one breaks `sign` depends on the field.
            if isinstance(c, TamperUnsigned | TamperSigned):
                fields[c.field] = c.value
            elif isinstance(c, MissingSignature):
                fields.pop("sign", None)
        body = urlencode(fields).encode("ascii")
        return body, {"Content-Type": "application/x-www-form-urlencoded"}
