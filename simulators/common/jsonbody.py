"""Reading a request body as JSON the way a strict gateway front end does: refusals, never crashes.

The stdlib parser lets through what no gateway stores (NaN and Infinity, lone UTF-16 surrogates from
``\\ud800`` escapes) and raises RecursionError, not ValueError, on deep nesting. Every simulator reads
its bodies here so a hostile body becomes the gateway's own validation error.

Usage: ``try: body = parse_json(raw) except ValueError as exc: raise <gateway's 4xx>(str(exc))``
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# Far deeper than any payment body; shallow enough that checking it never nears the recursion limit.
MAX_DEPTH = 64


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes | str) -> Any:
    """JSON with fractions as Decimal (never float); ValueError for anything a gateway would refuse."""
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("the body is nested too deeply") from None
    text = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    # The walks are skipped on ordinary bodies: a surrogate only gets in through an escape (raw bytes
    # would not decode), and a body with few brackets cannot be deep.
    if b"\\u" in text:
        _check_text(data, 0)
    elif text.count(b"{") + text.count(b"[") > MAX_DEPTH and _too_deep(data, 0):
        raise ValueError("the body is nested too deeply")
    return data


def _too_deep(node: Any, depth: int) -> bool:
    if not isinstance(node, dict | list):
        return False
    if depth >= MAX_DEPTH:
        return True
    children = node.values() if isinstance(node, dict) else node
    return any(_too_deep(child, depth + 1) for child in children)


def _check_text(node: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("the body is nested too deeply")
    if isinstance(node, str):
        _check_string(node)
    elif isinstance(node, dict):
        for key, value in node.items():
            _check_string(key)
            _check_text(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_text(value, depth + 1)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the body holds text that is not valid Unicode (a lone surrogate)") from None
