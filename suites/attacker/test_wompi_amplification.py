"""Wompi: one captured event about a transaction the core does not hold must not buy an outbound call per copy.

An event whose (signed) id the core never stored makes the core ask Wompi (``GET /v1/transactions/{id}``) whether
it is an attempt of ours whose id was not stored yet. The id is signed, but the whole event may be replayed as
is for the 49 hours the freshness window allows: each copy asked Wompi again. Thirty copies were thirty calls —
Wompi's rate limit, and the core's breaker that pauses every Wompi payment, bought by anyone holding one POST
(PayU's path remembers its answers for that reason: core/webhooks/payu_answers.py).
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from suites.conftest import Live
from suites.support.events import wompi_event
from suites.support.faults import requests

TX_ID = "555555-1700000000-00042"


@pytest.mark.scenario("ATTACK-WOMPI-LOOKUP-AMPLIFICATION")
async def test_a_replayed_event_for_a_transaction_not_ours_asks_wompi_a_bounded_number_of_times(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    body, headers = wompi_event(tx_id=TX_ID, status="APPROVED", amount_in_cents=5_000_000, reference="NOT-OURS-1",
                                secret=live.creds["wompi"]["events_secret"])
    path = f"/v1/transactions/{TX_ID}"
    before = len(await requests(live, "wompi", path=path))
    codes = {(await core.post("/webhooks/wompi", content=body, headers=headers)).status_code for _ in range(30)}
    asked = len(await requests(live, "wompi", path=path)) - before
    assert codes == {422}
    assert 1 <= asked <= 2, asked  # the core runs two workers, each with its own memory
    counts = await core_db.fetchrow("SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM"
                                    " payment_anomalies)")
    assert tuple(counts) == (1, 1)
