"""The core's HTTP/1.1 protocol for uvicorn: httptools with a cap on the size of a request's head.

uvicorn caps a request head only with its pure-Python h11 parser (``h11_max_incomplete_event_size``);
with httptools, which the core uses for speed, a client can send megabytes of headers and the worker
reads, keeps and answers them all. This subclass refuses a head over ``MAX_HEAD_BYTES`` with 431 and
closes the connection before the app sees the request, in two places: while a head is still incomplete
(counting the bytes received, so a huge header is not buffered whole) and as each parsed piece of it
arrives (so a head that came in a single read is measured too).

Usage::

    uvicorn core.app:app_from_env --factory --http core.httpserver:HeadLimitedHttpToolsProtocol
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# h11's own default: ample for a bearer token, cookies and tracing headers; far below what hurts.
MAX_HEAD_BYTES = 16 * 1024
HTTP_PROTOCOL = "core.httpserver:HeadLimitedHttpToolsProtocol"

_BODY = json.dumps({"error": {"code": "request_header_fields_too_large",
                              "message": f"request line and headers over {MAX_HEAD_BYTES} bytes"}}).encode()
_ANSWER_431 = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
               b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY)


class _HeadTooLarge(Exception):
    """Raised inside a parser callback: httptools stops parsing, and uvicorn answers through send_400_response."""


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads over ``MAX_HEAD_BYTES`` with 431."""

    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0  # received while the head was incomplete
        self._head_parsed = 0  # the parsed request line and headers
        self._refused = False

    def _refuse(self) -> None:
        self._refused = True
        self.transport.write(_ANSWER_431)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        # Counted after parsing, so the bytes of a body that arrive with its head are never held against
        # the head; a head is thus read at most one socket read past the limit. (A pipelined read that ends
        # one request and starts the next counts wholly against the next head: an overcount, never an under.)
        if self._reading_head and not self._refused:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse()

    def send_400_response(self, msg: str) -> None:
        if self._head_parsed > self.max_head_bytes:
            if not self._refused:
                self._refuse()
            return
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head, self._head_bytes, self._head_parsed = True, 0, 0

    def on_url(self, url: bytes) -> None:
        self._head_parsed += len(url)
        if self._head_parsed > self.max_head_bytes:
            raise _HeadTooLarge
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_parsed += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_parsed > self.max_head_bytes:
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Not counting again until the next message begins: the rest of this read was this message's body.
        self._reading_head = False


# uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise, so any client on the core's own host
# (or behind a proxy that passes the header through) chooses the address the per-IP limit counts and PayU's
# anti-fraud receives. The core trusts no proxy unless this variable names them (IPs or networks, commas).
TRUSTED_PROXIES_ENV = "PAYHARNESS_TRUSTED_PROXIES"


def trusted_proxies(env: dict[str, str]) -> str:
    """The proxies whose X-Forwarded-For the core believes; empty: none."""
    return ",".join(p.strip() for p in env.get(TRUSTED_PROXIES_ENV, "").split(",") if p.strip())


def proxy_argv(env: dict[str, str]) -> list[str]:
    """uvicorn's command-line options for forwarded headers (see ``trusted_proxies``)."""
    trusted = trusted_proxies(env)
    return ["--proxy-headers", "--forwarded-allow-ips", trusted] if trusted else ["--no-proxy-headers"]
