"""``Idempotency-Key`` for ``POST /payments/process``: the first request with a key runs; every retry gets its answer.

The guard is the ``uq_idempotency_keys_buyer_key`` constraint, taken with ``INSERT … ON CONFLICT DO
NOTHING``: exactly one request per (buyer, key) inserts the row and goes on to call the gateway. Another
request with the key finds the row and

* with a different body (fingerprint) → 409 ``idempotency_key_reused``;
* when the first has stored its answer → that answer: the same status and the same JSON body;
* while the first is still running → polls for a short while, then 409 ``idempotency_in_progress``;
* when the first died without an answer (its process killed, its database gone while it ran) and the key
  is older than ``stale_key_seconds`` → the key is settled: released when no attempt was recorded (nothing
  can have reached a gateway), else a stored 502 ``payment_outcome_unknown`` — never "in progress" forever.

A request refused before anything happened (order not payable, wrong amount, breaker open, gateway never
reached) releases its key, so the buyer can fix the request and retry with it. Once a gateway may have
been reached, the key keeps its answer forever: that is what makes a retry unable to charge twice.

The fingerprint is an HMAC of the canonical validated body, keyed with the token secret: card numbers may
be in the body, and a bare hash of a card number is brute-forced in minutes.

Usage::

    claim = await claim_key(engine, buyer_id="b1", key=key, fingerprint=fp, order_id=7, options=opts)
    if isinstance(claim, Replay): return JSONResponse(claim.body, claim.status_code)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db.models import IdempotencyKey
from core.errors import BadRequest, Conflict, error_body, new_support_reference

log = logging.getLogger("payharness.core.checkout")
keys_t = cast(Table, IdempotencyKey.__table__)
HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{8,255}$")
# Far beyond the longest a request can run (gateway timeouts of 15 s, statement timeouts of 15 s, retries): a
# key still open after this belongs to a request that will never answer. The reference lookup relies on it too
# (core/api/resolve.py): it never asks about the attempt of a key open for less.
STALE_KEY_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class CheckoutOptions:
    """Tunables of the payment endpoint; a FastAPI dependency so tests can override them."""

    idempotency_wait_seconds: float = 10.0
    idempotency_poll_seconds: float = 0.05
    stale_key_seconds: float = STALE_KEY_SECONDS
    # The longest the gateway calls of one payment may run (acceptance tokens, the create, a read-back; each
    # with its retries, which honour a Retry-After of up to a minute). Past it the call is abandoned as
    # outcome unknown, so a key is never open longer than STALE_KEY_SECONDS while its request still runs.
    charge_budget_seconds: float = STALE_KEY_SECONDS / 2


async def get_checkout_options() -> CheckoutOptions:  # async: no worker-thread hop (core/deps.py)
    return CheckoutOptions()


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored answer of the request that first used the key."""

    status_code: int
    body: dict[str, Any]


def require_key(value: str | None) -> str:
    """The header's value, or 400: a payment without a key cannot be retried safely."""
    if value is None:
        raise BadRequest("idempotency_key_required", f"the {HEADER} header is required (8–255 visible ASCII)")
    if not _VALID_KEY.match(value):
        raise BadRequest("idempotency_key_invalid", f"{HEADER} must be 8–255 visible ASCII characters")
    return value


def fingerprint(secret: bytes, body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


async def claim_key(
    engine: AsyncEngine,
    *,
    buyer_id: str,
    key: str,
    fingerprint: str,
    order_id: int,
    options: CheckoutOptions,
) -> int | Replay:
    """The new key row's id if this request won the key, else the stored answer (or 409)."""
    deadline = time.monotonic() + options.idempotency_wait_seconds
    while True:
        async with engine.begin() as conn:
            won = (
                await conn.execute(
                    pg_insert(keys_t)
                    .values(buyer_id=buyer_id, key=key, request_sha256=fingerprint, order_id=order_id)
                    .on_conflict_do_nothing(constraint="uq_idempotency_keys_buyer_key")
                    .returning(keys_t.c.id)
                )
            ).scalar_one_or_none()
            if won is not None:
                return int(won)
            row = (
                await conn.execute(
                    select(
                        keys_t.c.id,
                        keys_t.c.request_sha256,
                        keys_t.c.status_code,
                        keys_t.c.response_body,
                        keys_t.c.transaction_id,
                        (func.extract("epoch", func.now() - keys_t.c.created_at) > options.stale_key_seconds).label(
                            "stale"
                        ),
                    ).where(keys_t.c.buyer_id == buyer_id, keys_t.c.key == key)
                )
            ).one_or_none()
            if row is not None and row.status_code is None and row.stale and hmac.compare_digest(
                row.request_sha256, fingerprint
            ):
                await _settle_stale(conn, row.id, row.transaction_id)
                continue
        if row is None:
            continue  # the first request released the key between our two statements: try to win it
        if not hmac.compare_digest(row.request_sha256, fingerprint):
            raise Conflict(
                "idempotency_key_reused", f"this {HEADER} was used with a different request body; use a new key"
            )
        if row.status_code is not None:
            return Replay(int(row.status_code), dict(row.response_body or {}))
        if time.monotonic() >= deadline:
            raise Conflict(
                "idempotency_in_progress",
                f"a request with this {HEADER} is still being processed; retry shortly",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(options.idempotency_poll_seconds)


async def _settle_stale(conn: AsyncConnection, key_id: int, transaction_id: int | None) -> None:
    if transaction_id is None:
        # The attempt and its link to the key commit together, before any gateway call: no attempt, no charge.
        await conn.execute(delete(keys_t).where(keys_t.c.id == key_id, keys_t.c.status_code.is_(None)))
        return
    reference = new_support_reference()
    log.error("idempotency key %s: its request never answered; settled as outcome unknown (%s)", key_id, reference)
    body = error_body(
        "payment_outcome_unknown",
        "the first request with this key never finished; the payment may have been taken. It is pending: check "
        "the order before paying again, and quote the support reference.",
        transaction_id=transaction_id,
        support_reference=reference,
    )
    await store_answer_if_open(conn, key_id, status_code=502, body=body, transaction_id=transaction_id)


async def store_answer(
    conn: AsyncConnection, key_id: int, *, status_code: int, body: dict[str, Any], transaction_id: int | None
) -> None:
    """Keep the answer for retries; the caller commits it together with the money state it describes."""
    await conn.execute(
        update(keys_t)
        .where(keys_t.c.id == key_id)
        .values(status_code=status_code, response_body=body, transaction_id=transaction_id)
    )


async def store_answer_if_open(
    conn: AsyncConnection, key_id: int, *, status_code: int, body: dict[str, Any], transaction_id: int | None
) -> None:
    """Store an answer only on a key that has none yet: a fallback must never replace a real answer."""
    await conn.execute(
        update(keys_t)
        .where(keys_t.c.id == key_id, keys_t.c.status_code.is_(None))
        .values(status_code=status_code, response_body=body, transaction_id=transaction_id)
    )


async def attach_transaction(conn: AsyncConnection, key_id: int, transaction_id: int) -> None:
    await conn.execute(update(keys_t).where(keys_t.c.id == key_id).values(transaction_id=transaction_id))


async def release_key(engine: AsyncEngine, key_id: int) -> None:
    """Forget a key whose request changed nothing, so the buyer may retry with it."""
    async with engine.begin() as conn:
        await conn.execute(delete(keys_t).where(keys_t.c.id == key_id, keys_t.c.status_code.is_(None)))
