"""Hostile inputs for fuzzing the simulators' public APIs, and the property every answer must keep.

Most requests start from a valid, signed body and change one thing in it (a leaf replaced by a hostile
value, a key dropped, a node replaced by the wrong type), so the fuzzing reaches the checks behind the
signature and the credentials; the rest are bytes no JSON encoder writes.

Budget: ``HYPOTHESIS_PROFILE=thorough`` (or ``PAYHARNESS_SIM_FUZZ_EXAMPLES=<n>``) raises the examples
per test from the default, which keeps all simulator fuzzing well under a minute on two cores.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_DEFAULT = {"thorough": 1500, "ci": 120}.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 120)
EXAMPLES = int(os.environ.get("PAYHARNESS_SIM_FUZZ_EXAMPLES", _DEFAULT))

# One live server per test serves every example; state piling up between examples is part of the fuzzing.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The endpoints that move money reach the most checks, so they get three times the examples.
FUZZ_RICH = settings(FUZZ, max_examples=3 * EXAMPLES)

HOSTILE_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "ok\ud83d",
    "\u202e0005",
    "\ufeff65000",
    "²",
    "²²",
    "٣٣",
    "６５０００",
    "1e3",
    "1E+30",
    "-0",
    "-1",
    "0",
    "65_000",
    " 65000 ",
    "65000.001",
    "NaN",
    "Infinity",
    "9" * 30,
    "9" * 5000,
    "a" * 300,
    "a" * 5000,
    "%00",
    "../../etc/passwd",
    "'; DROP TABLE x;--",
    "2020-01-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00",
    "not-a-date",
    "2030/13",
    "0000/00",
    "XYZ",
    "cop",
    "COP",
    "USD",
    "APPROVED",
    "PENDING",
    "\r\nX-Injected: 1",
)

HOSTILE_NUMBERS = (
    0,
    -1,
    1,
    2**31,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    10**27,
    10**30,
    10**400,
    1.5,
    0.1,
    1e308,
    5e-324,
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    False,
    None,
)

RAW_BODIES = (
    b"",
    b"\x00",
    b"\xff\xfe",
    b"null",
    b"[]",
    b"{}",
    b'"text"',
    b"1",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"command": "PING"',
    b'{"amount": NaN}',
    b"{'single': 1}",
    '{"command": "PING"}'.encode("utf-16"),
    b'{"x": "\xc3\x28"}',
    b'{"x": "\xed\xa0\x80"}',
    b'{"x": 1' + b"0" * 5000 + b"}",
    b"<?xml version='1.0'?><request/>",
    b'{"x": "\\ud800"}',
)


_INTERESTING = re.compile(r"value|amount|currency|date|expir|time|number|installments|phone|cvc|securityCode", re.I)


def hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.sampled_from(HOSTILE_NUMBERS),
        st.integers(min_value=10**9, max_value=10**40),
        st.decimals(allow_nan=False, allow_infinity=False, places=3, max_value=10**15, min_value=-(10**3)).map(str),
        st.text(max_size=20),
        st.integers(),
        st.just([]),
        st.just({}),
        st.lists(st.sampled_from(HOSTILE_TEXT), max_size=3),
    )


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def numeric_extremes() -> st.SearchStrategy[Any]:
    """Numbers around the limits a gateway keeps: any digit count up to 40, as number or as text."""
    big = st.builds(lambda digits, lead: lead * 10**digits, st.integers(0, 40), st.integers(1, 9))
    fraction = st.builds(lambda n, places: f"{n}.{'1' * places}", st.integers(0, 10**6), st.integers(1, 5))
    return st.one_of(big, big.map(str), big.map(lambda n: -n), fraction, st.sampled_from(HOSTILE_NUMBERS))


def _replacement(original: Any) -> st.SearchStrategy[Any]:
    numeric = isinstance(original, int | float) or (isinstance(original, str) and original.isdigit())
    return st.one_of(numeric_extremes(), numeric_extremes(), hostile_scalars()) if numeric else hostile_scalars()


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with one to three nodes replaced by hostile values, or leaves dropped."""
    copy = json.loads(json.dumps(body))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(copy)
        if not paths:
            break
        # Most changes land on a field where gateways keep their limits (amounts, currencies, dates).
        keen = [p for p in paths if _INTERESTING.search(str(p[-1]))]
        prefer_keen = bool(keen) and draw(st.integers(0, 3)) > 0
        path = draw(st.sampled_from(keen if prefer_keen else paths))
        parent: Any = copy
        for step in path[:-1]:
            parent = parent[step]
        original = parent[path[-1]]
        leaf = not isinstance(original, dict | list)
        if isinstance(parent, dict) and leaf and not draw(st.integers(0, 5)):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_replacement(original))
    return dict(copy)


def encode(body: Any) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity as bare tokens, surrogates as escapes."""
    return json.dumps(body, allow_nan=True).encode()


def hostile_path_text() -> st.SearchStrategy[str]:
    """A path segment: hostile text, percent-encoded so that it reaches the route as written."""
    return st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(min_size=1, max_size=30)).map(
        lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="") or "%20"
    )


def journaled_status(app: Any, since: int) -> int:
    """The status the journal recorded for the one request made after ``since`` (polled: the journal
    entry is written just after the last byte of the answer leaves)."""
    deadline = time.monotonic() + 2
    while True:
        entries = app.state.sim.journal.entries("request", since=since)
        if entries or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    assert len(entries) == 1, entries
    return int(entries[0]["status"])


def settle(app: Any, requests: int) -> None:
    """Wait until the journal holds ``requests`` request entries (made before fuzzing starts), so that
    each fuzzed request's entry is the only new one."""
    deadline = time.monotonic() + 2
    while len(app.state.sim.journal.entries("request")) < requests and time.monotonic() < deadline:
        time.sleep(0.005)


def last_seq(app: Any) -> int:
    entries = app.state.sim.journal.entries("request")
    return int(entries[-1]["seq"]) if entries else 0


def send(
    client: httpx.Client,
    app: Any,
    method: str,
    path: str,
    *,
    content: bytes | None = None,
    headers: dict[str, Any] | None = None,
    shape: Callable[[httpx.Response], None],
) -> httpx.Response:
    """Send one request and hold its answer to the property: no 5xx, the gateway's error shape on a
    refusal (``shape`` asserts it), and the journal records exactly the status that was sent."""
    since = last_seq(app)
    response = client.request(method, path, content=content, headers=headers)
    what = f"{method} {path} {content[:200] if content else b''!r}"
    assert response.status_code < 500, f"{response.status_code} for {what}: {response.text[:300]}"
    shape(response)
    assert journaled_status(app, since) == response.status_code, what
    return response
