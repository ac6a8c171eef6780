"""What Postgres can store of a gateway event: text without NUL or lone surrogates, JSONB within its size check.

No byte sequence a gateway sends may make the webhook path fail on every delivery. Postgres refuses three
things a valid request can carry: a NUL character (``text`` and ``jsonb`` both refuse ``\\u0000``), a lone
surrogate (JSON may escape one, ``"\\ud800"``; it has no UTF-8 form), and a payload whose *re-serialised*
text exceeds the ``octet_length(payload::text) <= 65536`` check (``jsonb::text`` puts a space after every
``,`` and ``:``, so a compact 60 KB body under the 64 KB body limit can render past 64 KB). Here:

* text columns and lookup values are ``clean`` or not; a key that is not clean, or too long, becomes an
  escaped prefix plus the SHA-256 of the whole (``key``), so it is stored and still identifies;
* a payload is stored as sent when it can be; otherwise ``{"payharness_stored": {...}, "event": …}`` with
  NUL and lone surrogates written out as the six characters ``\\u0000``; and when even that renders past
  ``STORED_MAX_BYTES``, only the fields the core acted on (strings capped) with ``"truncated": true``. Both
  forms carry the SHA-256 of the request body as received (``raw_sha256``).

Usage::

    row_payload = for_storage(event.payload, raw_sha256=digest, acted_on=event.identity_data)
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from core.db.models import RAW_PAYLOAD_MAX_BYTES
from core.storable import NUL_OR_SURROGATE

# Headroom under the database's check for what the size estimate might not foresee; the estimate renders the
# way jsonb::text does (", " and ": ", non-ASCII as UTF-8, control characters escaped).
STORED_MAX_BYTES = RAW_PAYLOAD_MAX_BYTES - 4096
KEY_MAX = 255  # webhook_events.event_key is varchar(255)
ACTED_ON_STRING_MAX = 1024


def clean(text: str) -> bool:
    """Whether Postgres accepts ``text`` as it is (no NUL, no lone surrogate)."""
    return NUL_OR_SURROGATE.search(text) is None


def _escape(text: str) -> str:
    return NUL_OR_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def text(value: str) -> str:
    """``value`` with NUL and lone surrogates written out (``\\u0000``), for a text column."""
    return value if clean(value) else _escape(value)


def key(value: str) -> str:
    """An event key Postgres stores, within varchar(255): escaped and, when needed, cut and digest-suffixed.

    Escaping alone could make two keys equal (a NUL and the literal ``\\u0000``), and cutting could too, so
    any changed key ends in the digest of the original.
    """
    if clean(value) and len(value) <= KEY_MAX:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{_escape(value)[: KEY_MAX - 66]}#{digest}"


def escaped(value: Any) -> tuple[Any, bool]:
    """``value`` with every string and key made storable; the flag says whether anything changed.

    Recursive: callers bound the depth first (the webhook parsers refuse deep bodies).
    """
    if isinstance(value, str):
        out = text(value)
        return out, out is not value
    if isinstance(value, dict):
        changed = False
        result: dict[str, Any] = {}
        for k, v in value.items():
            new_k, k_changed = escaped(k) if isinstance(k, str) else (k, False)
            new_v, v_changed = escaped(v)
            result[new_k] = new_v
            changed = changed or k_changed or v_changed
        return result, changed
    if isinstance(value, list):
        items = [escaped(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def _rendered(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def rendered_size(value: Any) -> int:
    """Bytes of ``value`` as ``jsonb::text`` renders it (Decimals as the strings the core stores)."""
    return len(_rendered(value).encode("utf-8"))


# In JSON rendered with ensure_ascii=False a lone surrogate stays as it is, and a NUL (in a key or a value)
# becomes the six characters \\u0000 after an even number of backslashes (an odd one would make it a
# backslash of the text followed by "u0000", which Postgres stores). Either one means "not clean". The NUL
# pattern is slow to scan (its look-behind is tried at every character): it runs only when the plain
# substring is there.
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL_RENDERED = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def stored_as_sent(payload: dict[str, Any]) -> bool:
    """Whether ``payload`` is stored as sent: every string ``clean`` and its rendering within bounds. One
    rendering answers both (``escaped`` walked and copied the whole event first: about 20 us a webhook)."""
    rendered = _rendered(payload)
    if _SURROGATE.search(rendered) is not None or ("\\u0000" in rendered and _NUL_RENDERED.search(rendered)):
        return False
    return len(rendered.encode("utf-8")) <= STORED_MAX_BYTES


def _capped(value: Any) -> Any:
    if isinstance(value, str):
        return text(value[:ACTED_ON_STRING_MAX])
    return value


def for_storage(payload: dict[str, Any], *, raw_sha256: str | None, acted_on: dict[str, Any]) -> dict[str, Any]:
    """The JSONB to keep for ``payload``: as sent, escaped, or bounded to ``acted_on`` (see the module doc)."""
    if stored_as_sent(payload):
        return payload
    safe, _ = escaped(payload)
    marker: dict[str, Any] = {"form": "escaped", "raw_sha256": raw_sha256}
    if rendered_size(safe) <= STORED_MAX_BYTES:
        return {"payharness_stored": marker, "event": safe}
    marker.update(form="bounded", truncated=True)
    return {"payharness_stored": marker, "acted_on": {text(k): _capped(v) for k, v in acted_on.items()}}
