"""What a running core holds: the database engine, one HTTP client, the gateway clients, the rate limiter.

Built once per app by the lifespan from the settings; handlers reach it through ``core.deps``.

Usage::

    services = Services.build(settings)
    await services.open()                    # the webhook pool; then: await services.aclose()
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
import httpx
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.session import make_engine, make_pool, warm_pool
from core.gateways.efecty import EfectyClient, EfectyConfig
from core.gateways.payu import PayUClient, PayUConfig
from core.gateways.resilience import BreakerPolicy, RetryPolicy, Timeouts
from core.gateways.wompi import WompiClient, WompiConfig
from core.settings import Settings
from core.webhooks import store
from core.webhooks.payu_answers import PayUAnswers
from core.webhooks.wompi_misses import WompiMisses

POOL_CLOSE_SECONDS = 10.0


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine  # the API's pool (pinged on checkout)
    http: httpx.AsyncClient
    payu: PayUClient
    wompi: WompiClient
    efecty: EfectyClient
    limiter: MovingWindowRateLimiter
    # What PayU's Queries API said per reference, for a minute: bounds the calls a captured confirmation buys.
    payu_answers: PayUAnswers = field(default_factory=PayUAnswers)
    # Wompi ids a lookup found nothing adoptable for, for a minute: bounds the calls a replayed event buys.
    wompi_misses: WompiMisses = field(default_factory=WompiMisses)
    # The webhook hot path's bare asyncpg pool (no ping; retries once on a dead connection): open() makes it.
    _webhook_pool: asyncpg.Pool | None = None
    _warming: asyncio.Task[int] | None = None

    @property
    def webhook_pool(self) -> asyncpg.Pool:
        if self._webhook_pool is None:
            raise RuntimeError("Services.open() was not awaited: the webhook pool does not exist")
        return self._webhook_pool

    @classmethod
    def build(cls, settings: Settings, *, http: httpx.AsyncClient | None = None) -> Services:
        """``http`` is injectable (STYLE.md 6): unit tests pass one with an httpx.MockTransport."""
        r = settings.resilience
        retry = RetryPolicy(attempts=r.attempts, initial_delay=r.initial_delay, multiplier=r.multiplier,
                            max_delay=r.max_delay)
        breaker = BreakerPolicy(failure_threshold=r.breaker_failures, reset_timeout=r.breaker_reset_seconds)
        timeouts = Timeouts(read=settings.gateway_timeout_seconds)
        client = http or httpx.AsyncClient(timeout=timeouts.as_httpx(),
                                           limits=httpx.Limits(max_connections=100))
        payu = PayUClient(client, PayUConfig(
            api_key=settings.payu.api_key, api_login=settings.payu.api_login,
            merchant_id=settings.payu.merchant_id, account_id=settings.payu.account_id,
            base_url=settings.payu.base_url, test=settings.payu.test, notify_url=settings.payu.notify_url,
            timeouts=Timeouts(read=max(settings.gateway_timeout_seconds, 1.0)), retry=retry, breaker=breaker,
        ))
        wompi = WompiClient(client, WompiConfig(
            public_key=settings.wompi.public_key, private_key=settings.wompi.private_key,
            integrity_secret=settings.wompi.integrity_secret, base_url=settings.wompi.base_url,
            timeouts=timeouts, retry=retry, breaker=breaker,
        ))
        efecty = EfectyClient(client, EfectyConfig(
            base_url=settings.efecty.base_url, api_key=settings.efecty.api_key, convenio=settings.efecty.convenio,
            timeouts=timeouts, retry=retry, breaker=breaker,
        ))
        uri = settings.limits.storage_uri
        # The limits library picks its asyncio storages by an "async+" scheme prefix.
        limiter = MovingWindowRateLimiter(storage_from_string(uri if uri.startswith("async+") else "async+" + uri))
        return cls(settings=settings, engine=make_engine(settings.db), http=client, payu=payu, wompi=wompi,
                   efecty=efecty, limiter=limiter)

    async def open(self) -> None:
        """Open what needs a running event loop: the webhook pool, warmed in the background."""
        self._webhook_pool = await make_pool(self.settings.db, prime=store.prime)
        if self.settings.db.warm_connections:
            self._warming = asyncio.create_task(warm_pool(self._webhook_pool, self.settings.db.warm_connections))

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()
        if self._warming is not None:
            # Let the warming finish (it is bounded) rather than cancel it: an acquire cancelled while its
            # connection is being made can leave the pool waiting forever for that connection on close().
            await asyncio.gather(self._warming, return_exceptions=True)
        if self._webhook_pool is not None:
            try:
                await asyncio.wait_for(self._webhook_pool.close(), timeout=POOL_CLOSE_SECONDS)
            except TimeoutError:
                self._webhook_pool.terminate()
