"""Gateway faults for the suites: fault plans on the simulators, what reached them, and calm breakers afterwards.

The core keeps one circuit breaker per gateway *per uvicorn worker*, and a TCP connection is served by one
worker for its whole life. A test that counts retries or opens a breaker therefore talks to the core over
one kept-alive connection (``pinned_core``): every request lands in the same worker, so the breaker the
test drives is the breaker that answers. ``calm_breakers`` closes that worker's breakers again afterwards.

Usage::

    await put_faults(live, "wompi", rule({"type": "http_error", "status": 503}, path=WOMPI_TRANSACTIONS))
    async with pinned_core(live) as core:
        ...
    assert len(await requests(live, "wompi", path=WOMPI_TRANSACTIONS, method="POST")) == 3
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx

from suites.conftest import Live
from suites.support.api import Actor
from suites.support.core_target import CoreOnly
from suites.support.http import client
from suites.support.target import RESILIENCE

PAYU_PAYMENTS = "/payments-api/4.0/service.cgi"
PAYU_REPORTS = "/reports-api/4.0/service.cgi"
WOMPI_TRANSACTIONS = "/v1/transactions"
EFECTY_VOUCHERS = "/api/v1/vouchers"
SUBMIT = "SUBMIT_TRANSACTION"
LOOKUP = "ORDER_DETAIL_BY_REFERENCE_CODE"

# What a payer sends for each gateway's happy path (sandbox values that approve or stay pending).
PAYU_CARD = {
    "number": "4037997623271984",
    "cvc": "777",
    "exp_month": 5,
    "exp_year": 2030,
    "holder": "APPROVED",
    "brand": "VISA",
}
PAYU_PAYER = {"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "1020304050"}
NEQUI_APPROVES = "3991111111"


def rule(
    fault: dict[str, Any], *, path: str = "*", method: str = "*", count: int | None = None, command: str | None = None
) -> dict[str, Any]:
    """One fault rule as the simulators' admin API takes it."""
    out: dict[str, Any] = {"fault": fault, "path": path, "method": method}
    if count is not None:
        out["count"] = count
    if command is not None:
        out["match_command"] = command
    return out


async def put_faults(live: Live, gateway: str, *rules: dict[str, Any], seed: int = 7) -> None:
    async with client() as http:
        response = await http.put(f"{live.urls[gateway]}/__admin/faults", json={"seed": seed, "rules": list(rules)})
    response.raise_for_status()


async def clear_faults(live: Live, gateway: str) -> None:
    async with client() as http:
        (await http.delete(f"{live.urls[gateway]}/__admin/faults")).raise_for_status()


async def hold_webhooks(live: Live, gateway: str, seconds: float = 3600) -> None:
    """Hold the simulator's webhooks back ``seconds`` (simulated), so none reaches the core during the test."""
    plan = {"seed": 1, "rules": [{"chaos": {"type": "delay", "seconds": seconds}}]}
    async with client() as http:
        (await http.put(f"{live.urls[gateway]}/__admin/chaos", json=plan)).raise_for_status()


async def fired(live: Live, gateway: str) -> list[int]:
    """How many requests each rule of the current plan has hit, in plan order."""
    async with client() as http:
        response = await http.get(f"{live.urls[gateway]}/__admin/faults")
    response.raise_for_status()
    return list(response.json()["applied"])


async def requests(
    live: Live, gateway: str, *, path: str | None = None, method: str | None = None, command: str | None = None
) -> list[dict[str, Any]]:
    """The requests the simulator received (journal), optionally only those on ``path`` / ``method``.

    ``command`` keeps PayU calls of one command; PayU journals a summary (with the command) only for
    SUBMIT_TRANSACTION, so other commands are told apart by their path.
    """
    async with client() as http:
        response = await http.get(f"{live.urls[gateway]}/__admin/journal", params={"kind": "request"})
    response.raise_for_status()
    entries = [
        e
        for e in response.json()["entries"]
        if (path is None or e["path"] == path) and (method is None or e["method"] == method)
    ]
    if command is not None:
        entries = [e for e in entries if (e.get("summary") or {}).get("command") == command]
    return entries


async def hangs_cut_short(live: Live, gateway: str, *, budget: float = 10.0) -> list[int]:
    """The statuses the simulator journaled for its hung requests, once each of them has ended.

    0 means the caller hung up before the hang ran out (the simulator never answered); 504 means the caller
    waited the whole hang. This tells "abandoned at the client's timeout" from "waited out" without timing
    anything, so a slow machine cannot make it fail. An entry is journaled when its request ends, so this
    polls until one is there.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    while not (hung := [e for e in await requests(live, gateway) if e.get("fault") == "hang"]):
        if loop.time() > deadline:
            raise AssertionError(f"{gateway} journaled no hung request in {budget} s")
        await asyncio.sleep(0.05)
    return [int(e["status"]) for e in hung]


async def charges(live: Live, gateway: str) -> list[dict[str, Any]]:
    """Money-moving calls the gateway accepted: each is a charge (Wompi, PayU) or a registered voucher (Efecty)."""
    entries = await requests(live, gateway)
    if gateway == "efecty":
        return [e for e in entries if (e.get("summary") or {}).get("operation") == "register" and e["status"] == 201]
    return [e["summary"] for e in entries if (e.get("summary") or {}).get("transaction_id")]


async def wompi_by_reference(live: Live, reference: str) -> list[dict[str, Any]]:
    """Wompi's own answer to "which transactions carry this reference?" (private key)."""
    headers = {"authorization": f"Bearer {live.creds['wompi']['private_key']}"}
    async with client(base_url=live.urls["wompi"]) as http:
        response = await http.get("/v1/transactions", params={"reference": reference}, headers=headers)
    response.raise_for_status()
    return list(response.json()["data"])


