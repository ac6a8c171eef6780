"""The shop's own gateway code: charge through Wompi's and PayU's public APIs and check their webhooks.

Written from the gateways' documentation, not from any SDK: Wompi's integrity signature and event
checksum are SHA-256 over concatenated fields, PayU's payment and confirmation signatures MD5 over
tilde-joined fields.
"""

import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from examples.shop_checkout.shop.settings import PayUAccount, WompiAccount

PAYU_PAYMENTS = "/payments-api/4.0/service.cgi"


class GatewayUnavailable(Exception):
    """The gateway could not be reached or answered 5xx/429. The shop lets the customer try again; a
    shop that must survive a lost answer to a charge that did happen would first look the reference up."""


class PaymentRefused(Exception):
    """The gateway refused the request itself (credentials, signature, data): no charge was made."""


@dataclass(frozen=True)
class Charge:
    """What the gateway said about a new charge: its id and status (PENDING, APPROVED, DECLINED, ERROR)."""

    gateway_id: str
    status: str


@dataclass(frozen=True)
class Card:
    number: str
    cvc: str
    exp_month: str
    exp_year: str
    holder: str


def to_cents(amount: Decimal) -> int:
    """COP amount with at most two decimals as integer cents (Wompi's amount_in_cents)."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than two decimals")
    return int(cents)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - PayU's documented signature


class WompiGateway:
    """Card payments through Wompi: acceptance token, card token, signed transaction."""

    def __init__(self, account: WompiAccount, http: httpx.AsyncClient) -> None:
        self.account = account
        self.http = http

    async def _call(self, method: str, path: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = await self.http.request(
                method, self.account.base_url + path, json=body, headers={"Authorization": f"Bearer {key}"}
            )
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"wompi: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable(f"wompi answered {response.status_code}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data

    async def charge(self, reference: str, amount: Decimal, card: Card, email: str) -> Charge:
        acct = self.account
        merchant = await self._call("GET", f"/v1/merchants/{acct.public_key}", acct.public_key)
        token = await self._call(
            "POST",
            "/v1/tokens/cards",
            acct.public_key,
            {"number": card.number, "cvc": card.cvc, "exp_month": card.exp_month, "exp_year": card.exp_year,
             "card_holder": card.holder},
        )
        cents = to_cents(amount)
        body = {
            "acceptance_token": merchant["presigned_acceptance"]["acceptance_token"],
            "accept_personal_auth": merchant["presigned_personal_data_auth"]["acceptance_token"],
            "amount_in_cents": cents,
            "currency": "COP",
            "customer_email": email,
            "reference": reference,
            "signature": _sha256(f"{reference}{cents}COP{acct.integrity_secret}"),
            "payment_method": {"type": "CARD", "token": token["id"], "installments": 1},
        }
        tx = await self._call("POST", "/v1/transactions", acct.private_key, body)
        return Charge(gateway_id=str(tx["id"]), status=str(tx["status"]))

    def event_is_authentic(self, event: dict[str, Any]) -> bool:
        """Wompi's checksum: SHA-256 of the listed properties' values, the timestamp and the events secret."""
        try:
            signature = event["signature"]
            values = []
            for path in signature["properties"]:
                node: Any = event["data"]
                for part in path.split("."):
                    node = node[part]
                values.append(str(node))
            expected = _sha256("".join(values) + str(event["timestamp"]) + self.account.events_secret)
            return hmac.compare_digest(expected, str(signature["checksum"]).lower())
        except (KeyError, TypeError):
            return False


class PayUGateway:
    """Card payments through PayU Latam's payments API (SUBMIT_TRANSACTION, authorization and capture)."""

    def __init__(self, account: PayUAccount, http: httpx.AsyncClient) -> None:
        self.account = account
        self.http = http

    async def charge(
        self, reference: str, amount: Decimal, card: Card, email: str, notify_url: str | None
    ) -> Charge:
        acct = self.account
        value = f"{amount:.2f}"
        signature = _md5(f"{acct.api_key}~{acct.merchant_id}~{reference}~{value}~COP")
        buyer = {"fullName": card.holder, "emailAddress": email, "contactPhone": "3001234567",
                 "dniNumber": "1020304050",
                 "shippingAddress": {"street1": "Calle 93 # 11-26", "city": "Bogota", "country": "CO"}}
        order: dict[str, Any] = {
            "accountId": acct.account_id,
            "referenceCode": reference,
            "description": f"Pedido {reference}",
            "language": "es",
            "signature": signature,
            "additionalValues": {"TX_VALUE": {"value": value, "currency": "COP"}},
            "buyer": buyer,
        }
        if notify_url:
            order["notifyUrl"] = notify_url
        body = {
            "language": "es",
            "command": "SUBMIT_TRANSACTION",
            "merchant": {"apiLogin": acct.api_login, "apiKey": acct.api_key},
            "test": True,
            "transaction": {
                "order": order,
                "payer": {**buyer, "billingAddress": buyer["shippingAddress"]},
                "creditCard": {"number": card.number, "securityCode": card.cvc,
                               "expirationDate": f"20{card.exp_year}/{card.exp_month}", "name": card.holder},
                "extraParameters": {"INSTALLMENTS_NUMBER": 1},
                "type": "AUTHORIZATION_AND_CAPTURE",
                "paymentMethod": "VISA",
                "paymentCountry": "CO",
                "deviceSessionId": "shop-session-1",
                "ipAddress": "127.0.0.1",
                "cookie": "shop-cookie-1",
                "userAgent": "shop-checkout",
            },
        }
        try:
            response = await self.http.post(acct.base_url + PAYU_PAYMENTS, json=body)
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"payu: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable(f"payu answered {response.status_code}")
        data = response.json()
        if data.get("code") != "SUCCESS":
            raise PaymentRefused(f"payu refused the request: {data.get('error')}")
        tx = data["transactionResponse"]
        return Charge(gateway_id=str(tx["transactionId"]), status=str(tx["state"]))

    def confirmation_is_authentic(self, form: dict[str, str]) -> bool:
        """PayU's confirmation sign: MD5 of apiKey~merchant_id~reference_sale~new_value~currency~state_pol,
        where new_value keeps one decimal when the second is 0 (150.00 → 150.0) and both otherwise."""
        try:
            value = f"{Decimal(form['value']):.2f}"
            new_value = value[:-1] if value.endswith("0") else value
            text = "~".join(
                [self.account.api_key, form["merchant_id"], form["reference_sale"], new_value, form["currency"],
                 form["state_pol"]]
            )
        except (KeyError, ArithmeticError):
            return False
        return hmac.compare_digest(_md5(text), form.get("sign", "").lower())
