"""Wompi card payments: acceptance token, integrity signature, transaction with the buyer's card token."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from examples.seed_shop.app.config import Settings
from examples.seed_shop.app.services import GatewayRefused, GatewayUnavailable


class WompiService:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    async def _call(self, method: str, path: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = await self.http.request(method, self.settings.wompi_api_url + path, json=body,
                                               headers={"Authorization": f"Bearer {key}"})
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"wompi: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable(f"wompi answered {response.status_code}")
        if response.status_code >= 400:
            raise GatewayRefused(f"wompi answered {response.status_code}: {response.text[:300]}")
        data: dict[str, Any] = response.json()["data"]
        return data

    async def create_card_transaction(self, reference: str, amount_in_cents: int, card_token: str,
                                      email: str) -> dict[str, Any]:
        """A PENDING card transaction; its final status arrives later as a ``transaction.updated`` event."""
        s = self.settings
        merchant = await self._call("GET", f"/v1/merchants/{s.wompi_public_key}", s.wompi_public_key)
        signature = hashlib.sha256(f"{reference}{amount_in_cents}COP{s.wompi_integrity_secret}".encode()).hexdigest()
        body = {
            "acceptance_token": merchant["presigned_acceptance"]["acceptance_token"],
            "amount_in_cents": amount_in_cents,
            "currency": "COP",
            "customer_email": email,
            "reference": reference,
            "signature": signature,
            "payment_method": {"type": "CARD", "token": card_token, "installments": 1},
        }
        return await self._call("POST", "/v1/transactions", s.wompi_private_key, body)
