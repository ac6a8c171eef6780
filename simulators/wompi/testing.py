"""A merchant-side driver for the Wompi simulator (acceptance token, tokenise, sign, pay), for tests and demos.

Usage::

    async with httpx.AsyncClient(base_url=url) as http:
        wompi = WompiDriver(http, WompiConfig())
        tx = (await wompi.pay_card("order-1", 2490000)).json()["data"]
"""

from __future__ import annotations

from typing import Any

import httpx

from simulators.wompi.config import WompiConfig
from simulators.wompi.signing import integrity_signature
from simulators.wompi.state import CARD_APPROVED, NEQUI_APPROVED


class WompiDriver:
    """Calls the simulator the way a correct merchant integration would; each step can be overridden."""

    def __init__(self, http: httpx.AsyncClient, config: WompiConfig) -> None:
        self.http = http
        self.config = config

    @property
    def public_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.public_key}"}

    @property
    def private_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.private_key}"}

    async def acceptance_tokens(self) -> tuple[str, str]:
        """(presigned acceptance token, personal data auth token) from GET /v1/merchants/{public_key}."""
        response = await self.http.get(f"/v1/merchants/{self.config.public_key}")
        response.raise_for_status()
        data = response.json()["data"]
        return (
            data["presigned_acceptance"]["acceptance_token"],
            data["presigned_personal_data_auth"]["acceptance_token"],
        )

    async def card_token(self, number: str = CARD_APPROVED) -> str:
        card = {"number": number, "cvc": "123", "exp_month": "08", "exp_year": "35", "card_holder": "Pedro Pérez"}
        response = await self.http.post("/v1/tokens/cards", json=card, headers=self.public_auth)
        response.raise_for_status()
        return str(response.json()["data"]["id"])

    async def transaction_body(
        self, reference: str, amount_in_cents: int, payment_method: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        acceptance, personal = await self.acceptance_tokens()
        body: dict[str, Any] = {
            "acceptance_token": acceptance,
            "accept_personal_auth": personal,
            "amount_in_cents": amount_in_cents,
            "currency": "COP",
            "customer_email": "comprador@example.com",
            "reference": reference,
            "signature": integrity_signature(reference, amount_in_cents, "COP", self.config.integrity_secret),
            "payment_method": payment_method,
        }
        body.update(extra)
        return body

    async def create(self, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/v1/transactions", json=body, headers=self.private_auth)

    async def pay_card(self, reference: str, amount_in_cents: int, number: str = CARD_APPROVED) -> httpx.Response:
        method = {"type": "CARD", "token": await self.card_token(number), "installments": 1}
        return await self.create(await self.transaction_body(reference, amount_in_cents, method))

    async def pay_nequi(
        self, reference: str, amount_in_cents: int, phone_number: str = NEQUI_APPROVED
    ) -> httpx.Response:
        method = {"type": "NEQUI", "phone_number": phone_number}
        return await self.create(await self.transaction_body(reference, amount_in_cents, method))

    async def pay_pse(self, reference: str, amount_in_cents: int, bank_code: str = "1") -> httpx.Response:
        method = {
            "type": "PSE",
            "user_type": 0,
            "user_legal_id_type": "CC",
            "user_legal_id": "1099888777",
            "financial_institution_code": bank_code,
            "payment_description": f"Pago {reference}",
        }
        customer = {"phone_number": "573145678901", "full_name": "Pedro Pérez"}
        body = await self.transaction_body(reference, amount_in_cents, method, customer_data=customer)
        return await self.create(body)

    async def transaction(self, transaction_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/transactions/{transaction_id}")
        response.raise_for_status()
        return dict(response.json()["data"])

    async def advance(self, seconds: float) -> dict[str, Any]:
        """Move the simulator's clock; every job that came due has run when this returns."""
        response = await self.http.post("/__admin/clock/advance", json={"seconds": seconds})
        response.raise_for_status()
        return dict(response.json())

    async def finalize(self, transaction_id: str, status: str) -> httpx.Response:
        return await self.http.post(f"/__admin/wompi/transactions/{transaction_id}/finalize", json={"status": status})

    async def set_events_url(self, url: str | None) -> httpx.Response:
        return await self.http.put("/__admin/wompi/events-url", json={"url": url})
