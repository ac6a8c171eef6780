"""Requests on which a webhook's fast path (core/app.py, ``CoreApp``) could part from FastAPI's whole stack.

Each case found a difference: a ``root_path`` (``uvicorn --root-path``, or the core mounted in another app) that
makes the route's own path another than ``scope["path"]``; middleware added, or a handler changed, after the
app had started with a webhook; a dependency on a webhook's router that the plain route would never run.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.app import _plain
from core.errors import Unauthorized
from core.tests.apikit import make_settings, running_core, signed_wompi_event
from core.tests.test_webhook_fast_path import DOWN, JSON, _answer, _through_fastapi

BAD_SIGNATURE = signed_wompi_event(signature={
    "checksum": "0" * 64, "properties": ["transaction.id", "transaction.status", "transaction.amount_in_cents"]})


def _with_root_path(app: ASGIApp, root_path: str) -> ASGIApp:
    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        scope["root_path"] = root_path  # as uvicorn --root-path, or a Mount, would set it
        await app(scope, receive, send)
    return asgi


async def _ask(app: ASGIApp, method: str, path: str, body: bytes = b"") -> tuple[int, str | None, str | None, str]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://core.test") as client:
        return _answer(await client.request(method, path, content=body, headers=JSON))


@pytest.mark.parametrize(("root_path", "path"), [
    ("/webhooks", "/webhooks/wompi"),        # the route's path is /wompi: no such route
    ("/webhooks/wompi", "/webhooks/wompi"),  # the route's path is empty
    ("/api", "/api/webhooks/wompi"),         # uvicorn --root-path /api: the webhook
    ("/api", "/webhooks/wompi"),             # a proxy that strips the prefix itself: the webhook
])
async def test_a_root_path_routes_a_webhook_post_as_fastapi_does(root_path: str, path: str) -> None:
    async with running_core(make_settings(DOWN)) as core:
        fast = await _ask(_with_root_path(core.app, root_path), "POST", path, signed_wompi_event())
        full = await _ask(_with_root_path(_through_fastapi(core.app), root_path), "POST", path, signed_wompi_event())
    assert fast == full


async def test_the_core_mounted_at_webhooks_does_not_serve_its_webhook_at_the_mount_itself() -> None:
    async with running_core(make_settings(DOWN)) as core:
        parent = Starlette(routes=[Mount("/webhooks", app=core.app)])
        answer = await _ask(parent, "POST", "/webhooks/wompi", signed_wompi_event())  # the core's /wompi
    assert answer[0] == 404


class _Tagged:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-tagged", b"1")]}
            await send(message)
        await self.app(scope, receive, tagged)


async def test_middleware_cannot_be_added_once_a_webhook_has_started_the_app() -> None:
    async with running_core(make_settings(DOWN)) as core:
        await core.client.post("/webhooks/wompi", content=signed_wompi_event(), headers=JSON)
        # Starlette refuses this after any other first request; accepted, it would guard all but the webhooks.
        with pytest.raises(RuntimeError, match="after an application has started"):
            core.app.add_middleware(_Tagged)


async def test_a_handler_added_after_start_is_ignored_by_both_stacks_alike() -> None:
    async def teapot(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": {"code": "teapot", "message": "added late"}}, status_code=418)

    async with running_core(make_settings(DOWN)) as core:
        await core.client.get("/webhooks/wompi")  # the app starts on an API request: Starlette builds its stack
        core.app.add_exception_handler(Unauthorized, teapot)  # Starlette lets this through, and ignores it
        fast = await _ask(core.app, "POST", "/webhooks/wompi", BAD_SIGNATURE)
        full = await _ask(_through_fastapi(core.app), "POST", "/webhooks/wompi", BAD_SIGNATURE)
    assert fast == full
    assert fast[0] == 401


def test_a_webhook_whose_router_has_a_dependency_is_not_made_plain() -> None:
    def allowlisted(request: Request) -> None:  # e.g. a gateway's IP allowlist, added to the webhooks' router
        raise AssertionError("a guard")

    router = APIRouter(dependencies=[Depends(allowlisted)])

    @router.post("/webhooks/x")
    async def x_event(request: Request) -> JSONResponse:
        return JSONResponse({})

    with pytest.raises(TypeError, match="dependenc"):
        _plain(router.routes[0])  # type: ignore[arg-type]


