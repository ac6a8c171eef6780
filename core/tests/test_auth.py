"""Bearer tokens: minting and verification as pure functions, then roles enforced on real routes."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import SecretStr

from core.auth import Principal, Role, decode_token, mint_token
from core.errors import Unauthorized
from core.settings import AuthSettings
from core.tests.apikit import SECRETS, make_settings, running_core

AUTH = AuthSettings(token_secret=SecretStr(SECRETS["token_secret"]))


def test_minted_token_decodes_to_its_subject_and_role() -> None:
    token = mint_token(AUTH, "buyer-7", Role.BUYER, ttl=60)
    assert decode_token(AUTH, token) == Principal("buyer-7", Role.BUYER)
    claims = jwt.decode(token, SECRETS["token_secret"], algorithms=["HS256"], issuer=AUTH.issuer)
    assert claims["exp"] - claims["iat"] == 60
    assert claims["role"] == "buyer"


def test_expired_token_is_refused_as_expired() -> None:
    token = mint_token(AUTH, "buyer-7", "buyer", ttl=10, now=time.time() - 100)
    with pytest.raises(Unauthorized) as info:
        decode_token(AUTH, token)
    assert info.value.code == "token_expired"


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "b", "role": "buyer", "iss": "someone-else"},  # wrong issuer
        {"sub": "b", "role": "root", "iss": "payharness-core"},  # unknown role
        {"role": "buyer", "iss": "payharness-core"},  # no subject
        {"sub": "b", "iss": "payharness-core"},  # no role
    ],
)
def test_tokens_with_wrong_or_missing_claims_are_refused(claims: dict[str, str]) -> None:
    now = int(time.time())
    token = jwt.encode({**claims, "iat": now, "exp": now + 60}, SECRETS["token_secret"], algorithm="HS256")
    with pytest.raises(Unauthorized):
        decode_token(AUTH, token)


def test_token_without_expiry_is_refused() -> None:
    token = jwt.encode(
        {"sub": "b", "role": "admin", "iss": AUTH.issuer, "iat": int(time.time())},
        SECRETS["token_secret"],
        algorithm="HS256",
    )
    with pytest.raises(Unauthorized):
        decode_token(AUTH, token)


def test_token_signed_with_another_key_or_alg_none_is_refused() -> None:
    now = int(time.time())
    claims = {"sub": "a", "role": "admin", "iss": AUTH.issuer, "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, "another-secret-of-at-least-thirty-two-bytes", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned):
        with pytest.raises(Unauthorized):
            decode_token(AUTH, token)


def test_short_token_secret_is_refused_at_start_up() -> None:
    # Refused when the settings load (start-up), not first when a token is minted.
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AuthSettings(token_secret=SecretStr("short"))
    with pytest.raises(ValueError, match="TOKEN_SECRET"):
        mint_token(AuthSettings.model_construct(token_secret=SecretStr("short")), "b", "buyer")


async def test_routes_enforce_token_and_role() -> None:
    # No database is touched: every request below is refused before a handler runs.
    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with running_core(settings) as core:
        c = core.client
        missing = await c.post("/orders", json={"amount": "5000"})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["code"] == "missing_token"

        garbage = await c.post("/orders", json={"amount": "5000"}, headers={"Authorization": "Bearer x.y.z"})
        assert garbage.status_code == 401

        basic = await c.post("/orders", json={"amount": "5000"}, headers={"Authorization": "Basic YTpi"})
        assert basic.status_code == 401

        expired = mint_token(settings.auth, "b", "buyer", ttl=1, now=time.time() - 60)
        r = await c.get("/orders/1", headers={"Authorization": f"Bearer {expired}"})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "token_expired")

        admin_buys = await c.post("/orders", json={"amount": "5000"}, headers=core.auth("ops", "admin"))
        assert (admin_buys.status_code, admin_buys.json()["error"]["code"]) == (403, "buyer_role_required")

        buyer_admins = await c.post("/admin/efecty/EFE-1-AAAAAA/confirm", headers=core.auth("b1"))
        assert (buyer_admins.status_code, buyer_admins.json()["error"]["code"]) == (403, "admin_role_required")

        buyer_reconciles = await c.post("/admin/reconcile?date=2025-01-31", headers=core.auth("b1"))
        assert buyer_reconciles.status_code == 403
