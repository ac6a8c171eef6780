"""PayU Latam card payments: SUBMIT_TRANSACTION (authorization and capture) with the MD5 request signature."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from examples.seed_shop.app.config import Settings
from examples.seed_shop.app.services import GatewayRefused, GatewayUnavailable

PAYMENTS_PATH = "/payments-api/4.0/service.cgi"


class PayUService:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    def signature(self, reference: str, value: str, currency: str) -> str:
        """MD5(ApiKey~merchantId~referenceCode~amount~currency), as the seed describes it."""
        s = self.settings
        text = f"{s.payu_api_key}~{s.payu_merchant_id}~{reference}~{value}~{currency}"
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - PayU's documented signature

    async def submit_card(self, reference: str, value: str, card: dict[str, str], email: str) -> dict[str, Any]:
        """The ``transactionResponse`` of a card charge: ``transactionId`` and ``state`` (APPROVED, DECLINED...)."""
        s = self.settings
        buyer = {"fullName": card.get("name", ""), "emailAddress": email, "contactPhone": "3001234567",
                 "dniNumber": "1020304050",
                 "shippingAddress": {"street1": "Calle 93 # 11-26", "city": "Bogota", "country": "CO"}}
        body = {
            "language": "es",
            "command": "SUBMIT_TRANSACTION",
            "merchant": {"apiLogin": s.payu_api_login, "apiKey": s.payu_api_key},
            "test": True,
            "transaction": {
                "order": {"accountId": s.payu_account_id, "referenceCode": reference, "description": reference,
                          "language": "es", "signature": self.signature(reference, value, "COP"),
                          "additionalValues": {"TX_VALUE": {"value": value, "currency": "COP"}}, "buyer": buyer},
                "payer": {**buyer, "billingAddress": buyer["shippingAddress"]},
                "creditCard": {"number": card.get("number", ""), "securityCode": card.get("cvc", ""),
                               "expirationDate": card.get("expiration_date", ""), "name": card.get("name", "")},
                "extraParameters": {"INSTALLMENTS_NUMBER": 1},
                "type": "AUTHORIZATION_AND_CAPTURE",
                "paymentMethod": card.get("brand", "VISA"),
                "paymentCountry": "CO",
                "deviceSessionId": reference,
                "ipAddress": "127.0.0.1",
                "cookie": reference,
                "userAgent": "seed-shop",
            },
        }
        try:
            response = await self.http.post(s.payu_api_url + PAYMENTS_PATH, json=body)
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"payu: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable(f"payu answered {response.status_code}")
        data = response.json()
        if data.get("code") != "SUCCESS" or not data.get("transactionResponse"):
            raise GatewayRefused(f"payu refused the request: {data.get('error')}")
        result: dict[str, Any] = data["transactionResponse"]
        return result
