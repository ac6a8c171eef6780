"""Hostile values a schema cannot describe, as Hypothesis strategies: what an attacker's client really sends.

A schema-driven fuzzer produces valid JSON of the wrong shape; these produce what JSON Schema has no word
for: NUL and lone surrogates (written as ``\\ud800`` escapes, as a client on the wire would), bytes that
are not UTF-8, bidi controls, 30,000-deep nesting, integers past 64 bits, NaN and Infinity tokens, amounts
in exponent or non-ASCII digits, very long headers and the wrong content type.

Usage::

    @given(request=hostile_request(ENDPOINTS["orders"], context))
    def test_x(request: Request) -> None: ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

DEPTH = 30_000

HOSTILE_TEXT = (
    "\x00", "a\x00b", "\ud800", "\udfff", "ok\ud83d", "\u202e0005", "\u2066x\u2069", "\u200f", "\ufeff65000",
    "1e3", "1E+3", "+5000", "-0", "65_000", " 65000 ", "65000\n", "65000.000", "６５０００", "٦٥٠٠٠", "६५०००",
    "NaN", "Infinity", "-Infinity", "0x10", "9" * 400, "a" * 5000, "\\u0000", "%00", "'; DROP TABLE orders;--",
    "{{7*7}}", "../../etc/passwd", "\r\nX-Injected: 1",
)

# Bodies no JSON encoder writes: invalid UTF-8, surrogates encoded as bytes, deep nesting, numbers JSON
# does not have, a number of 5,000 digits (past Python's int-parsing limit), UTF-16, nothing at all.
RAW_BODIES = (
    b"\xff\xfe", b'{"amount": "\xc3\x28"}', b'{"amount": "\xed\xa0\x80"}', b'{"customer_email": "a\x00@b.co"}',
    b"[" * DEPTH + b"]" * DEPTH, b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    b'{"amount": ' + b"[" * DEPTH + b"]" * DEPTH + b"}", b'{"amount": NaN}', b'{"amount": Infinity}',
    b'{"amount": -Infinity}', b'{"amount": 1e999}', b'{"order_id": 1' + b"0" * 5000 + b"}", b"\x00", b"",
    '{"amount": "65000"}'.encode("utf-16"), b'{"amount": "65000"', b"null", b"[]", b'"just a string"',
    b'{"amount": "65000", "amount": "1"}',
)

CONTENT_TYPES = (
    "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=utf-16", "application/xml", "application/json; charset=latin-1", None,
)

HEAD_LIMIT = 16 * 1024  # the core's cap on a request head (core.httpserver), restated from outside


def hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Nd", "Zs"]), max_size=12),
        st.sampled_from([2**63, 2**64 + 1, -(2**63) - 1, 10**30, -1, 0, float("nan"), float("inf"),
                         float("-inf"), -0.0, 1e308, 5e-324, 0.1, True, None]),
        st.integers(),
        st.floats(),
    )


def hostile_values() -> st.SearchStrategy[Any]:
    """A scalar, or a small container of them (a list where a string goes, an object where a number does)."""
    return st.recursive(hostile_scalars(), lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(["\x00", "\ud800", "a", "amount"]), inner, max_size=3),
                        max_leaves=6)


# NUL first and twice: it is what Postgres refuses and what got through before (issue 13).
POISONS = ("\x00", "\x00\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\u0660")


@st.composite
def poisoned(draw: st.DrawFn, original: Any) -> Any:
    """The valid value with a poison spliced in (a string), or a hostile value in its place: the first
    keeps every other check passing, so what the poison reaches is what the core does with it."""
    if isinstance(original, str) and draw(st.sampled_from([True, True, True, False])):
        at = draw(st.integers(0, len(original)))
        return original[:at] + draw(st.sampled_from(POISONS)) + original[at:]
    return draw(hostile_values())


def json_bytes(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity as tokens, lone surrogates as \\u escapes."""
    return json.dumps(value, allow_nan=True).encode()


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))]
    return [path]


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], new)
    return copy


@dataclass(frozen=True)
class Endpoint:
    """One route as the hostile suite attacks it: a valid request to start from."""

    method: str
    path: str  # with {param} where a path parameter goes
    role: str | None  # "buyer", "admin" or None (public or a gateway's)
    body: dict[str, Any] | None = None  # a valid JSON body, or a form for form=True
    form: bool = False
    params: dict[str, str] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    url: str  # path and query, already encoded
    content: bytes
    headers: dict[str, bytes]

    @property
    def head_bytes(self) -> int:
        return len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())


def _path(endpoint: Endpoint, path_params: dict[str, str], params: dict[str, str]) -> str:
    path = endpoint.path
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", quote(value.encode("utf-8", "surrogatepass"), safe=""))
    query = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in params.items()})
    return path + (f"?{query}" if query else "")


@st.composite
def hostile_request(draw: st.DrawFn, endpoint: Endpoint, headers: dict[str, str]) -> Request:
    """A request to ``endpoint`` with one hostile part: a body field, the body, a path or query parameter,
    the content type, or a header. ``headers`` are the valid ones (authorization, idempotency key)."""
    path_params, params = dict(endpoint.path_params), dict(endpoint.params)
    body: bytes = b""
    if endpoint.body is not None:
        body = urlencode(endpoint.body).encode() if endpoint.form else json_bytes(endpoint.body)
    content_type: str | None = "application/x-www-form-urlencoded" if endpoint.form else "application/json"
    sent = {k: v.encode("latin-1") for k, v in headers.items()}
    # A body's fields are most of what a client controls: half the draws go there.
    attacks = ["field"] * 4 if endpoint.body is not None else []
    attack = draw(st.sampled_from([*attacks, "raw", "path", "content-type", "header"]))
    if attack == "field" and endpoint.body is not None:
        # A form's root is not a value: only its fields can be hostile there.
        targets = [p for p in _leaf_paths(endpoint.body) if p or not endpoint.form]
        target = draw(st.sampled_from(targets))
        original: Any = endpoint.body
        for name in target:
            original = original[name]
        hostile = _replaced(endpoint.body, target, draw(poisoned(original)))
        if endpoint.form:
            fields = {k: v if isinstance(v, str) else json.dumps(v, allow_nan=True) for k, v in hostile.items()}
            body = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}).encode()
        else:
            body = json_bytes(hostile)
    elif attack == "raw" and endpoint.method == "POST":
        body = draw(st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=64)))
    elif attack == "path" and (path_params or params or endpoint.method == "GET"):
        text: str = draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(st.characters(codec=None), max_size=8)))
        if path_params:
            path_params[draw(st.sampled_from(sorted(path_params)))] = text
        else:
            params[draw(st.sampled_from(sorted(params) or ["q"]))] = text
    elif attack == "content-type":
        content_type = draw(st.sampled_from(CONTENT_TYPES))
    elif attack == "header":
        name = draw(st.sampled_from(["x-padding", "user-agent", "idempotency-key", "x-event-checksum",
                                     "authorization"]))
        size = draw(st.sampled_from([1, 200, HEAD_LIMIT - 1024, HEAD_LIMIT + 1024, 64 * 1024]))
        filler = draw(st.sampled_from([b"a", b"\xe2\x80\xae", b"\xff", b"\x80", b"9"]))
        sent[name] = (filler * size)[:size]
    if content_type is not None:
        sent["content-type"] = content_type.encode()
    return Request(endpoint.method, _path(endpoint, path_params, params), body, sent)
