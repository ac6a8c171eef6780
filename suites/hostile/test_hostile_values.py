"""Hostile values (suites/hostile/values.py) against every API endpoint and both webhooks of the live core.

Each example starts from a valid request — a buyer's own order, a signed Wompi event and a signed PayU
confirmation for attempts that exist — and makes one part of it hostile. The invariants are the suite's
(suites/hostile/invariants.py): never a 5xx; a refusal charged nothing and wrote nothing. A request head
over the core's cap may also be answered by a closed connection.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from suites.conftest import Live, seed_transaction
from suites.hostile.invariants import Witness, assert_5xx_quotes_a_reference
from suites.hostile.values import DEPTH, HEAD_LIMIT, Endpoint, hostile_request, json_bytes
from suites.support.api import Actor
from suites.support.events import payu_confirmation, wompi_event_dict
from suites.support.http import sync_client

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
EXAMPLES = {"thorough": 400, "ci": 40}.get(PROFILE, 25)
# Outside thorough the examples are the same every run (and not shrunk: each shrink step is a live request):
# a failure in CI is one anybody can rerun, and the suite's time does not depend on what it finds.
FIXED = PROFILE != "thorough"
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if FIXED else [Phase.shrink])


def _endpoints(live: Live, witness: Witness, buyer: Actor, http: httpx.Client) -> dict[str, Endpoint]:
    """Every route with a valid request to start from; the stack's own records where one is needed."""
    order = http.post("/orders", json={"amount": "50000.00", "currency": "COP"}, headers=buyer.headers).json()
    wompi = witness.loop.run_until_complete(seed_transaction(
        witness.conn, gateway="wompi", gateway_transaction_id=f"wompi-{secrets.token_hex(4)}"))
    payu = witness.loop.run_until_complete(seed_transaction(
        witness.conn, gateway="payu", gateway_transaction_id=str(uuid.uuid4())))
    event = wompi_event_dict(tx_id=str(wompi["gateway_transaction_id"]), status="APPROVED",
                             amount_in_cents=5_000_000, reference=str(wompi["reference"]),
                             secret=live.creds["wompi"]["events_secret"])
    confirmation = payu_confirmation(reference_sale=str(payu["reference"]), value=Decimal("50000.00"),
                                     status="APPROVED", api_key=live.creds["payu"]["api_key"],
                                     merchant_id=live.creds["payu"]["merchant_id"],
                                     transaction_id=str(payu["gateway_transaction_id"]))
    payment = {"order_id": order["id"], "amount": "50000.00", "currency": "COP", "method": "NEQUI",
               "customer_email": "comprador@example.com", "nequi_phone": "3991111111"}
    return {
        "POST /orders": Endpoint("POST", "/orders", "buyer", {"amount": "50000.00", "currency": "COP"}),
        "GET /orders/{id}": Endpoint("GET", "/orders/{order_id}", "buyer", path_params={"order_id": str(order["id"])}),
        "GET /payments/config": Endpoint("GET", "/payments/config", None),
        "GET /payments/methods": Endpoint("GET", "/payments/methods", None),
        "POST /payments/process": Endpoint("POST", "/payments/process", "buyer", payment),
        "POST /admin/efecty/{code}/confirm": Endpoint("POST", "/admin/efecty/{code}/confirm", "admin",
                                                      path_params={"code": f"EFE-{order['id']}-AAAAAA"}),
        "POST /admin/reconcile": Endpoint("POST", "/admin/reconcile", "admin", params={"date": "2025-01-31"}),
        "GET /health": Endpoint("GET", "/health", None),
        "POST /webhooks/wompi": Endpoint("POST", "/webhooks/wompi", None, event),
        "POST /webhooks/payu": Endpoint("POST", "/webhooks/payu", None, confirmation, form=True),
    }


def _headers(name: str, endpoint: Endpoint, live: Live, buyer: Actor, event_checksum: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    if endpoint.role == "buyer":
        headers.update(buyer.headers)
    elif endpoint.role == "admin":
        headers.update(Actor.admin(live).headers)
    if name == "POST /payments/process":
        headers["idempotency-key"] = f"hostile-{secrets.token_hex(8)}"
    if name == "POST /webhooks/wompi":
        headers["x-event-checksum"] = event_checksum
    return headers


@pytest.fixture
def witness(live: Live) -> Iterator[Witness]:
    with Witness(live) as witnessing:
        yield witnessing


ROUTES = ["POST /orders", "GET /orders/{id}", "GET /payments/config", "GET /payments/methods",
          "POST /payments/process", "POST /admin/efecty/{code}/confirm", "POST /admin/reconcile", "GET /health",
          "POST /webhooks/wompi", "POST /webhooks/payu"]


@pytest.mark.scenario("API-HOSTILE-INPUT")
@pytest.mark.parametrize("route", ROUTES)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=FIXED,
          phases=PHASES)
@given(data=st.data())
def test_hostile_values_never_get_a_5xx_and_a_refusal_changes_nothing(
    route: str, live: Live, witness: Witness, data: st.DataObject
) -> None:
    buyer = Actor.buyer(live)
    with sync_client(base_url=live.urls["core"], timeout=30) as http:
        endpoint = _endpoints(live, witness, buyer, http)[route]
        checksum = str((endpoint.body or {}).get("signature", {}).get("checksum", ""))
        request = data.draw(hostile_request(endpoint, _headers(route, endpoint, live, buyer, checksum)))
        before = witness.snapshot()
        try:
            response = http.request(request.method, request.url, content=request.content,
                                    headers=request.headers)  # type: ignore[arg-type]
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            # Closing the connection is an answer only to a head over the cap (core.httpserver).
            assert request.head_bytes > HEAD_LIMIT, f"{route}: connection dropped for {request}"
            return
    what = f"{route} {request.url[:100]}"
    assert_5xx_quotes_a_reference(response.status_code, response.content, what)
    witness.check(response.status_code, response.content, before, what, webhook=route.startswith("POST /webhooks/"))


# -- the webhook cases the property test found (each a 500 once), pinned -----------------------------------


@pytest.mark.scenario("API-HOSTILE-INPUT")
async def test_a_signed_wompi_event_with_nul_in_an_unsigned_field_is_not_a_5xx(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id="wompi-nul-1")
    event = wompi_event_dict(tx_id="wompi-nul-1", status="APPROVED", amount_in_cents=5_000_000,
                             reference=str(seeded["reference"]), secret=live.creds["wompi"]["events_secret"])
    event["data"]["transaction"]["reference"] = "\x00"  # not among the signed properties
    response = await core.post("/webhooks/wompi", content=json_bytes(event), headers={
        "content-type": "application/json", "x-event-checksum": event["signature"]["checksum"]})
    assert response.status_code < 500, response.text


@pytest.mark.scenario("API-HOSTILE-INPUT")
async def test_a_30000_deep_body_on_the_wompi_webhook_is_not_a_5xx(live: Live, core: httpx.AsyncClient) -> None:
    deep = b"[" * DEPTH + b"]" * DEPTH
    response = await core.post("/webhooks/wompi", content=deep, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text


@pytest.mark.scenario("API-HOSTILE-INPUT")
async def test_a_signed_payu_confirmation_with_nul_in_transaction_id_is_not_a_5xx(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=str(uuid.uuid4()))
    form = payu_confirmation(reference_sale=str(seeded["reference"]), value=Decimal("50000.00"), status="APPROVED",
                             api_key=live.creds["payu"]["api_key"], merchant_id=live.creds["payu"]["merchant_id"],
                             transaction_id="\x00")
    response = await core.post("/webhooks/payu", content=urlencode(form).encode(),
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code < 500, response.text
