"""Input rules of the API (issue 13): what Postgres cannot store is refused before any gateway call, amounts
match one published pattern, integers fit a bigint, and every 5xx carries a support reference."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api.schemas import InputModel
from core.app import create_app
from core.errors import CoreError, error_body
from core.gateways import errors as gateway_errors
from core.money import AMOUNT_PATTERN
from core.storable import BIGINT_MAX
from core.tests.apikit import FakeGateways, make_settings, running_core
from core.tests.test_api_process import card_body, key

if TYPE_CHECKING:
    from conftest import Database

NO_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
SUPPORT_REFERENCE = re.compile(r"SUP-[0-9A-F]{12}")
TABLES = ("orders", "order_transactions", "idempotency_keys", "efecty_payments", "payment_anomalies")
GATEWAY_CHARGES = ("create", "payu_submit", "voucher")


def _payment_bodies(order: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One valid body per method and gateway, every optional string field filled in."""
    payer = {"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "123456789", "dni_type": "CC"}
    return {
        "wompi_card": card_body(order, acceptance_token="acc-token-1"),
        "payu_card": card_body(order, gateway="payu", payer=payer, card={
            "number": "4037997623271984", "cvc": "321", "exp_month": 12, "exp_year": 2030, "holder": "APPROVED",
            "brand": "VISA", "device_session_id": "dev-session-1"}),
        "nequi": {**card_body(order, method="NEQUI", nequi_phone="3991111111"), "card": None},
        "pse": {**card_body(order, method="PSE", payer=payer, pse={
            "bank_code": "1", "user_type": 0, "legal_id_type": "CC", "legal_id": "123456789"}), "card": None},
    }


def _string_leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _string_leaves(item, (*path, name))
    elif isinstance(value, str):
        yield path


def _with(body: dict[str, Any], path: tuple[str, ...], text: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    node = copy
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] += text
    return copy


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


@pytest.mark.scenario("API-VALIDATION")
@pytest.mark.parametrize("poison", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
async def test_every_string_field_that_postgres_cannot_store_is_refused_before_any_gateway_call(
    database: Database, conn: asyncpg.Connection, poison: str
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        before = await _counts(conn)
        accepted = []
        for variant, body in _payment_bodies(order).items():
            for n, path in enumerate(_string_leaves(body)):
                # json.dumps writes the poison as a \u escape: what a client on the wire would send.
                raw = json.dumps(_with(body, path, poison)).encode()
                r = await core.client.post("/payments/process", content=raw, headers=core.auth(
                    "buyer-1", **{"Idempotency-Key": f"poison-{variant}-{n:03d}", "Content-Type": "application/json"}))
                if r.status_code != 422:
                    accepted.append((variant, ".".join(path), r.status_code))
        charged = {op: core.gateways.calls[op] for op in GATEWAY_CHARGES if core.gateways.calls[op]}
    assert accepted == [] and charged == {}
    assert await _counts(conn) == before


@pytest.mark.scenario("API-VALIDATION")
@pytest.mark.parametrize("order_id", [2**63, 2**64 + 5, 10**30], ids=["2^63", "2^64+5", "10^30"])
async def test_an_order_id_beyond_bigint_is_422_not_a_driver_overflow(
    database: Database, conn: asyncpg.Connection, order_id: int
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        r = await core.client.post("/payments/process", json={**card_body(order), "order_id": order_id},
                                   headers=core.auth("buyer-1", **key()))
    assert r.status_code == 422, r.text
    assert core.gateways.calls["create"] == 0
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0


@pytest.mark.scenario("API-VALIDATION")
@pytest.mark.parametrize(("method", "url", "role"), [
    ("POST", "/admin/efecty/%00/confirm", "admin"),
    ("POST", "/admin/efecty/EFE-1-%00AAAAA/confirm", "admin"),
    ("POST", "/admin/reconcile?date=2025-01-31%00", "admin"),
    ("GET", "/orders/1%00", "buyer"),
    ("GET", "/payments/config?x=%00", "buyer"),
])
async def test_a_nul_in_a_path_or_query_parameter_is_422(database: Database, method: str, url: str, role: str) -> None:
    async with running_core(make_settings(database.url)) as core:
        r = await core.client.request(method, url, headers=core.auth("someone", role))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"


@pytest.mark.scenario("API-VALIDATION")
@pytest.mark.parametrize("amount", [
    "1e3", "1E3", "+5000", "-0", "-5000", "65_000", " 65000", "65000 ", "65000\n", "65000.000", "65000.",
    ".50", "６５０００", "٦٥٠٠٠", "65,000", "0x10", "NaN", "Infinity", "", "12345678901234", 10**13, -65000, True,
    65000.0,
], ids=repr)
async def test_an_amount_outside_the_published_pattern_is_refused(
    database: Database, conn: asyncpg.Connection, amount: object
) -> None:
    async with running_core(make_settings(database.url)) as core:
        r = await core.client.post("/orders", json={"amount": amount, "currency": "COP"}, headers=core.auth("b-1"))
    assert r.status_code == 422, r.text
    assert await conn.fetchval("SELECT count(*) FROM orders") == 0


@pytest.mark.scenario("API-VALIDATION")
@pytest.mark.parametrize(("amount", "stored"), [("65000", "65000.00"), ("65000.5", "65000.50"),
                                                ("65000.55", "65000.55"), (65000, "65000.00")])
async def test_amounts_in_the_published_pattern_and_integers_are_accepted(
    database: Database, amount: object, stored: str
) -> None:
    async with running_core(make_settings(database.url)) as core:
        r = await core.client.post("/orders", json={"amount": amount, "currency": "COP"}, headers=core.auth("b-1"))
    assert (r.status_code, r.json()["amount"]) == (201, stored)


# -- the OpenAPI schema publishes the rules, for every request model and parameter --------------------


def _request_schemas(spec: dict[str, Any], *, headers: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) for every parameter and every request-body schema node, $refs resolved."""
    components = spec.get("components", {}).get("schemas", {})

    def walk(node: Any, where: str, seen: frozenset[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                yield from walk(components[name], f"{where}<{name}>", seen | {name})
            return
        yield where, node
        for name, child in node.get("properties", {}).items():
            yield from walk(child, f"{where}.{name}", seen)
        for combinator in ("anyOf", "oneOf", "allOf"):
            for child in node.get(combinator, []):
                yield from walk(child, where, seen)
        if "items" in node:
            yield from walk(node["items"], f"{where}[]", seen)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header" and not headers:
                    continue
                yield from walk(parameter["schema"], f"{method} {path} {parameter['name']}", frozenset())
            for media in operation.get("requestBody", {}).get("content", {}).values():
                yield from walk(media["schema"], f"{method} {path} body", frozenset())


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(make_settings(NO_DB)).openapi()


def test_every_integer_a_client_sends_is_bounded_within_bigint(openapi: dict[str, Any]) -> None:
    unbounded = [where for where, node in _request_schemas(openapi) if node.get("type") == "integer"
                 and not ("enum" in node or "const" in node or node.get("maximum", BIGINT_MAX + 1) <= BIGINT_MAX)]
    assert unbounded == []


def test_every_string_a_client_sends_has_a_length_limit(openapi: dict[str, Any]) -> None:
    # Headers are bounded by the server's cap on the request head (core.httpserver).
    unbounded = [where for where, node in _request_schemas(openapi, headers=False) if node.get("type") == "string"
                 and not ("enum" in node or "const" in node or "maxLength" in node or node.get("format") == "date")]
    # The amount's pattern bounds it (at most 16 characters).
    assert [w for w in unbounded if not w.endswith(".amount")] == []


def test_the_amount_pattern_is_published_on_every_amount_a_client_sends(openapi: dict[str, Any]) -> None:
    patterns = {node["pattern"] for where, node in _request_schemas(openapi)
                if where.endswith(".amount") and node.get("type") == "string"}
    assert patterns == {AMOUNT_PATTERN}


def _api_routes() -> list[APIRoute]:
    """The API's routes as the app factory finds them: every ``router`` under core.api."""
    import core.api

    routes = []
    for info in pkgutil.iter_modules(core.api.__path__):
        router = getattr(importlib.import_module(f"core.api.{info.name}"), "router", None)
        routes += [r for r in getattr(router, "routes", []) if isinstance(r, APIRoute)]
    return routes


def test_every_request_body_is_an_input_model() -> None:
    bodies = {route.path: param.field_info.annotation for route in _api_routes()
              for param in route.dependant.body_params}
    assert len(bodies) >= 2, "request bodies not found: the walk is broken"
    assert {p: b for p, b in bodies.items() if not (isinstance(b, type) and issubclass(b, InputModel))} == {}


# -- every 5xx carries a support reference --------------------------------------------------------------


def _subclasses(cls: type) -> list[type]:
    found, direct = [cls], list[type](cls.__subclasses__())
    for sub in direct:
        found += _subclasses(sub)
    return found


def _failures() -> dict[str, Any]:
    """Every way a route can end in a 5xx: each class of the error trees, and answers built by hand."""
    cases: dict[str, Any] = {}
    for cls in _subclasses(CoreError):
        for status in (500, 502, 503):
            error = cls("boom", "a failure")
            error.status = status
            cases[f"{cls.__name__}-{status}"] = error
    for cls in _subclasses(gateway_errors.GatewayError):
        if cls is gateway_errors.CircuitOpenError:
            cases[cls.__name__] = cls("wompi", reopens_in=1.0)
        else:  # every other class takes the message first
            cases[cls.__name__] = cls("a gateway failed")
    for status in (500, 502, 503):
        cases[f"HTTPException-{status}"] = StarletteHTTPException(status, "boom")
    cases["RuntimeError"] = RuntimeError("a bug")
    cases["stored-answer"] = JSONResponse(error_body("payment_outcome_unknown", "replayed"), 502)
    cases["plain-text"] = PlainTextResponse("Internal Server Error", 500)
    cases["status-document"] = JSONResponse({"status": "down"}, 503)
    return cases


async def test_every_5xx_carries_a_support_reference() -> None:
    app = create_app(make_settings(NO_DB))
    cases = _failures()

    async def fail(name: str) -> Any:
        outcome = cases[name]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    app.add_api_route("/__fail/{name}", fail)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    missing = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://core.test") as client:
        for name in cases:
            r = await client.get(f"/__fail/{name}")
            if r.status_code < 500:
                continue
            body = r.json()
            reference = (body.get("error") or body).get("support_reference")
            if not (isinstance(reference, str) and SUPPORT_REFERENCE.fullmatch(reference)):
                missing[name] = r.text
    assert missing == {}
    assert len(cases) > 50  # the walk over the trees found them


@pytest.mark.scenario("API-ERRORS-SANITIZED")
async def test_a_stored_502_replays_with_the_support_reference_of_the_first_answer(database: Database) -> None:
    gateways = FakeGateways(fail={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        headers = core.auth("buyer-1", **key())
        first = await core.client.post("/payments/process", json=card_body(order), headers=headers)
        retry = await core.client.post("/payments/process", json=card_body(order), headers=headers)
    assert first.status_code == retry.status_code == 502
    reference = first.json()["error"]["support_reference"]
    assert SUPPORT_REFERENCE.fullmatch(reference)
    assert retry.json()["error"]["support_reference"] == reference


async def test_health_down_carries_a_support_reference() -> None:
    async with running_core(make_settings(NO_DB)) as core:
        r = await core.client.get("/health")
    assert r.status_code == 503
    assert SUPPORT_REFERENCE.fullmatch(r.json()["support_reference"])


# -- deep nesting ------------------------------------------------------------------------------------


@pytest.mark.scenario("API-MALFORMED")
@pytest.mark.parametrize("shape", ["array", "object", "in-a-field"])
async def test_thirty_thousand_deep_json_is_a_4xx_on_every_api_route_that_takes_a_body(shape: str) -> None:
    depth = 30_000
    body = {"array": b"[" * depth + b"]" * depth, "object": b'{"a":' * depth + b"1" + b"}" * depth,
            "in-a-field": b'{"amount": ' + b"[" * depth + b"]" * depth + b"}"}[shape]
    async with running_core(make_settings(NO_DB, limits={"max_body_bytes": 1_000_000})) as core:
        routes = [r for r in _api_routes() if r.dependant.body_params]
        answers = {}
        for route in routes:
            r = await core.client.post(route.path, content=body, headers=core.auth(
                "b-1", **{"Content-Type": "application/json", "Idempotency-Key": "deep-nesting-1"}))
            answers[route.path] = r.status_code
    assert len(answers) >= 2
    assert {p: s for p, s in answers.items() if not 400 <= s < 500} == {}


@pytest.mark.scenario("API-STORABLE-INPUT")
@pytest.mark.parametrize("day", ["0419-04-22", "1999-12-31", "2999-01-01"])
async def test_a_reconciliation_day_efecty_cannot_have_a_file_for_is_422_not_a_gateway_502(
    database: Database, day: str
) -> None:
    # Found by the hostile suite's schema fuzzing: year 419 reached Efecty, whose file then failed to parse.
    async with running_core(make_settings(database.url)) as core:
        r = await core.client.post(f"/admin/reconcile?date={day}", headers=core.auth("ops-1", "admin"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "date_out_of_range")
    assert core.gateways.calls["asobancaria"] == 0


@pytest.mark.scenario("API-MALFORMED")
@pytest.mark.parametrize(("shape", "says"), [
    ("deep-array", "nests too deeply"), ("deep-object", "nests too deeply"), ("deep-in-a-field", "nests too deeply"),
    ("not-utf8", "not UTF-8"), ("not-json", "not valid JSON"), ("truncated", "not valid JSON"),
])
async def test_every_malformed_json_body_is_the_same_422_and_writes_nothing(
    database: Database, conn: asyncpg.Connection, shape: str, says: str
) -> None:
    # Red before: FastAPI answered the deep and the non-UTF-8 bodies 400 "There was an error parsing the body",
    # the others 422 — one kind of mistake, two answers.
    depth = 30_000
    body = {"deep-array": b"[" * depth + b"]" * depth, "deep-object": b'{"a":' * depth + b"1" + b"}" * depth,
            "deep-in-a-field": b'{"amount": ' + b"[" * depth + b"]" * depth + b"}",
            "not-utf8": b'{"amount": "65000.00", "currency": "C\xffP"}', "not-json": b"amount=65000",
            "truncated": b'{"amount": "65000.00", "curr'}[shape]
    before = await _counts(conn)
    async with running_core(make_settings(database.url, limits={"max_body_bytes": 1_000_000})) as core:
        routes = [r for r in _api_routes() if r.dependant.body_params]
        answers = {}
        for route in routes:
            r = await core.client.post(re.sub(r"\{[^}]+\}", "1", route.path), content=body, headers=core.auth(
                "admin-1" if route.path.startswith("/admin") else "b-1",
                "admin" if route.path.startswith("/admin") else "buyer",
                **{"Content-Type": "application/json", "Idempotency-Key": "malformed-1"}))
            answers[route.path] = (r.status_code, r.json()["error"]["code"], r.json()["error"]["message"])
    assert len(answers) >= 2
    assert {p: a for p, a in answers.items() if a[:2] != (422, "malformed_json") or says not in a[2]} == {}
    assert await _counts(conn) == before
