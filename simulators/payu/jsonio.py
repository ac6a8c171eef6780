"""JSON in and out without floats: amounts parse to Decimal and are written back as plain JSON numbers.

Usage: ``body = loads(raw)``; ``json_response({"value": Decimal("65000.00")})`` writes ``65000.00``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from starlette.responses import Response

# The stdlib encoder cannot emit a Decimal as a bare number, so it emits a marked string that is
# unwrapped afterwards. The NUL marker never survives in real text: json escapes it as \u0000.
_MARK = "\x00D"
_MARKED = re.compile(r'"\\u0000D(-?[0-9][0-9.Ee+-]*)"')


def loads(raw: bytes | str) -> Any:
    """Parse JSON with every non-integer number as Decimal (PayU amounts are never floats here)."""
    return json.loads(raw, parse_float=Decimal)


def dumps(obj: Any) -> bytes:
    """Serialise ``obj``; Decimals become JSON numbers written exactly as the Decimal prints."""
    seen = False

    def default(value: Any) -> Any:
        nonlocal seen
        if isinstance(value, Decimal):
            seen = True
            return f"{_MARK}{value:f}"
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    text = json.dumps(obj, default=default, ensure_ascii=False, separators=(",", ":"))
    if seen:
        text = _MARKED.sub(r"\1", text)
    return text.encode("utf-8")


def json_response(obj: Any, *, status: int = 200) -> Response:
    """A JSON response built with :func:`dumps`."""
    return Response(content=dumps(obj), status_code=status, media_type="application/json")
