"""Builders of signed PayU request bodies for tests, suites and load users (sandbox credentials).

Usage: ``httpx.post(base + PAYMENTS_PATH, json=card_request("order-1", value=65000))``
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from simulators.payu.app import create_app
from simulators.payu.config import PayUConfig
from simulators.payu.routes import PAYMENTS_PATH
from simulators.payu.sandbox import TEST_CARDS
from simulators.payu.signing import Algorithm, payment_signature

SANDBOX = PayUConfig()


def merchant(config: PayUConfig = SANDBOX) -> dict[str, str]:
    return {"apiLogin": config.api_login, "apiKey": config.api_key}


def command(name: str, config: PayUConfig = SANDBOX, **fields: Any) -> dict[str, Any]:
    """Any non-payment command: ``command("ORDER_DETAIL", details={"orderId": 1})``."""
    return {"language": "es", "command": name, "merchant": merchant(config), "test": True, **fields}


def _transaction(
    reference: str,
    value: int | Decimal | str,
    currency: str,
    method: str,
    *,
    notify_url: str | None,
    config: PayUConfig,
    algorithm: Algorithm | str,
    signature: str | None,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    sig = signature or payment_signature(
        api_key=config.api_key,
        merchant_id=config.merchant_id,
        reference_code=reference,
        tx_value=str(value),
        currency=currency,
        algorithm=algorithm,
    )
    order: dict[str, Any] = {
        "accountId": "512321",
        "referenceCode": reference,
        "description": f"payharness {reference}",
        "language": "es",
        "signature": sig,
        "additionalValues": {"TX_VALUE": {"value": value, "currency": currency}},
        "buyer": {
            "merchantBuyerId": "1",
            "fullName": "Compradora de Prueba",
            "emailAddress": "buyer@example.com",
            "contactPhone": "7563126",
            "dniNumber": "5415668464654",
            "shippingAddress": {"street1": "Calle 93 # 11-26", "city": "Bogota", "country": "CO"},
        },
    }
    if notify_url:
        order["notifyUrl"] = notify_url
    return {
        "order": order,
        "payer": {
            "merchantPayerId": "1",
            "fullName": "Pagadora de Prueba",
            "emailAddress": "payer@example.com",
            "contactPhone": "7563126",
            "dniNumber": "5415668464654",
            "billingAddress": {"street1": "cll 93", "city": "Bogota", "country": "CO", "phone": "7563126"},
        },
        "extraParameters": dict(extra or {}),
        "type": "AUTHORIZATION_AND_CAPTURE",
        "paymentMethod": method,
        "paymentCountry": "CO",
        "deviceSessionId": "vghs6tvkcle931686k1900o6e1",
        "ipAddress": "127.0.0.1",
        "cookie": "pt1t38347bs6jc9ruv2ecpv7o2",
        "userAgent": "payharness",
    }


def card_request(
    reference: str,
    *,
    value: int | Decimal | str = 65000,
    currency: str = "COP",
    method: str = "VISA",
    number: str | None = None,
    cvv: str | None = "777",
    expiration: str = "2030/05",
    holder: str = "APPROVED",
    notify_url: str | None = None,
    config: PayUConfig = SANDBOX,
    algorithm: Algorithm | str = Algorithm.MD5,
    signature: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A signed card SUBMIT_TRANSACTION; the card defaults to the method's first documented test card."""
    tx = _transaction(
        reference,
        value,
        currency,
        method,
        notify_url=notify_url,
        config=config,
        algorithm=algorithm,
        signature=signature,
        extra={"INSTALLMENTS_NUMBER": 1, **(extra or {})},
    )
    card: dict[str, Any] = {
        "number": number or TEST_CARDS[method][0],
        "expirationDate": expiration,
        "name": holder,
    }
    if cvv is not None:
        card["securityCode"] = cvv
    tx["creditCard"] = card
    return command("SUBMIT_TRANSACTION", config, transaction=tx)


def cash_request(
    reference: str,
    *,
    value: int | Decimal | str = 50000,
    method: str = "EFECTY",
    expiration_date: str | None = None,
    notify_url: str | None = None,
    config: PayUConfig = SANDBOX,
) -> dict[str, Any]:
    """A signed EFECTY / OTHERS_CASH SUBMIT_TRANSACTION."""
    tx = _transaction(
        reference,
        value,
        "COP",
        method,
        notify_url=notify_url,
        config=config,
        algorithm=Algorithm.MD5,
        signature=None,
        extra=None,
    )
    if expiration_date:
        tx["expirationDate"] = expiration_date
    return command("SUBMIT_TRANSACTION", config, transaction=tx)


def pse_request(
    reference: str,
    *,
    value: int | Decimal | str = 80000,
    bank_code: str = "1022",
    notify_url: str | None = None,
    config: PayUConfig = SANDBOX,
) -> dict[str, Any]:
    """A signed PSE SUBMIT_TRANSACTION for a natural person."""
    extra = {
        "RESPONSE_URL": "http://127.0.0.1/response",
        "PSE_REFERENCE1": "127.0.0.1",
        "FINANCIAL_INSTITUTION_CODE": bank_code,
        "USER_TYPE": "N",
        "PSE_REFERENCE2": "CC",
        "PSE_REFERENCE3": "123456789",
    }
    tx = _transaction(
        reference,
        value,
        "COP",
        "PSE",
        notify_url=notify_url,
        config=config,
        algorithm=Algorithm.MD5,
        signature=None,
        extra=extra,
    )
    return command("SUBMIT_TRANSACTION", config, transaction=tx)


class InProcessPayU:
    """A PayU simulator app driven in-process over ``httpx.ASGITransport`` (no lifespan, no socket).

    Webhooks still go out over real HTTP. Jobs run only when the clock is advanced through the admin
    API (``advance(0)`` runs what is due now), which makes tests deterministic.
    Usage: ``payu = InProcessPayU(PayUConfig()); tr = await payu.submit(card_request("r1")); await payu.close()``
    """

    def __init__(self, config: PayUConfig | None = None) -> None:
        self.app = create_app(config)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://payu.test")

    @property
    def gateway(self) -> Any:
        return self.app.state.sim.state

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, json=body)
        data: dict[str, Any] = response.json()
        return data

    async def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """SUBMIT_TRANSACTION that must succeed; returns its transactionResponse."""
        data = await self.call(PAYMENTS_PATH, body)
        if data.get("code") != "SUCCESS":
            raise AssertionError(f"SUBMIT_TRANSACTION failed: {data}")
        response: dict[str, Any] = data["transactionResponse"]
        return response

    async def advance(self, seconds: float) -> None:
        response = await self.client.post("/__admin/clock/advance", json={"seconds": seconds})
        response.raise_for_status()

    async def put_chaos(self, *rules: dict[str, Any], seed: int = 0) -> None:
        response = await self.client.put("/__admin/chaos", json={"rules": list(rules), "seed": seed})
        response.raise_for_status()

    async def close(self) -> None:
        await self.app.state.sim.scheduler.stop()  # also closes the dispatcher's HTTP client
        await self.client.aclose()


def form_fields(body: bytes) -> dict[str, str]:
    """A confirmation POST's form body as a dict (blank values kept, as PayU sends them)."""
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
