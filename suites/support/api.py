"""A buyer and an admin talking to the live core, and the gateway-side moves a real payer would make.

Usage::

    buyer = Actor.buyer(live)                       # a fresh buyer id and token
    order = await buyer.create_order("50000.00")
    paid = await buyer.pay(core, order["id"], "50000.00", "wompi.nequi", nequi_phone="3991111111")
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
    """Someone using the core through its profile (``Target``): orders made and read, payments started.

    Only the identity is core-only: a fresh buyer or an admin, minted with the core's secret (``CoreOnly.token``).
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

    async def pay(self, core: httpx.AsyncClient, order_id: int | str, amount: str, how: str, *,
                  key: str | None = None, **values: str) -> httpx.Response:
        """Start a payment through the profile's ``[api.pay.<gateway>]`` or ``[api.pay.<gateway>.<method>]``.

        ``how``: ``"payu"``, ``"efecty"``, ``"wompi"`` (a tokenised card), ``"wompi.nequi"``, ``"wompi.pse"``;
        ``values``: what the payer chose (``card_holder``, ``card_number``, ``nequi_phone``, ``pse_bank``,
        ``customer_email``), refused if the template never sends it; ``key``: the Idempotency-Key. Sent on
        ``core``, the client the test picks (one pinned to a uvicorn worker, many connections for a burst).
        """
        gateway, _, method = how.partition(".")
        chosen = {**values, **({"idempotency_key": key} if key is not None else {})}
        async with Target(self.run, http=core) as target:
            answer = await target.pay(gateway, str(order_id), amount, method=method or None, user=self.headers,
                                      values=chosen)
        assert answer.response is not None
        return answer.response

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
