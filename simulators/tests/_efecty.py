"""Helpers for the Efecty contract tests: an in-process client and voucher payloads."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from simulators.efecty import EfectyConfig, create_app

CONFIG = EfectyConfig()
MERCHANT = {"Authorization": f"Bearer {CONFIG.merchant_api_key}"}
POINT = {"X-Point-Key": CONFIG.point_key}


def voucher(code: str = "7700123456", amount: str = "65000.00", **overrides: Any) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(days=3)
    body = {
        "payment_code": code,
        "amount": amount,
        "currency": "COP",
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
        "reference": f"ORDER-{code}",
        "description": "Pedido de prueba",
    }
    body.update(overrides)
    return body


@asynccontextmanager
async def efecty(config: EfectyConfig | None = None) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(config or CONFIG)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://efecty", headers=MERCHANT) as client:
        yield app, client
    await app.state.sim.scheduler.stop()


async def pay(client: httpx.AsyncClient, code: str, amount: str, point_id: str = "PT-0042") -> httpx.Response:
    body = {"payment_code": code, "amount": amount, "point_id": point_id}
    return await client.post("/api/v1/cashier/payments", json=body, headers=POINT)
