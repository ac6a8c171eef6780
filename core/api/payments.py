"""``GET /payments/config`` (public identifiers only) and ``GET /payments/methods`` (methods and PSE banks).

The PSE bank list comes from Wompi and is cached per process for ``settings.pse_banks_cache_seconds``.
When Wompi fails, the last good list is served (``stale``); when there never was one, the built-in list
(``fallback``): Wompi's documented sandbox institutions with test keys. With production keys there is no
honest built-in list — bank codes are Wompi's — so PSE is reported unavailable rather than offering codes
that would fail at payment time. A failed fetch is remembered briefly so a Wompi outage is not hit again
by every page view.

Usage: ``GET /payments/methods`` → ``{"methods": [...], "pse_banks": [...], "pse_banks_source": "wompi"}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from core.api.schemas import (
    BankOut,
    BankSource,
    EfectyPublicConfig,
    Environment,
    MethodOut,
    MethodsOut,
    PayUPublicConfig,
    PublicConfigOut,
    WompiPublicConfig,
    amount_out,
)
from core.deps import get_services
from core.gateways.errors import GatewayError
from core.services import Services
from core.settings import Settings

router = APIRouter(tags=["payments"])
log = logging.getLogger("payharness.core")

# Wompi's sandbox institutions (gateways.md §2.6): "1" approves, "2" declines.
SANDBOX_PSE_BANKS = (BankOut(code="1", name="Banco que aprueba"), BankOut(code="2", name="Banco que declina"))
FAILURE_MEMORY_SECONDS = 30.0


def wompi_environment(settings: Settings) -> Environment:
    return "production" if settings.wompi.public_key.startswith("pub_prod_") else "test"


def environment(settings: Settings) -> Environment:
    production = not settings.payu.test and wompi_environment(settings) == "production"
    return "production" if production else "test"


@router.get("/payments/config", response_model=PublicConfigOut, summary="Public checkout configuration")
async def payments_config(services: Annotated[Services, Depends(get_services)]) -> PublicConfigOut:
    """Identifiers a checkout page needs: Wompi's public key, PayU merchant and account ids, the Efecty
    convenio and the accepted amount range. No private key, API key or secret is ever part of it."""
    s = services.settings
    return PublicConfigOut(
        environment=environment(s),
        currency="COP",
        min_amount=amount_out(s.limits.min_amount),
        max_amount=amount_out(s.limits.max_amount),
        payu=PayUPublicConfig(merchant_id=s.payu.merchant_id, account_id=s.payu.account_id, test=s.payu.test),
        wompi=WompiPublicConfig(public_key=s.wompi.public_key, environment=wompi_environment(s)),
        efecty=EfectyPublicConfig(convenio=s.efecty.convenio, voucher_ttl_hours=s.efecty.voucher_ttl_hours),
    )


@dataclass
class PseBankCache:
    """Per-process cache of Wompi's PSE banks; one fetch at a time (no stampede on expiry)."""

    ttl: float
    banks: tuple[BankOut, ...] | None = None
    fetched_at: float = 0.0
    failed_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _fresh(self, now: float) -> bool:
        return self.banks is not None and now - self.fetched_at < self.ttl

    async def get(self, services: Services, *, production: bool) -> tuple[tuple[BankOut, ...], BankSource]:
        if self._fresh(time.monotonic()):
            return self.banks or (), "cache"
        async with self.lock:
            now = time.monotonic()
            if self._fresh(now):
                return self.banks or (), "cache"
            if self.failed_at is None or now - self.failed_at >= FAILURE_MEMORY_SECONDS:
                try:
                    banks = await services.wompi.pse_banks()
                except GatewayError as exc:
                    log.warning("PSE banks from Wompi failed, serving a fallback: %s", exc)
                    self.failed_at = now
                else:
                    self.banks = tuple(BankOut(code=b.code, name=b.name) for b in banks)
                    self.fetched_at, self.failed_at = now, None
                    return self.banks, "wompi"
            if self.banks is not None:
                return self.banks, "stale"
            return (() if production else SANDBOX_PSE_BANKS), "fallback"


def _bank_cache(request: Request, services: Services) -> PseBankCache:
    cache = getattr(request.app.state, "pse_bank_cache", None)
    if cache is None:
        cache = PseBankCache(ttl=float(services.settings.pse_banks_cache_seconds))
        request.app.state.pse_bank_cache = cache
    return cache


@router.get("/payments/methods", response_model=MethodsOut, summary="Payment methods and PSE banks")
async def payment_methods(request: Request, services: Annotated[Services, Depends(get_services)]) -> MethodsOut:
    """Methods the core can process and the banks a PSE payer may choose; ``pse_banks_source`` says where
    the bank list came from (wompi, cache, stale, fallback)."""
    production = wompi_environment(services.settings) == "production"
    banks, source = await _bank_cache(request, services).get(services, production=production)
    methods = [
        MethodOut(method="CARD", gateways=["wompi", "payu"]),
        MethodOut(method="NEQUI", gateways=["wompi"]),
        MethodOut(method="PSE", gateways=["wompi"], available=bool(banks)),
        MethodOut(method="EFECTY", gateways=["efecty"]),
    ]
    return MethodsOut(methods=methods, pse_banks=list(banks), pse_banks_source=source)
