"""The shop's app factory: routes, the database and gateway clients in the lifespan, errors, body limit.

Usage: ``app = create_app(Settings.from_env())``, served by uvicorn (``python -m examples.seed_shop --port 8000``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.seed_shop.app.api import payments, webhooks
from examples.seed_shop.app.config import Settings
from examples.seed_shop.app.database import create_schema, make_engine
from examples.seed_shop.app.models import build_tables
from examples.seed_shop.app.reconcile import reconcile_forever
from examples.seed_shop.app.services.efecty_service import EfectyService
from examples.seed_shop.app.services.payu_service import PayUService
from examples.seed_shop.app.services.wompi_service import WompiService

logger = logging.getLogger("seed_shop")
CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "payload_too_large", 422: "validation_error", 429: "rate_limited",
         502: "gateway_error", 503: "unavailable"}


def create_app(settings: Settings) -> FastAPI:
    """The shop, weak or hardened as ``settings.hardened`` says."""
    tables = build_tables(settings.hardened)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        await create_schema(engine, tables)
        async with httpx.AsyncClient(timeout=10) as http:
            app.state.engine = engine
            app.state.wompi = WompiService(settings, http)
            app.state.payu = PayUService(settings, http)
            app.state.efecty = EfectyService(settings, http)
            reconciler = None
            if settings.hardened:
                # Fix for seed S15: pending Efecty vouchers are read back on a schedule and paid ones pay their order.
                reconciler = asyncio.create_task(reconcile_forever(app.state, settings.efecty_reconcile_seconds))
            # Weak: seed S15, cash paid at an Efecty counter waits for someone to confirm it by hand.
            try:
                yield
            finally:
                if reconciler is not None:
                    reconciler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reconciler
        await engine.dispose()

    app = FastAPI(title="seed shop", debug=settings.debug, lifespan=lifespan)  # seed S13: debug tracebacks (weak)
    app.state.settings = settings
    app.state.tables = tables
    app.include_router(payments.router)
    app.include_router(webhooks.router)

    @app.get("/health")
    async def health(request: Request) -> dict[str, str]:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ok", "mode": "hardened" if settings.hardened else "weak"}

    @app.get("/api/config")
    async def public_config() -> dict[str, str]:
        return {"wompi_public_key": settings.wompi_public_key}  # never a private key

    if settings.hardened:
        _install_error_shape(app)
        app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    # Weak: seed S10, no request size limit.
    return app


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)


def _install_error_shape(app: FastAPI) -> None:
    """Fix for seed S13: every error is JSON ``{"error": {"code", "message", ...}}``; no traceback leaves."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if isinstance(exc.detail, dict):
            detail = dict(exc.detail)
            return _error(exc.status_code, str(detail.pop("code")), str(detail.pop("message", "")), headers, **detail)
        return _error(exc.status_code, CODES.get(exc.status_code, "error"), str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": str(e.get("type"))}
                  for e in exc.errors()]
        return _error(422, "validation_error", "The request is not valid", fields=fields)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        reference = f"SUP-{uuid.uuid4().hex[:12]}"
        logger.error("unhandled error %s", reference, exc_info=exc)
        return _error(500, "internal_error", "Internal error", support_reference=reference)


class BodyLimit:
    """Fix for seed S10: a body over ``limit`` bytes is answered 413 before any route reads it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error(413, "payload_too_large", f"Body over {self.limit} bytes")(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:  # a chunked body has no Content-Length: count what arrives
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await _error(413, "payload_too_large", f"Body over {self.limit} bytes")(scope, receive, send)
                return
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
