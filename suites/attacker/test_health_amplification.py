"""``GET /health`` is public: concurrent requests must not each buy a round of gateway probes.

The gateway checks are cached for a few seconds, but a burst that arrives while the cache is empty or stale
made every request probe PayU, Wompi and Efecty itself: an unauthenticated client turns N requests into 3N
outbound calls, against the gateways' rate limits and the breakers that pause payments.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from suites.conftest import Live
from suites.support.faults import PAYU_PAYMENTS, requests
from suites.support.http import client


@pytest.mark.scenario("ATTACK-HEALTH-AMPLIFICATION")
async def test_a_burst_of_health_checks_probes_each_gateway_once_per_worker(live: Live) -> None:
    await asyncio.sleep(5.1)  # past the core's gateway-check cache (GATEWAY_CACHE_SECONDS)
    before = len(await requests(live, "payu", path=PAYU_PAYMENTS))
    async with client(base_url=live.urls["core"], timeout=30,
                      limits=httpx.Limits(max_connections=40, max_keepalive_connections=0)) as http:
        answers = await asyncio.gather(*(http.get("/health") for _ in range(40)))
    assert {a.status_code for a in answers} <= {200}, [a.text for a in answers if a.status_code != 200][:1]
    probes = len(await requests(live, "payu", path=PAYU_PAYMENTS)) - before
    assert 1 <= probes <= 2, probes  # two uvicorn workers, one probe each
