"""HTTP clients for the suites: one shared TLS context, because building httpx's default one costs ~50 ms each.

The stack is plain HTTP on 127.0.0.1, but every ``httpx.AsyncClient()`` still loads the CA bundle into a
new SSL context; tests that open a few clients per step spent most of their time there.

Usage::

    async with client(base_url=live.urls["core"]) as core: ...
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

TLS = ssl.create_default_context()


def client(**kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (timeout 10 s unless given) sharing the suites' TLS context."""
    return httpx.AsyncClient(verify=TLS, **{"timeout": 10, **kwargs})


def sync_client(**kwargs: Any) -> httpx.Client:
    """The blocking twin, for code that runs outside an event loop (the stateful machine)."""
    return httpx.Client(verify=TLS, **{"timeout": 10, **kwargs})
