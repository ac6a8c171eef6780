"""Gateway clients for PayU, Wompi and Efecty, each on an injected ``httpx.AsyncClient``.

Usage::

    async with httpx.AsyncClient() as http:
        wompi = WompiClient(http, WompiConfig(...))
        banks = await wompi.pse_banks()
"""

from __future__ import annotations

from core.gateways.asobancaria import AsobancariaFile, parse_asobancaria
from core.gateways.efecty import EfectyClient, EfectyConfig
from core.gateways.errors import CircuitOpenError, GatewayError
from core.gateways.payu import PayUClient, PayUConfig
from core.gateways.resilience import BreakerPolicy, CircuitBreaker, RetryPolicy, Timeouts
from core.gateways.wompi import WompiClient, WompiConfig

__all__ = [
    "AsobancariaFile",
    "BreakerPolicy",
    "CircuitBreaker",
    "CircuitOpenError",
    "EfectyClient",
    "EfectyConfig",
    "GatewayError",
    "PayUClient",
    "PayUConfig",
    "RetryPolicy",
    "Timeouts",
    "WompiClient",
    "WompiConfig",
    "parse_asobancaria",
]
