"""One JSON rule for every body the core reads: an object that repeats a key is refused, never "last key wins".

``json.loads`` keeps the last of two equal keys; a proxy, a WAF, an audit log or a signature check may keep
the first, and then what was checked and what was acted on are two different values. The webhook parsers and
the API's bodies (core/webhooks/wompi.py, core/api/jsonbody.py) share this hook.

Usage::

    json.loads(raw, object_pairs_hook=unique_keys)   # raises RepeatedKey (a ValueError) naming the key
"""

from __future__ import annotations

from typing import Any


class RepeatedKey(ValueError):
    """An object in the document has this key (``args[0]``) twice."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads``: the object, or RepeatedKey for its first repeated key."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RepeatedKey(key)
            seen.add(key)
    return obj
