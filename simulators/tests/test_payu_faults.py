"""Faults on PayU's single RPC URL, matched by the body's ``command``, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from simulators.common.faults import FaultPlan, FaultRule, HttpError
from simulators.payu import PayUConfig, create_app
from simulators.payu.routes import PAYMENTS_PATH, QUERIES_PATH
from simulators.payu.testing import card_request, command

SUBMIT = "SUBMIT_TRANSACTION"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as c:
        yield c


@pytest.fixture
def payu(live_server: Callable[[Any], str]) -> tuple[FastAPI, str]:
    app = create_app()
    return app, live_server(app)


def ref() -> str:
    return f"fault-{uuid.uuid4().hex[:10]}"


def charges(app: FastAPI) -> int:
    return len(app.state.sim.state.store.transactions)


async def set_faults(client: httpx.AsyncClient, base: str, *rules: dict[str, Any]) -> None:
    response = await client.put(f"{base}/__admin/faults", json={"rules": list(rules), "seed": 1})
    assert response.status_code == 200, response.text


def rule(fault: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"fault": fault, "path": PAYMENTS_PATH, "method": "POST", "match_command": SUBMIT, **extra}


async def test_http_error_hits_only_the_matched_command(payu: tuple[FastAPI, str], client: httpx.AsyncClient) -> None:
    app, base = payu
    await set_faults(client, base, rule({"type": "http_error", "status": 503}))
    response = await client.post(base + PAYMENTS_PATH, json=card_request(ref()))
    assert response.status_code == 503
    ping = await client.post(base + PAYMENTS_PATH, json=command("PING"))
    assert ping.status_code == 200 and ping.json()["code"] == "SUCCESS"
    assert charges(app) == 0


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_http_errors_with_a_count(payu: tuple[FastAPI, str], client: httpx.AsyncClient, status: int) -> None:
    app, base = payu
    await set_faults(client, base, rule({"type": "http_error", "status": status}, count=1))
    first = await client.post(base + PAYMENTS_PATH, json=card_request(ref()))
    second = await client.post(base + PAYMENTS_PATH, json=card_request(ref()))
    assert (first.status_code, second.status_code) == (status, 200)
    assert charges(app) == 1


async def test_fail_then_succeed(payu: tuple[FastAPI, str], client: httpx.AsyncClient) -> None:
    app, base = payu
    await set_faults(client, base, rule({"type": "fail_then_succeed", "times": 2, "status": 502}))
    body = card_request(ref())
    statuses = [(await client.post(base + PAYMENTS_PATH, json=body)).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert charges(app) == 1


async def test_rate_limited_with_retry_after(payu: tuple[FastAPI, str], client: httpx.AsyncClient) -> None:
    app, base = payu
    await set_faults(client, base, rule({"type": "rate_limited", "retry_after": 7}))
    response = await client.post(base + PAYMENTS_PATH, json=card_request(ref()))
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert charges(app) == 0


async def test_latency(payu: tuple[FastAPI, str], client: httpx.AsyncClient) -> None:
    _app, base = payu
    await set_faults(client, base, rule({"type": "latency", "ms": 300}))
    started = time.perf_counter()
    response = await client.post(base + PAYMENTS_PATH, json=card_request(ref()))
    assert response.json()["code"] == "SUCCESS"
    assert time.perf_counter() - started >= 0.3


async def test_hang_outlasts_the_client_timeout(payu: tuple[FastAPI, str], client: httpx.AsyncClient) -> None:
    app, base = payu
    await set_faults(client, base, rule({"type": "hang", "seconds": 5}))
    with pytest.raises(httpx.ReadTimeout):
        await client.post(base + PAYMENTS_PATH, json=card_request(ref()), timeout=0.3)
    assert charges(app) == 0


async def test_connection_reset(payu: tuple[FastAPI, str], client: httpx.AsyncClient) -> None:
    app, base = payu
    await set_faults(client, base, rule({"type": "connection_reset"}))
    with pytest.raises(httpx.TransportError):
        await client.post(base + PAYMENTS_PATH, json=card_request(ref()))
    assert charges(app) == 0


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
async def test_damaged_bodies_after_a_real_charge(
    payu: tuple[FastAPI, str], client: httpx.AsyncClient, kind: str
) -> None:
    # The charge happens and only the answer is damaged: the core must find out via the queries API.
    app, base = payu
    await set_faults(client, base, rule({"type": kind}))
    reference = ref()
    response = await client.post(base + PAYMENTS_PATH, json=card_request(reference))
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert charges(app) == 1
    lookup = await client.post(
        base + QUERIES_PATH, json=command("ORDER_DETAIL_BY_REFERENCE_CODE", details={"referenceCode": reference})
    )
    assert lookup.json()["result"]["payload"][0]["status"] == "CAPTURED"


async def test_faults_given_at_start_up_and_scoped_to_the_queries_url(
    live_server: Callable[[Any], str], client: httpx.AsyncClient
) -> None:
    plan = FaultPlan((FaultRule(HttpError(500), path=QUERIES_PATH),))
    base = live_server(create_app(PayUConfig(faults=plan)))
    assert (await client.post(base + QUERIES_PATH, json=command("PING"))).status_code == 500
    assert (await client.post(base + PAYMENTS_PATH, json=command("PING"))).status_code == 200
    snapshot = (await client.get(f"{base}/__admin/faults")).json()
    assert snapshot["applied"] == [1]
    assert (await client.delete(f"{base}/__admin/faults")).status_code == 200
    assert (await client.post(base + QUERIES_PATH, json=command("PING"))).status_code == 200


async def test_faulted_requests_are_journaled(payu: tuple[FastAPI, str], client: httpx.AsyncClient) -> None:
    _app, base = payu
    await set_faults(client, base, rule({"type": "http_error", "status": 503}, count=1))
    await client.post(base + PAYMENTS_PATH, json=card_request(ref()))
    entries = (await client.get(f"{base}/__admin/journal", params={"kind": "request"})).json()["entries"]
    assert entries[-1]["status"] == 503 and entries[-1]["fault"] == "http_error"
