"""Bearer tokens for the core's API: HS256 JWTs naming a subject and one role (buyer or admin).

The core issues and checks its own tokens; there is no user store here, a buyer is whoever holds a
token whose ``sub`` is their id. ``payharness token`` mints one for tests and local runs.

Claims: ``sub`` (buyer or admin id), ``role`` (``buyer`` | ``admin``), ``iss`` (settings.auth.issuer),
``iat`` and ``exp``. All are required; a token without ``exp`` never expires and is refused.

Usage::

    token = mint_token(settings.auth, "buyer-42", Role.BUYER)
    @router.post("/orders")
    async def create(principal: Principal = Depends(require_buyer)) -> ...
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.deps import services_of
from core.errors import Forbidden, Unauthorized
from core.limiting import client_ip, count, limited_address, refuse, spent
from core.settings import AuthSettings

ALGORITHM = "HS256"
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_KEY_BYTES = 32
_MAX_SUBJECT = 64  # orders.buyer_id is String(64)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_FAILURES = "auth-failures-ip"


class Role(enum.StrEnum):
    BUYER = "buyer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's subject and role."""

    subject: str
    role: Role


def _key(auth: AuthSettings) -> bytes:
    key = auth.token_secret.get_secret_value().encode()
    if len(key) < MIN_KEY_BYTES:
        # A short HMAC key can be brute-forced offline from any token; refuse it rather than warn.
        raise ValueError(f"PAYHARNESS_AUTH__TOKEN_SECRET must be at least {MIN_KEY_BYTES} bytes")
    return key


def mint_token(
    auth: AuthSettings, subject: str, role: Role | str, ttl: int | None = None, *, now: float | None = None
) -> str:
    """A signed token for ``subject`` with ``role``, valid ``ttl`` seconds (default settings.auth.token_ttl_seconds).

    Usage: ``mint_token(settings.auth, "buyer-1", "buyer", ttl=600)``.
    """
    role = Role(role)
    if not subject or len(subject) > _MAX_SUBJECT:
        raise ValueError(f"subject must be 1–{_MAX_SUBJECT} characters")
    lifetime = auth.token_ttl_seconds if ttl is None else ttl
    if lifetime <= 0:
        raise ValueError("ttl must be positive")
    issued = int(time.time() if now is None else now)
    claims = {"sub": subject, "role": role.value, "iss": auth.issuer, "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, _key(auth), algorithm=ALGORITHM)


def decode_token(auth: AuthSettings, token: str) -> Principal:
    """Verify a token and return its principal; raises Unauthorized (401) for anything wrong with it."""
    try:
        claims = jwt.decode(
            token,
            _key(auth),
            # The algorithm list is fixed: accepting the token's own "alg" would allow "none".
            algorithms=[ALGORITHM],
            issuer=auth.issuer,
            options={"require": ["sub", "role", "iss", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token_expired", "the bearer token has expired", headers=_CHALLENGE) from None
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid_token", "the bearer token is not valid", headers=_CHALLENGE) from None
    subject, role = claims.get("sub"), claims.get("role")
    if not isinstance(subject, str) or not subject or len(subject) > _MAX_SUBJECT:
        raise Unauthorized("invalid_token", "the bearer token has no usable subject", headers=_CHALLENGE)
    try:
        return Principal(subject=subject, role=Role(str(role)))
    except ValueError:
        raise Unauthorized("invalid_token", "the bearer token has an unknown role", headers=_CHALLENGE) from None


_bearer = HTTPBearer(auto_error=False, description="A token from `payharness token` (HS256 JWT).")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the verified caller, or 401 when the token is missing, invalid or expired; 429 once the
    client's address has had ``limits.auth_failures_per_ip`` 401s, whatever its token (a guesser must not learn
    which guess was right). The price: a NAT's other clients wait out the window with it."""
    services = services_of(request)
    spec, address = services.settings.limits.auth_failures_per_ip, limited_address(client_ip(request))
    if await spent(services, spec, _FAILURES, address):
        raise await refuse(services, spec, _FAILURES, address, what="requests with a bad or missing token")
    try:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise Unauthorized("missing_token", "an Authorization: Bearer token is required", headers=_CHALLENGE)
        return decode_token(services.settings.auth, credentials.credentials)
    except Unauthorized:
        await count(services, spec, _FAILURES, address)
        raise


async def require_buyer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """FastAPI dependency: a buyer token (403 for any other role)."""
    if principal.role is not Role.BUYER:
        raise Forbidden("buyer_role_required", "this endpoint is for buyers")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """FastAPI dependency: an admin token (403 for any other role)."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("admin_role_required", "this endpoint is for admins")
    return principal
