"""Test kit for the core's API: settings, a fake of the three gateways on httpx.MockTransport, a running app.

The app runs in process (``httpx.ASGITransport``) with its real lifespan, against the test's own Postgres
database; the gateways are an injected ``httpx.AsyncClient`` whose transport is ``FakeGateways``, which
counts every call so tests can prove "one charge".

Usage::

    async with running_core(make_settings(database.url), FakeGateways()) as core:
        order = await core.create_order("buyer-1", "65000.00")
        r = await core.client.post("/payments/process", json=..., headers=core.auth("buyer-1"))
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import httpx

from core.app import create_app
from core.auth import mint_token
from core.settings import Settings
from core.signing.wompi import event_checksum

PAYU_URL = "http://payu.test"
WOMPI_URL = "http://wompi.test/v1"
EFECTY_URL = "http://efecty.test"
CONVENIO = "110634"
# Every secret the core is configured with; a test asserts none of them ever leaves the API.
SECRETS = {
    "payu_api_key": "payu-api-key-SECRET-4Vj8eK4rloUd",
    "payu_api_login": "payu-login-SECRET-pRRXKOl8",
    "payu_webhook_secret": "payu-webhook-SECRET-7d1c",
    "wompi_private_key": "prv_test_SECRET_wompi_private_9f2",
    "wompi_integrity": "test_integrity_SECRET_c31a",
    "wompi_events": "test_events_SECRET_a77b",
    "efecty_api_key": "efecty_test_key_SECRET_55e0",
    "token_secret": "token-secret-SECRET-0123456789abcdef0123",
}


def make_settings(db_url: str, **overrides: Any) -> Settings:
    """Complete settings for a test core; ``overrides`` replace whole groups or top-level fields."""
    values: dict[str, Any] = {
        "db": {"url": db_url, "pool_size": 5, "max_overflow": 5},
        "payu": {
            "base_url": PAYU_URL,
            "merchant_id": "508029",
            "account_id": "512321",
            "api_login": SECRETS["payu_api_login"],
            "api_key": SECRETS["payu_api_key"],
            "webhook_secret": SECRETS["payu_webhook_secret"],
        },
        "wompi": {
            "base_url": WOMPI_URL,
            "public_key": "pub_test_core_public_key",
            "private_key": SECRETS["wompi_private_key"],
            "integrity_secret": SECRETS["wompi_integrity"],
            "events_secret": SECRETS["wompi_events"],
        },
        "efecty": {"base_url": EFECTY_URL, "api_key": SECRETS["efecty_api_key"], "convenio": CONVENIO},
        "auth": {"token_secret": SECRETS["token_secret"]},
        # Fast, deterministic resilience: one attempt, no waits.
        "resilience": {"attempts": 1, "initial_delay": 0.0, "breaker_failures": 3, "breaker_reset_seconds": 60},
        "limits": {"payments_per_buyer": "1000/minute", "payments_per_ip": "1000/minute",
                   "orders_per_buyer": "1000/minute", "orders_per_ip": "1000/minute",
                   "reads_per_buyer": "1000/minute", "reads_per_ip": "1000/minute",
                   "auth_failures_per_ip": "1000/minute"},
        "gateway_timeout_seconds": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


def _json(status: int, payload: Any) -> httpx.Response:
    return httpx.Response(status, json=payload)


@dataclass
class FakeGateways:
    """PayU, Wompi and Efecty, just enough for the API: outcomes are attributes a test sets."""

    wompi_status: str = "APPROVED"  # what POST /v1/transactions answers
    payu_state: str = "APPROVED"
    wompi_amount_in_cents: int | None = None  # report another amount than asked (None: echo the request)
    wompi_status_message: str | None = None  # echoed in the created transaction's status_message
    fail: set[str] = field(default_factory=set)  # operations answering 500: "banks", "create", "payu", ...
    unreachable: set[str] = field(default_factory=set)  # operations raising a connect error
    create_gate: asyncio.Event | None = None  # when set, POST /v1/transactions waits for it
    asobancaria: dict[date, str] = field(default_factory=dict)
    voucher_status: dict[str, str] = field(default_factory=dict)  # code → PENDING|PAID|EXPIRED
    # Charges the gateway made, by reference, as its lookup by reference lists them (Wompi: the transaction;
    # PayU: the transactionResponse). A create answering 500 made none, unless its op is in ``fail_after_create``.
    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_after_create: set[str] = field(default_factory=set)  # "create" / "payu_submit": charge, then 500
    calls: Counter[str] = field(default_factory=Counter)
    requests: list[httpx.Request] = field(default_factory=list)

    async def wait_for(self, op: str) -> None:
        """Until ``op`` has been called at least once (bounded: fails the test after two seconds)."""
        for _ in range(200):
            if self.calls[op]:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{op} was never called")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def _check(self, op: str) -> httpx.Response | None:
        self.calls[op] += 1
        if op in self.unreachable:
            raise httpx.ConnectError("connection refused")
        if op in self.fail:
            return _json(500, {"error": "boom"})
        return None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url.startswith(WOMPI_URL):
            return await self._wompi(request, url[len(WOMPI_URL) :])
        if url.startswith(PAYU_URL):
            return self._payu(request)
        if url.startswith(EFECTY_URL):
            return self._efecty(request, url[len(EFECTY_URL) :])
        raise AssertionError(f"unexpected request {request.method} {url}")

    async def _wompi(self, request: httpx.Request, path: str) -> httpx.Response:
        if path.startswith("/merchants/"):
            return self._check("acceptance") or _json(
                200,
                {
                    "data": {
                        "presigned_acceptance": {"acceptance_token": "acc-token-1", "permalink": "https://x/terms.pdf"},
                        "presigned_personal_data_auth": {"acceptance_token": "personal-token-1", "permalink": None},
                    }
                },
            )
        if path == "/pse/financial_institutions":
            return self._check("banks") or _json(
                200,
                {
                    "data": [
                        {"financial_institution_code": "1", "financial_institution_name": "Banco que aprueba"},
                        {"financial_institution_code": "2", "financial_institution_name": "Banco que declina"},
                        {"financial_institution_code": "1007", "financial_institution_name": "Bancolombia"},
                    ],
                    "meta": {},
                },
            )
        if path.startswith("/transactions?") and request.method == "GET":
            failed = self._check("find")
            reference = request.url.params["reference"]
            found = [self.created[reference]] if reference in self.created else []
            return failed or _json(200, {"data": found})
        if path == "/transactions" and request.method == "POST":
            failed = self._check("create")
            if self.create_gate is not None:
                await self.create_gate.wait()
            if failed:
                return failed
            body = json.loads(request.content)
            method = body["payment_method"]
            extra = {"async_payment_url": "https://bank.test/pse/123"} if method["type"] == "PSE" else {}
            cents = self.wompi_amount_in_cents or body["amount_in_cents"]
            tx = {
                "id": f"wompi-{self.calls['create']}",
                "reference": body["reference"],
                "amount_in_cents": cents,
                "currency": body["currency"],
                "status": self.wompi_status,
                "status_message": self.wompi_status_message,
                "payment_method_type": method["type"],
                "customer_email": body["customer_email"],
                "payment_method": {"type": method["type"], "extra": extra},
            }
            self.created[body["reference"]] = tx
            if "create" in self.fail_after_create:
                return _json(503, {"error": {"type": "SERVICE_UNAVAILABLE"}})
            return _json(201, {"data": tx})
        raise AssertionError(f"unexpected Wompi call {request.method} {path}")

    def _payu(self, request: httpx.Request) -> httpx.Response:
        command = json.loads(request.content)["command"]
        if command == "PING":
            return self._check("payu_ping") or _json(200, {"code": "SUCCESS", "error": None})
        if command == "SUBMIT_TRANSACTION":
            failed = self._check("payu_submit")
            if failed:
                return failed
            order = json.loads(request.content)["transaction"]["order"]
            response = {
                "orderId": 1400449660,
                "transactionId": f"payu-tx-{self.calls['payu_submit']}",
                "state": self.payu_state,
                "responseCode": self.payu_state,
                "operationDate": 1624461913704,
                "responseMessage": "ok",
                "extraParameters": {},
                "additionalInfo": {},
            }
            self.created[order["referenceCode"]] = response
            if "payu_submit" in self.fail_after_create:
                return _json(503, {"error": "boom"})
            return _json(200, {"code": "SUCCESS", "error": None, "transactionResponse": response})
        if command == "ORDER_DETAIL_BY_REFERENCE_CODE":
            failed = self._check("payu_query")
            reference = json.loads(request.content)["details"]["referenceCode"]
            if failed:
                return failed
            orders = []
            if reference in self.created:
                response = self.created[reference]
                orders.append({
                    "id": response["orderId"],
                    "referenceCode": reference,
                    "status": "CAPTURED",
                    "transactions": [{"id": response["transactionId"], "type": "AUTHORIZATION_AND_CAPTURE",
                                      "transactionResponse": response}],
                })
            return _json(200, {"code": "SUCCESS", "error": None, "result": {"payload": orders or None}})
        raise AssertionError(f"unexpected PayU command {command}")

    def _efecty(self, request: httpx.Request, path: str) -> httpx.Response:
        if path == "/api/v1/vouchers" and request.method == "POST":
            failed = self._check("voucher")
            if failed:
                return failed
            body = json.loads(request.content)
            self.voucher_status.setdefault(body["payment_code"], "PENDING")
            return _json(201, {"voucher": {**body, "status": "PENDING", "created_at": "2025-01-01T00:00:00Z"}})
        if path.startswith("/api/v1/vouchers/"):
            code = unquote(path.rsplit("/", 1)[1])
            failed = self._check("get_voucher")
            if failed:
                return failed
            if code not in self.voucher_status:
                return _json(404, {"error": {"code": "NOT_FOUND", "message": "no such voucher"}})
            return _json(
                200,
                {
                    "voucher": {
                        "payment_code": code,
                        "amount": "1000.00",
                        "currency": "COP",
                        "status": self.voucher_status[code],
                        "reference": "x",
                    }
                },
            )
        if path.startswith("/api/v1/reconciliation/") and path.endswith("/asobancaria"):
            failed = self._check("asobancaria")
            day = date.fromisoformat(path.split("/")[4])
            return failed or httpx.Response(200, text=self.asobancaria.get(day) or asobancaria_file(day, []))
        raise AssertionError(f"unexpected Efecty call {request.method} {path}")


def _pad(line: str) -> str:
    assert len(line) <= 162, line
    return line.ljust(162)


def asobancaria_file(day: date, payments: list[tuple[str, Decimal]]) -> str:
    """An Asobancaria 2001 file for ``day`` with one batch holding ``(payment_code, amount)`` lines."""
    stamp = day.strftime("%Y%m%d")
    lines = [
        _pad("01" + "9001234567" + stamp + "007" + "0" * 17 + stamp + "2359" + "A" + "01"),
        _pad("05" + "7709998001234" + "0001"),
    ]
    total = 0
    for sequence, (code, amount) in enumerate(payments, start=1):
        cents = int(amount * 100)
        total += cents
        lines.append(
            _pad(
                "06"
                + code.rjust(48, "0")
                + str(cents).zfill(14)
                + "01"
                + "01"
                + str(sequence).zfill(6)
                + "A"
                + str(sequence).zfill(5)
                + "000"
                + "0001"
                + str(sequence).zfill(7)
                + "000"
            )
        )
    lines.append(_pad("08" + str(len(payments)).zfill(9) + str(total).zfill(18) + "0001"))
    lines.append(_pad("09" + str(len(payments)).zfill(9) + str(total).zfill(18)))
    return "\n".join(lines) + "\n"


@dataclass
class Core:
    """A running core and an HTTP client to it."""

    app: Any
    client: httpx.AsyncClient
    settings: Settings
    gateways: FakeGateways

    def token(self, subject: str, role: str = "buyer", ttl: int | None = None) -> str:
        return mint_token(self.settings.auth, subject, role, ttl)

    def auth(self, subject: str, role: str = "buyer", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, role)}", **extra}

    async def create_order(self, buyer: str, amount: str | int = "65000.00") -> dict[str, Any]:
        response = await self.client.post(
            "/orders", json={"amount": amount, "currency": "COP"}, headers=self.auth(buyer)
        )
        assert response.status_code == 201, response.text
        return response.json()


@asynccontextmanager
async def running_core(
    settings: Settings, gateways: FakeGateways | None = None, client_ip: str = "203.0.113.7"
) -> AsyncIterator[Core]:
    """The core with its lifespan entered, gateways faked, reachable in process."""
    gateways = gateways or FakeGateways()
    app = create_app(settings, http=gateways.client())
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: an unhandled error must reach the test as the 500 a client would see.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(client_ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://core.test") as client:
            yield Core(app, client, settings, gateways)


def signed_wompi_event(**change: Any) -> bytes:
    """A Wompi ``transaction.updated`` event signed with the test core's events secret, timestamped now, with
    ``change`` set over its top-level fields afterwards (e.g. a forged ``signature``)."""
    event: dict[str, Any] = {
        "event": "transaction.updated",
        "data": {"transaction": {"id": "12345-1700000000-00001", "status": "APPROVED", "amount_in_cents": 6500000,
                                 "currency": "COP", "reference": "ORD-1"}},
        "signature": {"properties": ["transaction.id", "transaction.status", "transaction.amount_in_cents"]},
        "timestamp": int(time.time()),
    }
    event["signature"]["checksum"] = event_checksum(event, SECRETS["wompi_events"])
    event.update(change)
    return json.dumps(event).encode()
