"""What the webhook path stores of bodies Postgres would refuse, and how it refuses bodies it cannot parse."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.db.models import RAW_PAYLOAD_MAX_BYTES
from core.errors import Unprocessable
from core.settings import LimitSettings
from core.webhooks import storable
from core.webhooks.wompi import parse_body

pytestmark = pytest.mark.scenario("WH-STORABLE-PAYLOAD")
ACTED_ON = {"id": "W1", "status": "APPROVED", "amount_in_cents": 5_000_000, "currency": "COP"}


def test_clean_text_and_payloads_are_kept_as_they_are() -> None:
    payload = {"data": {"transaction": {**ACTED_ON, "reference": "ORD-1"}}}
    assert storable.for_storage(payload, raw_sha256="d", acted_on=ACTED_ON) is payload
    assert storable.key("W1:APPROVED") == "W1:APPROVED"


def test_nul_and_lone_surrogates_are_written_out_in_keys_values_and_text() -> None:
    payload = {"a\x00": ["x\ud800y", {"k": "\x00"}], "n": 1}
    stored = storable.for_storage(payload, raw_sha256="d", acted_on=ACTED_ON)
    assert stored == {"payharness_stored": {"form": "escaped", "raw_sha256": "d"},
                      "event": {"a\\u0000": ["x\\ud800y", {"k": "\\u0000"}], "n": 1}}
    assert storable.text("a\x00") == "a\\u0000"
    json.dumps(stored, ensure_ascii=False).encode("utf-8")  # no lone surrogate left


def test_keys_that_need_escaping_or_cutting_stay_distinct_and_fit_the_column() -> None:
    keys = ["R\x00:1:4", "R\\u0000:1:4", "R" * 300 + "a", "R" * 300 + "b"]
    stored = [storable.key(k) for k in keys]
    assert len(set(stored)) == len(keys)
    assert all(len(k) <= storable.KEY_MAX and storable.clean(k) for k in stored)


@pytest.mark.parametrize("filler", ['"k":0,', '"\\u0000",', '"\\u0001",', '"\\ud800",', '"\\u00e9",'])
def test_any_body_within_the_body_limit_is_stored_within_the_payload_check(filler: str) -> None:
    # The limits must agree: whatever fits LIMITS__MAX_BODY_BYTES must fit octet_length(payload::text).
    limit = LimitSettings().max_body_bytes
    head = '{"data":{"transaction":{"id":"W1"}},"pad":['
    count = (limit - len(head) - 2) // len(filler.replace('"k":0', '"k"')) - 1
    items = filler.replace('"k":0', '"k"') * count
    body = (head + items.rstrip(",") + "]}").encode()
    assert len(body) <= limit
    stored = storable.for_storage(parse_body(body), raw_sha256="d", acted_on=ACTED_ON)
    assert storable.rendered_size(stored) <= storable.STORED_MAX_BYTES < RAW_PAYLOAD_MAX_BYTES


async def test_postgres_accepts_the_bounded_and_escaped_forms(conn: asyncpg.Connection) -> None:
    await conn.execute("CREATE TEMP TABLE p (payload jsonb CHECK (octet_length(payload::text) <= 65536))")
    wide: dict[str, Any] = {f"k{n}": 0 for n in range(6500)}  # ~58 KB compact, ~84 KB as jsonb::text
    for payload in (wide, {"v": "\x00\ud800" * 1000}):
        stored = storable.for_storage(payload, raw_sha256="d", acted_on={**ACTED_ON, "id": "\x00" * 5000})
        await conn.execute("INSERT INTO p VALUES ($1::jsonb)", json.dumps(stored))
        rendered = await conn.fetchval("SELECT octet_length(payload::text) FROM p ORDER BY ctid DESC LIMIT 1")
        assert rendered <= storable.rendered_size(stored)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 30_000 + b"]" * 30_000,  # RecursionError inside json
        b'{"a":' * 100 + b"1" + b"}" * 100,  # parses, but deeper than any event
        b'{"event":"transaction.updated","event":"x"}',  # the last key would win in json.loads
        b'{"data":{"transaction":{"id":"1","id":"2"}}}',
        b'{"timestamp":NaN}',
    ],
)
def test_deep_duplicate_key_and_non_json_constant_bodies_are_a_422(body: bytes) -> None:
    with pytest.raises(Unprocessable):
        parse_body(body)


# Pieces rather than characters, so that a backslash of the text right before "u0000" (stored as it is) and
# one right before a NUL (written out) both come up often.
_HOSTILE_TEXT = st.lists(st.sampled_from(["a", "é", "😀", "\\", "\\\\", "u0000", "ud800", "\x00", "\x01", "\ud800",
                                          "\udfff", '"', ":", ","]), max_size=6).map("".join)
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | _HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_HOSTILE_TEXT, children, max_size=4),
    max_leaves=20,
)


@given(payload=st.dictionaries(_HOSTILE_TEXT, _JSONISH, max_size=4))
@example(payload={"k": "\\u0000"})  # a backslash of the text, then "u0000": stored as sent
@example(payload={"k": "\\\x00"})  # a backslash, then a NUL: written out
@example(payload={"\\\\\x00": ["x"]})  # two backslashes, then a NUL, in a key
@example(payload={"k": ["\\\\u0000", "\ud800"]})
def test_a_payload_is_stored_as_sent_exactly_when_escaping_would_change_nothing_and_it_fits(
    payload: dict[str, Any],
) -> None:
    """The one-rendering check agrees with the walk it replaced: escape everything, see whether anything
    changed, and measure the rendering — including a backslash of the text followed by "u0000"."""
    safe, changed = storable.escaped(payload)
    walked = not changed and storable.rendered_size(safe) <= storable.STORED_MAX_BYTES
    assert storable.stored_as_sent(payload) == walked


def test_a_payload_just_over_the_bound_is_not_stored_as_sent() -> None:
    filler = "x" * storable.STORED_MAX_BYTES
    assert storable.stored_as_sent({"a": filler[: storable.STORED_MAX_BYTES - len('{"a": ""}')]})
    assert not storable.stored_as_sent({"a": filler[: storable.STORED_MAX_BYTES - len('{"a": ""}') + 1]})
