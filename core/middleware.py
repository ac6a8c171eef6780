"""Pure ASGI middleware for the core: a request body limit that also holds for chunked bodies.

Pure ASGI rather than BaseHTTPMiddleware: the webhook path is the hot path, and this costs one
buffered read of a small body. The body is read up to the limit before the app sees it, so an
oversize request is refused with 413 before any handler (or the database) is touched.

Usage::

    app = BodyLimitMiddleware(app, max_bytes=65536)
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class UnexpectedErrorMiddleware:
    """Turn an unexpected exception into a sanitized 500 with a support reference, and keep the connection.

    Starlette's catch-all handler answers and then re-raises, and uvicorn closes the connection when
    an app raises after answering: a gateway or load balancer reusing that keep-alive connection sees a
    reset instead of the 500. Catching here answers and ends the request normally. The reference is in
    the log line with the traceback, so support can find it; the client gets nothing else.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
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
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
