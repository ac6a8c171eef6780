"""Pure ASGI middleware for the core: a request body limit that also holds for chunked bodies, a guard on
the URL's path and query, and the last word on every 5xx (a sanitized body with a support reference).

Pure ASGI rather than BaseHTTPMiddleware: the webhook path is the hot path, and this costs one
buffered read of a small body. The body is read up to the limit before the app sees it, so an
oversize request is refused with 413 before any handler (or the database) is touched.

Usage::

    app = BodyLimitMiddleware(app, max_bytes=65536)
    app = UrlGuardMiddleware(app)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.storable import unstorable

_METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}


async def _send_413(send: Send, max_bytes: int) -> None:
    body = json.dumps({"error": {"code": "payload_too_large", "message": f"request body over {max_bytes} bytes"}})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body.encode()})


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413, whether announced by Content-Length or streamed chunked."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS_WITH_BODY:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await _send_413(send, self.max_bytes)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_413(send, self.max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class UrlGuardMiddleware:
    """Refuse with 422 a path or query string that decodes to text Postgres cannot store (``%00``).

    Path and query parameters are decoded before any route sees them, so one check here covers every
    parameter of every route, present and future; request bodies are checked by ``InputModel``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Decoded as Starlette decodes them: the server has unquoted the path; the query is latin-1 text
            # whose %-escapes Starlette's parser unquotes as UTF-8 (invalid bytes become U+FFFD, storable).
            for part, text in (("path", scope["path"]), ("query", unquote(scope["query_string"].decode("latin-1")))):
                problem = unstorable(text)
                if problem is not None:
                    body = json.dumps({"error": {"code": "validation_error", "message": "the request is not valid",
                                                 "fields": [{"loc": [part], "msg": f"the {part} {problem}"}]}})
                    await _send_json(send, 422, body.encode())
                    return
        await self.app(scope, receive, send)


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _with_support_reference(body: bytes, scope: Scope) -> bytes:
    """A 5xx body that carries a support reference: the body as it was when it has one, else one added."""
    from core.errors import error_body, log, new_support_reference

    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("support_reference"):
        return body
    if isinstance(data, dict) and "error" not in data and data.get("support_reference"):
        return body
    reference = new_support_reference()
    log.error("a 5xx left %s %s without a support reference; added %s", scope["method"], scope["path"], reference)
    if isinstance(error, dict):
        error["support_reference"] = reference
    elif isinstance(data, dict) and "error" not in data:
        data["support_reference"] = reference  # a status document, e.g. /health's 503
    else:
        data = error_body("internal_error", "internal error; quote the support reference",
                          support_reference=reference)
    return json.dumps(data).encode()


class UnexpectedErrorMiddleware:
    """Turn an unexpected exception into a sanitized 500 with a support reference, and keep the connection.

    Starlette's catch-all handler answers and then re-raises, and uvicorn closes the connection when
    an app raises after answering: a gateway or load balancer reusing that keep-alive connection sees a
    reset instead of the 500. Catching here answers and ends the request normally. The reference is in
    the log line with the traceback, so support can find it; the client gets nothing else.

    It also holds back every other 5xx answer until its body is complete and adds a support reference
    when the code that answered gave none: the README promises one on every 5xx, and a promise kept by
    each raise site is broken by the next one written.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        held: Message | None = None  # the start of a 5xx, sent once its body is known
        chunks: list[bytes] = []

        async def tracking_send(message: Message) -> None:
            nonlocal started, held
            if message["type"] == "http.response.start" and message["status"] >= 500:
                held = message
                return
            if message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = _with_support_reference(b"".join(chunks), scope)
                headers = [(k, v) for k, v in held.get("headers", []) if k.lower() not in (b"content-length",
                                                                                            b"content-type")]
                headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                start, held = {**held, "headers": headers}, None
                started = True
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            from core.errors import error_body, log, new_support_reference

            reference = new_support_reference()
            log.error("unhandled error %s on %s %s", reference, scope["method"], scope["path"], exc_info=exc)
            if started:
                raise  # half a response is out; only closing the connection is honest now
            body = json.dumps(error_body("internal_error", "internal error; quote the support reference",
                                         support_reference=reference)).encode()
            await _send_json(send, 500, body)
