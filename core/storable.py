"""What Postgres can store: the one rule every piece of buyer input passes before anything else happens.

Postgres ``text`` refuses U+0000 outright and JSONB refuses its ``\\u0000`` escape; a lone surrogate
(JSON's ``"\\ud800"``) is no character at all and cannot be written as UTF-8, so the driver fails on it.
Either one, accepted at the door, surfaces much later as a 500 — after a gateway has already charged the
buyer and the core cannot record the answer. So input carrying one is refused first, with a 4xx.
``bigint`` is the widest integer column; a larger integer fails in the driver the same way.

Usage::

    problem = unstorable("a\\x00b")       # "contains U+0000 (NUL), which Postgres cannot store"
    assert unstorable("Ana Pérez") is None
"""

from __future__ import annotations

import re

BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)

NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")  # also what core/webhooks/storable.py escapes


def unstorable(text: str) -> str | None:
    """Why Postgres text/JSONB would refuse ``text``, or None when it can be stored."""
    found = NUL_OR_SURROGATE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains U+0000 (NUL), which Postgres cannot store"
    return "contains a lone surrogate (not a Unicode character), which cannot be stored as UTF-8"


def unstorable_int(value: int) -> str | None:
    """Why a ``bigint`` column would refuse ``value``, or None."""
    if BIGINT_MIN <= value <= BIGINT_MAX:
        return None
    return "is outside the 64-bit integer range"
