"""Fixtures for the seed shop's own tests: an empty Postgres database and the shop served against the simulators.

The database comes from the session's Postgres (the root conftest's ``postgres`` fixture: the embedded server,
Docker or PAYHARNESS_DATABASE_URL); the shop creates its own schema in it, as it does under ``payharness audit``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import httpx
import pytest

from examples.seed_shop.app import Settings, create_app

BUYER = {"Authorization": "Bearer buyer-token"}
OTHER = {"Authorization": "Bearer other-token"}


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def shop_db(postgres: Any) -> Iterator[str]:
    """A fresh, empty database for one test (libpq URL), dropped afterwards."""
    name = f"seed_shop_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres.dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield postgres.database_dsn(name)
    finally:
        asyncio.run(_admin(postgres.dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass(frozen=True)
class Shop:
    """A running shop: its URL, its database and the settings it runs with."""

    url: str
    dsn: str
    settings: Settings

    def post(self, path: str, *, headers: dict[str, str] = BUYER, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, headers=headers, timeout=30, **kwargs)

    def create_order(self, total: str) -> int:
        response = self.post("/api/orders", json={"total": total, "currency": "COP"})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return asyncio.run(self.query(sql, *args))


@pytest.fixture
def start_shop(shop_db: str, wompi_sim: Any, payu_sim: Any, efecty_sim: Any,
               serve_app: Callable[[Any], str]) -> Callable[..., Shop]:
    """``start_shop(hardened=True, wompi_events_secret="")``: the shop on a free port, the simulators'
    webhooks pointed at it. Keyword arguments override settings."""

    def start(*, hardened: bool, **overrides: Any) -> Shop:
        w, p = wompi_sim.config, payu_sim.credentials
        settings = Settings(
            database_url=shop_db, hardened=hardened, debug=not hardened,
            wompi_api_url=wompi_sim.url, wompi_public_key=w.public_key, wompi_private_key=w.private_key,
            wompi_integrity_secret=w.integrity_secret, wompi_events_secret=w.events_secret,
            payu_api_url=payu_sim.url, payu_api_key=p["api_key"], payu_api_login=p["api_login"],
            payu_merchant_id=p["merchant_id"], payu_account_id=p["account_id"],
            efecty_api_url=efecty_sim.url, efecty_merchant_api_key=efecty_sim.config.merchant_api_key,
        )
        settings = replace(settings, **overrides)
        url = serve_app(create_app(settings))
        wompi_sim.deliveries.target(url + "/webhooks/wompi")
        payu_sim.deliveries.target(url + "/webhooks/payu")
        return Shop(url, shop_db, settings)

    return start


def card_token(wompi_sim: Any, number: str = "4242424242424242") -> str:
    """A Wompi card token, as the buyer's browser would get it with the public key."""
    card = {"number": number, "cvc": "123", "exp_month": "08", "exp_year": "35", "card_holder": "Ana Gómez"}
    response = httpx.post(wompi_sim.url + "/v1/tokens/cards", json=card,
                          headers={"Authorization": f"Bearer {wompi_sim.config.public_key}"})
    response.raise_for_status()
    return str(response.json()["data"]["id"])
