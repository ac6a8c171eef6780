"""The reference core as the suites reach it: its ``Target`` from its own profile, and what only our core allows.

What a profile can express (create an order, start a payment, deliver a webhook, read the order's status,
amount paid, transactions, stored events, order count) goes through a ``harness.target.Target`` built from
``harness/target/core.toml``, the profile ``payharness audit --target`` uses on the core. That is the
portable scenarios' path on any service. Things no profile of someone else's service could give are on
``CoreOnly``, which says so in its name: minting tokens with the core's secret (any buyer, an admin),
SQL on the core's own schema, a payment body with a field no profile placeholder carries, and (through the
``stack`` fixture) restarting the core or cutting its database off.

Usage::

    run = core_run(live)                         # once per session: the profile's [auth] runs here
    async with Target(run) as target:
        order = await target.create_order(Decimal("50000.00"))
        await target.order_status(order.order_id)   # "pending"
    CoreOnly(live).token("buyer-7", "buyer")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr

from core.auth import mint_token
from core.settings import AuthSettings
from harness.paths import repo_root
from harness.target.profile import load_profile
from harness.target.run import TargetRun
from suites.conftest import TOKEN_SECRET, Live

CORE_PROFILE = repo_root() / "harness" / "target" / "core.toml"


def core_run(live: Live) -> TargetRun:
    """The running core (session stack or ``--target``) as a ``TargetRun`` of its profile; starts nothing."""
    sims = {name: live.urls[name] for name in ("payu", "wompi", "efecty")}
    return TargetRun.attach(load_profile(CORE_PROFILE), base_url=live.urls["core"], database_url=live.db_dsn,
                            sims=sims, env={TOKEN_SECRET: live.core_env[TOKEN_SECRET]})


@dataclass(frozen=True)
class CoreOnly:
    """Powers over the reference core that no foreign service's profile gives; only the built-in suites use them."""

    live: Live

    def token(self, subject: str, role: str) -> str:
        """A bearer token for anyone, signed with the core's own secret."""
        auth = AuthSettings(token_secret=SecretStr(self.live.core_env[TOKEN_SECRET]))
        return mint_token(auth, subject, role)

    async def pay_in_core_shape(self, core: httpx.AsyncClient, headers: dict[str, str], order_id: int | str,
                                amount: str, *, key: str, **fields: Any) -> httpx.Response:
        """A payment in the core's own request body, for a field no profile placeholder carries (Wompi's
        ``acceptance_token`` a payer's browser fetched); everything else goes through ``Actor.pay``."""
        body = {"order_id": order_id, "amount": amount, "currency": "COP",
                "customer_email": "comprador@example.com", **fields}
        return await core.post("/payments/process", json=body, headers={**headers, "idempotency-key": key})

    @asynccontextmanager
    async def schema(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection to the core's database, for SQL that knows its tables (seeding, anomalies, constraints)."""
        conn = await asyncpg.connect(self.live.db_dsn)
        try:
            yield conn
        finally:
            await conn.close()
