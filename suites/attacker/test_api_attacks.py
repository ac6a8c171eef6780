"""The public API attacked by a buyer: another buyer's order, forged and mis-roled tokens, limit bypasses.

A buyer holds a valid token and knows (or guesses) other orders' ids and the Idempotency-Key another buyer
used. Nothing of buyer A's may be read, paid or replayed by buyer B; no token but a genuine admin one may use
an admin route; and no spelling of the payment path may escape the per-buyer rate limit.
"""

from __future__ import annotations

import secrets
import time

import asyncpg
import httpx
import jwt
import pytest

from suites.conftest import TOKEN_SECRET, Live
from suites.support.api import Actor

AMOUNT = "65000.00"


def _efecty_body(order_id: int) -> dict[str, object]:
    return {"order_id": order_id, "amount": AMOUNT, "currency": "COP", "method": "EFECTY",
            "customer_email": "comprador@example.com"}


@pytest.mark.scenario("ATTACK-API-BUYER-ISOLATION")
async def test_buyer_b_can_neither_read_nor_pay_nor_replay_buyer_a_order(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    a, b = Actor.buyer(live), Actor.buyer(live)
    order_a = await a.create_order(AMOUNT)
    key = f"shared-key-{secrets.token_hex(4)}"
    paid = await core.post("/payments/process", json=_efecty_body(order_a["id"]),
                           headers={**a.headers, "idempotency-key": key})
    assert paid.status_code == 200, paid.text
    code_a = paid.json()["efecty"]["payment_code"]
    # B reads A's order, pays it, and replays A's exact request with A's key: refused, A's answer never shown.
    read = await core.get(f"/orders/{order_a['id']}", headers=b.headers)
    replay = await core.post("/payments/process", json=_efecty_body(order_a["id"]),
                             headers={**b.headers, "idempotency-key": key})
    for response in (read, replay):
        assert response.status_code == 404, response.text
        assert code_a not in response.text and order_a["reference"] not in response.text
    # B's own order with A's key is B's own first request (keys are per buyer), not A's stored answer.
    order_b = await b.create_order(AMOUNT)
    own = await core.post("/payments/process", json=_efecty_body(order_b["id"]),
                          headers={**b.headers, "idempotency-key": key})
    assert own.status_code == 200, own.text
    assert own.headers.get("idempotent-replayed") is None
    assert own.json()["order_id"] == order_b["id"] and own.json()["efecty"]["payment_code"] != code_a
    attempts = await core_db.fetch("SELECT o.buyer_id FROM order_transactions t JOIN orders o ON o.id = t.order_id")
    assert sorted(r["buyer_id"] for r in attempts) == sorted([a.subject, b.subject])
    # A's key with another body (another order of A's): refused, not a second voucher.
    order_a2 = await a.create_order(AMOUNT)
    reused = await core.post("/payments/process", json=_efecty_body(order_a2["id"]),
                             headers={**a.headers, "idempotency-key": key})
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused", reused.text


def _forged(live: Live, **claims: object) -> str:
    now = int(time.time())
    base: dict[str, object] = {"sub": "admin-1", "role": "admin", "iss": "payharness-core", "iat": now,
                               "exp": now + 600}
    base.update(claims)
    payload = {k: v for k, v in base.items() if v is not None}
    return jwt.encode(payload, live.core_env[TOKEN_SECRET], algorithm="HS256")


def _unsigned(claims: dict[str, object]) -> str:
    return jwt.encode(claims, key="", algorithm="none")


ADMIN_ROUTES = [("POST", "/admin/reconcile?date=2026-12-01"), ("POST", "/admin/efecty/EFE-1-ABCDEF/confirm"),
                ("POST", "/admin/attempts/ORD-1-abcd/resolve")]


@pytest.mark.scenario("ATTACK-API-ADMIN-TOKENS")
async def test_only_a_genuine_admin_token_reaches_an_admin_route(live: Live, core: httpx.AsyncClient) -> None:
    now = int(time.time())
    forged = {
        "role ADMIN": _forged(live, role="ADMIN"),
        "role 'admin '": _forged(live, role="admin "),
        "role list": _forged(live, role=["admin"]),
        "other issuer": _forged(live, iss="someone-else"),
        "expired": _forged(live, iat=now - 7200, exp=now - 3600),
        "no exp": _forged(live, exp=None),
        "alg none": _unsigned({"sub": "admin-1", "role": "admin", "iss": "payharness-core", "iat": now,
                               "exp": now + 600}),
        "wrong key": jwt.encode({"sub": "admin-1", "role": "admin", "iss": "payharness-core", "iat": now,
                                 "exp": now + 600}, "x" * 40, algorithm="HS256"),
    }
    buyer = Actor.buyer(live)
    for method, path in ADMIN_ROUTES:
        as_buyer = await core.request(method, path, headers=buyer.headers)
        assert as_buyer.status_code == 403, (path, as_buyer.text)
        for name, token in forged.items():
            for scheme in ("Bearer", "bearer", "BEARER"):
                response = await core.request(method, path, headers={"authorization": f"{scheme} {token}"})
                assert response.status_code == 401, (path, name, scheme, response.status_code)


@pytest.mark.scenario("ATTACK-API-RATE-LIMIT-BYPASS")
async def test_no_spelling_of_the_payment_path_escapes_the_spent_buyer_limit(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order(AMOUNT)
    # Spend the buyer's allowance (20/minute per worker; one kept-alive connection reaches one worker).
    codes = [(await buyer.pay(core, 987654321, AMOUNT, "efecty")).status_code for _ in range(25)]
    assert codes[-1] == 429, codes
    spellings = ["/payments/process", "/payments/process?x=1", "/payments/%70rocess", "/payments/process/",
                 "/Payments/process", "/payments//process", "//payments/process", "/payments/./process",
                 "/payments/process%20", "/PAYMENTS/PROCESS"]
    for path in spellings:
        headers = {**buyer.headers, "idempotency-key": secrets.token_hex(8), "x-forwarded-for": "198.51.100.7",
                   "x-real-ip": "198.51.100.7", "forwarded": "for=198.51.100.7"}
        response = await core.post(path, json=_efecty_body(order["id"]), headers=headers)
        assert response.status_code in (429, 404, 405, 307, 308), (path, response.status_code, response.text)
    assert await core_db.fetchval("SELECT count(*) FROM order_transactions") == 0
