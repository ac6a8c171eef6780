"""A webhook POST skips FastAPI's own layers (core/app.py, ``CoreApp``), and answers exactly as through them.

Each request goes to one app twice: as served (the fast path) and through FastAPI's whole stack, called directly.
The answers must be the same — status, content type, Retry-After and the body, support references aside (each
answer draws its own) — for every guard and handler a webhook meets: the body limit, a bad signature, a malformed
body, the database out of reach, an unexpected error, another method.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from core.app import CoreApp
from core.tests.apikit import make_settings, running_core, signed_wompi_event

DOWN = "postgresql+asyncpg://nobody@127.0.0.1:9/payharness"  # nothing listens: the database is out of reach


JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
# (name, method, path, body, headers)
CASES: list[tuple[str, str, str, bytes, dict[str, str]]] = [
    ("signed, database down", "POST", "/webhooks/wompi", signed_wompi_event(), JSON),
    ("bad signature", "POST", "/webhooks/wompi", signed_wompi_event(signature={
        "checksum": "0" * 64, "properties": ["transaction.id", "transaction.status", "transaction.amount_in_cents"]}),
     JSON),
    ("malformed JSON", "POST", "/webhooks/wompi", b'{"event": ', JSON),
    ("duplicate key", "POST", "/webhooks/wompi", b'{"event": "a", "event": "b"}', JSON),
    ("body over the limit", "POST", "/webhooks/wompi", b"{" + b" " * 70_000 + b"}", JSON),
    ("PayU, unsigned", "POST", "/webhooks/payu", b"reference_sale=R-1&state_pol=4", FORM),
    ("PayU, not a form", "POST", "/webhooks/payu", b"\xff\xfe", FORM),
    ("another method", "GET", "/webhooks/wompi", b"", {}),
]


def _through_fastapi(app: FastAPI) -> ASGIApp:
    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(app, scope, receive, send)  # the whole stack, never CoreApp's fast path
    return asgi


def _answer(response: httpx.Response) -> tuple[int, str | None, str | None, str]:
    body = re.sub(r"SUP-[0-9A-Za-z-]+", "SUP-…", response.text)
    return response.status_code, response.headers.get("content-type"), response.headers.get("retry-after"), body


async def _both(settings_url: str, method: str, path: str, body: bytes, headers: dict[str, str],
                patch: Callable[[], None] | None = None) -> tuple[Any, Any]:
    if patch is not None:
        patch()
    async with running_core(make_settings(settings_url)) as core:
        answers = []
        for asgi in (core.app, _through_fastapi(core.app)):
            transport = httpx.ASGITransport(app=asgi, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://core.test") as client:
                answers.append(_answer(await client.request(method, path, content=body, headers=headers)))
    return answers[0], answers[1]


@pytest.mark.parametrize(("name", "method", "path", "body", "headers"), CASES, ids=[c[0] for c in CASES])
async def test_a_webhook_answers_the_same_on_the_fast_path_as_through_fastapi(
        name: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
    fast, full = await _both(DOWN, method, path, body, headers)
    assert fast == full
    assert fast[0] >= 400  # each case is refused or unanswerable: the guards and handlers spoke


async def test_an_unexpected_error_is_the_same_sanitized_500_on_both(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.webhooks import wompi

    async def breaks(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    fast, full = await _both(DOWN, "POST", "/webhooks/wompi", signed_wompi_event(), JSON,
                             patch=lambda: monkeypatch.setattr(wompi, "record_and_apply", breaks))
    assert fast == full
    assert fast[0] == 500 and "SUP-…" in fast[3] and "a bug" not in fast[3]


async def test_a_webhook_post_does_not_enter_fastapis_stack_and_the_api_does() -> None:
    entered: list[str] = []
    async with running_core(make_settings(DOWN)) as core:
        app = core.app
        assert isinstance(app, CoreApp)
        stack = app.build_middleware_stack()

        async def counting(scope: Scope, receive: Receive, send: Send) -> None:
            entered.append(scope["path"])
            await stack(scope, receive, send)

        app.middleware_stack = counting
        await core.client.post("/webhooks/wompi", content=signed_wompi_event(), headers=JSON)
        await core.client.post("/webhooks/payu", content=b"reference_sale=R-1", headers=FORM)
        await core.client.get("/webhooks/wompi")
        await core.client.get("/health")
    assert entered == ["/webhooks/wompi", "/health"]  # the GET and the API only
