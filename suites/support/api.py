"""A buyer and an admin talking to the live core, and the gateway-side moves a real payer would make.

Usage::

    buyer = Actor.buyer(live)                       # a fresh buyer id and token
    order = await buyer.create_order("50000.00")
    paid = await buyer.pay(core, order["id"], "50000.00", method="NEQUI", nequi_phone="3991111111")
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from harness.target.run import TargetRun
from harness.target.target import Target
from suites.conftest import Live
from suites.support.core_target import CoreOnly
from suites.support.http import client as http_client


def token(live: Live, subject: str, role: str) -> str:
    """A token signed with the core's secret: a core-only power (``CoreOnly.token``)."""
    return CoreOnly(live).token(subject, role)


@dataclass(frozen=True)
class Actor:
    """Someone using the core: orders are made and read through the core's profile (``Target``), payments not.

    A payment is sent here as the core's API takes it (any method, any field, on the client the test picks:
    pinned to one worker, a restarted core): more than a profile's ``[api.pay.<gateway>]`` templates express.
    """

    subject: str
    headers: dict[str, str]
    run: TargetRun

    @classmethod
    def buyer(cls, live: Live) -> Actor:
        subject = f"buyer-{secrets.token_hex(4)}"
        return cls(subject, {"authorization": f"Bearer {token(live, subject, 'buyer')}"}, live.core_run)

    @classmethod
    def admin(cls, live: Live) -> Actor:
        return cls("admin-1", {"authorization": f"Bearer {token(live, 'admin-1', 'admin')}"}, live.core_run)

    async def create_order(self, amount: str) -> dict[str, Any]:
        """The order as the core answered it (201), made through the profile's ``[api.create_order]``."""
        async with Target(self.run) as target:
            answer = await target.create_order(amount, user=self.headers)
        assert answer.status == 201, answer.text
        return dict(answer.body)

    async def pay(self, core: httpx.AsyncClient, order_id: int, amount: str, *, method: str,
                  key: str | None = None, **fields: Any) -> httpx.Response:
        body = {"order_id": order_id, "amount": amount, "currency": "COP", "method": method,
                "customer_email": "comprador@example.com", **fields}
        headers = {**self.headers, "idempotency-key": key or secrets.token_hex(8)}
        return await core.post("/payments/process", json=body, headers=headers)

    async def order(self, order_id: int) -> dict[str, Any]:
        """The order as its buyer reads it, through the profile's ``[api.get_order]``."""
        async with Target(self.run) as target:
            response = await target.get_order(str(order_id), user=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())


async def wompi_card_token(live: Live, number: str = "4242424242424242") -> str:
    """Tokenise a card at the Wompi simulator as the payer's browser would (public key)."""
    async with http_client(base_url=live.urls["wompi"]) as client:
        response = await client.post("/v1/tokens/cards", json={
            "number": number, "cvc": "123", "exp_month": "08", "exp_year": "30", "card_holder": "Ana Pérez"},
            headers={"authorization": f"Bearer {live.creds['wompi']['public_key']}"})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["data"]["id"])


async def advance_clock(live: Live, gateway: str, seconds: float) -> dict[str, Any]:
    """Move a simulator's clock; returns when every delivery that came due has been attempted."""
    async with http_client(timeout=30) as client:
        response = await client.post(f"{live.urls[gateway]}/__admin/clock/advance", json={"seconds": seconds})
    response.raise_for_status()
    return dict(response.json())


async def journal(live: Live, gateway: str, kind: str = "request") -> list[dict[str, Any]]:
    async with http_client() as client:
        response = await client.get(f"{live.urls[gateway]}/__admin/journal", params={"kind": kind})
    response.raise_for_status()
    return list(response.json()["entries"])
