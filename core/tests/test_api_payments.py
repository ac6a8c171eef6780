"""``GET /payments/config`` never carries a secret; ``GET /payments/methods`` caches banks and falls back."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from core.app import create_app
from core.tests.apikit import SECRETS, FakeGateways, make_settings, running_core

NO_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # these endpoints never touch the database


@pytest.mark.scenario("API-CONFIG")
async def test_config_holds_public_identifiers_and_no_secret() -> None:
    async with running_core(make_settings(NO_DB)) as core:
        config = await core.client.get("/payments/config")
        openapi = await core.client.get("/openapi.json")
    assert config.status_code == 200
    body = config.json()
    assert body["wompi"] == {"public_key": "pub_test_core_public_key", "environment": "test"}
    assert body["payu"] == {"merchant_id": "508029", "account_id": "512321", "test": True}
    assert body["efecty"]["convenio"] == "110634"
    assert (body["min_amount"], body["max_amount"], body["environment"]) == ("1000.00", "50000000.00", "test")
    for name, secret in SECRETS.items():
        assert secret not in config.text, name
        assert secret not in openapi.text, name
    assert "SECRET" not in config.text


@pytest.mark.scenario("API-METHODS")
async def test_banks_come_from_wompi_then_from_the_cache() -> None:
    async with running_core(make_settings(NO_DB)) as core:
        first = await core.client.get("/payments/methods")
        second = await core.client.get("/payments/methods")
    assert first.json()["pse_banks_source"] == "wompi"
    assert second.json()["pse_banks_source"] == "cache"
    assert {"code": "1007", "name": "Bancolombia"} in first.json()["pse_banks"]
    assert second.json()["pse_banks"] == first.json()["pse_banks"]
    assert core.gateways.calls["banks"] == 1
    methods = {m["method"]: m for m in first.json()["methods"]}
    assert set(methods) == {"CARD", "NEQUI", "PSE", "EFECTY"} and methods["PSE"]["available"] is True


@pytest.mark.scenario("API-METHODS")
async def test_a_wompi_failure_serves_the_built_in_sandbox_list() -> None:
    async with running_core(make_settings(NO_DB), FakeGateways(fail={"banks"})) as core:
        r = await core.client.get("/payments/methods")
        again = await core.client.get("/payments/methods")
    assert r.status_code == 200
    assert r.json()["pse_banks_source"] == "fallback"
    assert [b["code"] for b in r.json()["pse_banks"]] == ["1", "2"]
    # The failure is remembered briefly: a Wompi outage is not hit again by every page view.
    assert again.json()["pse_banks_source"] == "fallback" and core.gateways.calls["banks"] == 1


async def test_with_production_keys_the_fallback_offers_no_invented_bank_codes() -> None:
    base = make_settings(NO_DB)
    wompi = {**base.wompi.model_dump(), "public_key": "pub_prod_core_public_key"}
    async with running_core(make_settings(NO_DB, wompi=wompi), FakeGateways(fail={"banks"})) as core:
        r = await core.client.get("/payments/methods")
    methods = {m["method"]: m for m in r.json()["methods"]}
    assert r.json()["pse_banks"] == [] and r.json()["pse_banks_source"] == "fallback"
    assert methods["PSE"]["available"] is False and methods["CARD"]["available"] is True


@pytest.mark.scenario("API-METHODS")
async def test_after_the_cache_period_a_failure_serves_the_last_good_list() -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(NO_DB, pse_banks_cache_seconds=0), gateways) as core:
        fresh = await core.client.get("/payments/methods")
        gateways.fail.add("banks")
        stale = await core.client.get("/payments/methods")
    assert fresh.json()["pse_banks_source"] == "wompi"
    assert stale.json()["pse_banks_source"] == "stale"
    assert stale.json()["pse_banks"] == fresh.json()["pse_banks"]
    assert gateways.calls["banks"] == 2


async def test_openapi_documents_every_endpoint() -> None:
    async with running_core(make_settings(NO_DB)) as core:
        spec = (await core.client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, method in [
        ("/orders", "post"),
        ("/orders/{order_id}", "get"),
        ("/payments/config", "get"),
        ("/payments/methods", "get"),
        ("/payments/process", "post"),
        ("/health", "get"),
        ("/admin/efecty/{code}/confirm", "post"),
        ("/admin/reconcile", "post"),
        ("/webhooks/wompi", "post"),
        ("/webhooks/payu", "post"),
    ]:
        operation = paths[path][method]
        assert operation["summary"], path
    process = paths["/payments/process"]["post"]
    assert {"400", "409", "429", "502", "503"} <= set(process["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in process["parameters"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_the_webhooks_are_served_by_plain_routes_ahead_of_fastapis() -> None:
    # FastAPI's routes document them (above); plain Starlette routes, tried first, serve them (core/app.py).
    app = create_app(make_settings(NO_DB))
    served = [(route.path, type(route)) for route in app.router.routes[:2] if isinstance(route, Route)]
    assert sorted(served) == [("/webhooks/payu", Route), ("/webhooks/wompi", Route)]
