"""Efecty cash payments: the shop makes the payment code and registers it as a voucher, and reads it back (the
hardened shop's reconciliation, seed S15; the weak shop confirms by hand)."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from examples.seed_shop.app.config import Settings
from examples.seed_shop.app.services import GatewayRefused, GatewayUnavailable

ALPHABET = string.ascii_uppercase + string.digits


class DuplicateCode(GatewayRefused):
    """Efecty already holds a voucher with this code."""


def generate_code(prefix: str, order_id: int) -> str:
    """``PREFIX-ORDERID-RANDOM`` with a 6-character random suffix from ``secrets`` (the seed's format)."""
    random_suffix = "".join(secrets.choice(ALPHABET) for _ in range(6))
    return f"{prefix}-{order_id}-{random_suffix}"


class EfectyService:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    async def register_voucher(self, code: str, amount: str, reference: str, hours: int = 72) -> dict[str, Any]:
        expires = (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {"payment_code": code, "amount": amount, "currency": "COP", "expires_at": expires,
                "reference": reference, "description": f"Pedido {reference}"}
        return await self._voucher_call("POST", "/api/v1/vouchers", body, duplicate=code)

    async def voucher(self, code: str) -> dict[str, Any]:
        """The voucher as Efecty holds it now (``status``: PENDING, PAID or EXPIRED; ``amount``)."""
        return await self._voucher_call("GET", f"/api/v1/vouchers/{code}")

    async def _voucher_call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                            duplicate: str | None = None) -> dict[str, Any]:
        """One call to Efecty's voucher API; a 409 is ``DuplicateCode(duplicate)`` when registering."""
        auth = {"Authorization": f"Bearer {self.settings.efecty_merchant_api_key}"}
        try:
            response = await self.http.request(method, self.settings.efecty_api_url + path, json=body, headers=auth)
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"efecty: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable(f"efecty answered {response.status_code}")
        if response.status_code == 409 and duplicate is not None:
            raise DuplicateCode(duplicate)
        if response.status_code >= 400:
            raise GatewayRefused(f"efecty answered {response.status_code}: {response.text[:300]}")
        voucher: dict[str, Any] = response.json()["voucher"]
        return voucher
