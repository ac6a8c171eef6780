"""Pure-ASGI middleware: fault injection and request journaling, cheap enough for load tests."""

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from simulators.common.faults import (
    ConnectionReset,
    FailThenSucceed,
    FaultInjector,
    Hang,
    HttpError,
    Malformed,
    RateLimited,
    Truncated,
)
from simulators.common.journal import Journal
from simulators.common.jsonbody import parse_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class InjectedConnectionReset(ConnectionResetError):
    """Raised when a reset is injected but no socket is reachable (in-process ASGI transports)."""


def fault_middleware(app: ASGIApp, injector: FaultInjector, *, exempt_prefix: str = "/__admin") -> ASGIApp:
    """Wrap ``app`` so requests suffer the injector's active plan (admin routes are exempt).

    Usage: ``fastapi_app.add_middleware(fault_middleware, injector=sim.injector)``.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not injector.active or scope["path"].startswith(exempt_prefix):
            await app(scope, receive, send)
            return
        command = None
        if injector.needs_body:
            body, receive = await _buffer_body(receive)
            command = _command_of(body)
        latency_ms, fault = injector.pick(scope["method"], scope["path"], command)
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        if fault is None:
            await app(scope, receive, send)
            return
        scope.setdefault("state", {})["fault"] = fault.type_tag
        if isinstance(fault, HttpError | FailThenSucceed):
            await _send_json(send, fault.status, "INJECTED_FAULT", f"injected HTTP {fault.status}")
        elif isinstance(fault, RateLimited):
            await _send_json(
                send,
                429,
                "RATE_LIMITED",
                "too many requests",
                [(b"retry-after", str(fault.retry_after).encode())],
            )
        elif isinstance(fault, Hang):
            if not await _wait_for_disconnect(receive, fault.seconds):
                await _send_json(send, 504, "INJECTED_HANG", "request held past its deadline")
        elif isinstance(fault, ConnectionReset):
            await _reset(send)
        elif isinstance(fault, Malformed | Truncated):
            await _damaged(app, scope, receive, send, truncate=isinstance(fault, Truncated))

    return middleware


def journal_middleware(app: ASGIApp, journal: Journal, *, exempt_prefix: str = "/__admin") -> ASGIApp:
    """Record every non-admin request (method, path, status) in the journal, faults and crashes included.

    The status is the one the client gets: an unhandled exception is journaled as the 500 that the
    framework answers with, and 0 means no answer was sent at all (an injected connection reset).

    A handler adds a parsed summary of a money-moving call with
    ``request.state.journal_summary = {"command": ..., "reference": ..., "amount": "65000"}``.
    Usage: ``fastapi_app.add_middleware(journal_middleware, journal=sim.journal)`` (added last, so it
    sits outside the fault middleware and sees injected statuses).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(exempt_prefix):
            await app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_status)
        except InjectedConnectionReset:
            raise  # no answer was sent: status stays 0, as with a reset on a real socket
        except Exception:
            # Starlette's outermost error middleware turns the crash into a 500 after this one has
            # returned, so the status it will send is recorded here; a client counting 5xx sees it.
            if status == 0:
                status = 500
            raise
        finally:
            fields: dict[str, Any] = {"method": scope["method"], "path": scope["path"], "status": status}
            if "fault" in state:
                fields["fault"] = state["fault"]
            if "journal_summary" in state:
                fields["summary"] = state["journal_summary"]
            journal.record("request", **fields)

    return middleware


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _command_of(body: bytes) -> str | None:
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        data = parse_json(body)
    except ValueError:
        return None
    command = data.get("command") if isinstance(data, dict) else None
    return command if isinstance(command, str) else None


async def _send_json(
    send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _wait_for_disconnect(receive: Receive, seconds: float) -> bool:
    """Sleep up to ``seconds``, returning early (True) when the client hangs up."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return True
    except TimeoutError:
        return False


def _find_transport(send: Any, depth: int = 0) -> Any:
    """The asyncio transport behind ``send``, looking through the wrappers frameworks add.

    uvicorn's ``send`` is a bound method of its request cycle, which holds the transport; Starlette
    and FastAPI wrap it in closures. Walking bound-method owners and closure cells is the only way to
    hang up from inside ASGI without owning the server.
    """
    if send is None or depth > 12:
        return None
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        return transport
    for cell in getattr(send, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:  # empty cell
            continue
        if callable(content):
            found = _find_transport(content, depth + 1)
            if found is not None:
                return found
    return None


async def _reset(send: Send) -> None:
    transport = _find_transport(send)
    if transport is None:
        raise InjectedConnectionReset("injected connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0 turns the close into an RST instead of an orderly FIN.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let connection_lost run so the server sees a disconnect instead of a missing response.
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def _damaged(app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, truncate: bool) -> None:
    start: Message | None = None
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    body = b"".join(chunks)
    # Prefixing a stray quote breaks any JSON document while keeping the real content readable.
    damaged = body[: len(body) // 2] if truncate else b'{"' + body
    status = start["status"] if start is not None else 500
    headers = [(k, v) for k, v in (start or {}).get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(damaged)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": damaged})
