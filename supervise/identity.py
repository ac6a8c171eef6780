"""The child side of a supervised service: the socket its parent bound, and the answer that proves who it is."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

FD_ENV = "PAYHARNESS_LISTEN_FD"  # descriptor of a listening TCP socket, inherited from the parent
TOKEN_ENV = "PAYHARNESS_SERVICE_TOKEN"  # noqa: S105 - a variable name; the parent's random token; readiness accepts only this answer
IDENTITY_PATH = "/__payharness/identity"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def inherited_socket(env: MutableMapping[str, str] | None = None) -> socket.socket | None:
    """The listening socket named by ``PAYHARNESS_LISTEN_FD``, or None when the parent passed none.

    ``socket.socket(fileno=…)`` reads family and protocol off the descriptor (uvicorn's ``--fd`` would
    call it AF_UNIX, and asyncio then skips TCP_NODELAY on every accepted connection).
    """
    value = (os.environ if env is None else env).get(FD_ENV)
    if not value:
        return None
    sock = socket.socket(fileno=int(value))
    sock.set_inheritable(True)  # uvicorn's worker processes get it too
    return sock


class IdentityMiddleware:
    """Answers ``GET /__payharness/identity`` with the service token; every other request goes to the app.

    Usage: ``app = IdentityMiddleware(app, token=os.environ[TOKEN_ENV])``.
    """

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == IDENTITY_PATH:
            headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(self.token)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": self.token})
            return
        await self.app(scope, receive, send)


def with_identity(app: Any) -> Any:
    """``app`` wrapped in ``IdentityMiddleware`` when the parent gave a token; ``app`` itself otherwise."""
    token = os.environ.get(TOKEN_ENV)
    return IdentityMiddleware(app, token=token) if token else app
