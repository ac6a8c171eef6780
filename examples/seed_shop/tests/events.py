"""Signed Wompi events for the shop's tests, made with the simulator's signer (not the shop's own code)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

from simulators.wompi.signing import event_checksum

PROPERTIES = ["transaction.id", "transaction.status", "transaction.amount_in_cents"]


def wompi_event(*, tx_id: str, reference: str, status: str, amount_in_cents: int, secret: str,
                timestamp: int | None = None, **unsigned: Any) -> bytes:
    """A ``transaction.updated`` body signed with ``secret``; ``unsigned`` fields go into the transaction."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    data = {"transaction": {"id": tx_id, "amount_in_cents": amount_in_cents, "reference": reference,
                            "currency": "COP", "payment_method_type": "CARD", "status": status, **unsigned}}
    body = {"event": "transaction.updated", "data": data, "environment": "test",
            "signature": {"properties": PROPERTIES, "checksum": event_checksum(data, PROPERTIES, timestamp, secret)},
            "timestamp": timestamp, "sent_at": "2026-12-04T08:00:00.000Z"}
    return json.dumps(body).encode()


async def post_all_at_once(url: str, body: bytes, copies: int) -> list[int]:
    """POST ``body`` ``copies`` times over as many connections opened first, then written in one burst, so
    the requests reach the server together (an HTTP client connecting one by one spreads them out)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    streams = [await asyncio.open_connection(host, port) for _ in range(copies)]
    for _, writer in streams:
        writer.write(request)
    await asyncio.gather(*(writer.drain() for _, writer in streams))

    async def status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        line = await reader.readline()
        await reader.read()
        writer.close()
        await writer.wait_closed()
        return int(line.split()[1])

    return list(await asyncio.gather(*(status(r, w) for r, w in streams)))
