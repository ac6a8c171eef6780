"""``GET /health``: 200 while the database answers (gateways may be degraded), 503 without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.tests.apikit import FakeGateways, make_settings, running_core

if TYPE_CHECKING:
    from conftest import Database


async def test_everything_up_is_ok_with_latencies(database: Database) -> None:
    async with running_core(make_settings(database.url)) as core:
        r = await core.client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "payu", "wompi", "efecty"}
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in body["checks"].values())
    # Efecty has no ping: a read of a voucher that cannot exist answering 404 proves it is up.
    assert core.gateways.calls["get_voucher"] == 1 and core.gateways.calls["payu_ping"] == 1


async def test_a_failing_gateway_degrades_but_does_not_fail_health(database: Database) -> None:
    gateways = FakeGateways(fail={"get_voucher"}, unreachable={"acceptance"})
    async with running_core(make_settings(database.url), gateways) as core:
        r = await core.client.get("/health")
        again = await core.client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "degraded"
    checks = r.json()["checks"]
    assert (checks["efecty"]["status"], checks["wompi"]["status"], checks["payu"]["status"]) == ("down", "down", "ok")
    assert checks["efecty"]["detail"] == "EfectyNetworkError"
    # Gateway results are reused for a few seconds: polling /health does not flood the gateways.
    assert again.json()["checks"]["efecty"] == checks["efecty"]
    assert gateways.calls["get_voucher"] == 1


async def test_without_a_database_health_is_503() -> None:
    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with running_core(settings) as core:
        r = await core.client.get("/health")
    assert r.status_code == 503
    assert r.json()["status"] == "down"
    assert r.json()["checks"]["database"]["status"] == "down"
    assert r.json()["checks"]["payu"]["status"] == "ok"
