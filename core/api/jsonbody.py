"""A JSON body that repeats a key is refused (422 ``malformed_json``) on every API endpoint that takes one.

``json.loads`` keeps the last of two equal keys; a proxy, a WAF or an audit log in front of the core may keep
the first, and then what was checked and what was acted on are two different values (``{"amount": "1000",
"amount": "65000"}``). The webhook parser refuses the same thing with the same hook (core/strictjson.py).
FastAPI has read and cached the body by the time a dependency runs, so this is a second parse of at most the
body limit.

Usage::

    router = APIRouter(dependencies=[Depends(refuse_repeated_keys)])
"""

from __future__ import annotations

import json

from fastapi import Request

from core.errors import Unprocessable
from core.strictjson import RepeatedKey, unique_keys


async def refuse_repeated_keys(request: Request) -> None:
    """FastAPI dependency: 422 when the JSON body has an object with a key twice. Anything else about the body
    (not JSON, too deep) is FastAPI's to answer, and it has answered before this runs."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    raw = await request.body()
    if not raw:
        return
    try:
        json.loads(raw, object_pairs_hook=unique_keys)
    except RepeatedKey as exc:
        raise Unprocessable("malformed_json", f"the body repeats the key {str(exc)[:64]!r}") from None
    except (ValueError, RecursionError):
        return