async def acceptance_token(live: Live) -> str:
    """The merchant's current acceptance token, as the payer's browser fetches it before paying."""
    async with client(base_url=live.urls["wompi"]) as http:
        response = await http.get(f"/v1/merchants/{live.creds['wompi']['public_key']}")
    response.raise_for_status()
    return str(response.json()["data"]["presigned_acceptance"]["acceptance_token"])


@contextlib.asynccontextmanager
async def pinned_core(
    live: Live, *, calm: tuple[str, ...] = ("payu", "wompi", "efecty")
) -> AsyncIterator[httpx.AsyncClient]:
    """A client with one kept-alive connection to the core, so every request is served by one uvicorn worker.

    On the way out it closes that worker's breakers of the ``calm`` gateways (``calm_breakers``), so a
    test's failures never add up with the next test's.
    """
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=60)
    async with client(base_url=live.urls["core"], timeout=30, limits=limits) as http:
        try:
            yield http
        finally:
            await calm_breakers(http, live, gateways=calm)


# How each gateway's happy path is started through the core's profile (harness/target/core.toml), and the
# values the payer chooses: PayU's sandbox approves a card whose holder is APPROVED, Wompi's a Nequi phone.
HOW = {"payu": "payu", "wompi": "wompi.nequi", "wompi-card": "wompi", "efecty": "efecty"}
CHOSEN: dict[str, dict[str, str]] = {"payu": {"card_holder": "APPROVED"},
                                     "wompi.nequi": {"nequi_phone": NEQUI_APPROVES}}


async def pay(
    core: httpx.AsyncClient, live: Live, gateway: str, *, amount: str = "65000.00", key: str | None = None,
    how: str | None = None, acceptance_token: str | None = None, **values: str,
) -> tuple[Actor, dict[str, Any], httpx.Response]:
    """A fresh buyer, an order, and one payment attempt through ``gateway`` (card for PayU, Nequi for Wompi).

    Started through the core's profile (``Actor.pay``; ``how`` and ``values`` as there). An
    ``acceptance_token`` (the payer's, so the core skips its own merchant lookup) is a field of the core's own
    body that no profile template carries: that Nequi payment goes through ``CoreOnly.pay_in_core_shape``.
    """
    buyer = Actor.buyer(live)
    order = await buyer.create_order(amount)
    if acceptance_token is not None:
        response = await CoreOnly(live).pay_in_core_shape(
            core, buyer.headers, order["id"], amount, key=key or secrets.token_hex(8), method="NEQUI",
            nequi_phone=NEQUI_APPROVES, acceptance_token=acceptance_token)
        return buyer, order, response
    how = how or HOW[gateway]
    response = await buyer.pay(core, order["id"], amount, how, key=key, **{**CHOSEN.get(how, {}), **values})
    return buyer, order, response


# Requests each gateway refuses (4xx: "gateway alive") without creating anything that would later send the
# core a webhook: a PSE bank Wompi does not know, a card number failing PayU's Luhn check. Efecty has no
# webhook by default, so a plain voucher does.
_CALMING: dict[str, dict[str, str]] = {
    "wompi": {"how": "wompi.pse", "pse_bank": "999"},
    "payu": {"card_number": "4037997623271985"},
    "efecty": {},
}
_CALM = {"wompi": (422, "gateway_refused"), "payu": (422, "gateway_refused"), "efecty": (200, None)}


async def calm_breakers(
    core: httpx.AsyncClient,
    live: Live,
    *,
    gateways: tuple[str, ...] = ("payu", "wompi", "efecty"),
    budget: float | None = None,
) -> None:
    """Close the breakers of the worker behind ``core``: faults off, wait out an open breaker, one answer each.

    A 4xx proves the gateway alive just as a success does and resets the consecutive-failure count, so
    failures left by one test cannot add up with the next test's. Gives up after ``budget`` seconds
    (default: the breaker's cool-down plus four seconds, for a loaded machine).
    """
    for gateway in gateways:
        await clear_faults(live, gateway)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (budget or RESILIENCE.breaker_reset_seconds + 4)
    for gateway in gateways:
        extra = _CALMING[gateway]
        while True:
            _, _, response = await pay(core, live, gateway, key=secrets.token_hex(8), **extra)
            code = response.json().get("error", {}).get("code") if response.status_code != 200 else None
            if (response.status_code, code) == _CALM[gateway]:
                break
            if loop.time() > deadline:
                raise AssertionError(f"{gateway} breaker did not close: {response.status_code} {response.text}")
            await asyncio.sleep(0.1)


# What must never reach a buyer: exception names, library names, gateway addresses, secrets.
_INTERNALS = (
    "Traceback",
    "NetworkError",
    "httpx",
    "asyncpg",
    "127.0.0.1",
    "service.cgi",
    "/v1/",
    "prv_test_",
    "api_key",
    "apiKey",
)


def assert_clear_error(response: httpx.Response, status: int, code: str, live: Live) -> dict[str, Any]:
    """The buyer's answer is ``status`` with ``error.code == code``, a message, and nothing internal."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, response.text
    assert error["message"], response.text
    secrets_ = [v for group in live.creds.values() for k, v in group.items() if "key" in k or "secret" in k]
    for leak in (*_INTERNALS, *secrets_):
        assert leak not in response.text, f"{leak!r} leaked to the buyer: {response.text}"
    return dict(error)
