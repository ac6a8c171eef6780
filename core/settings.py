"""The core's settings: environment variables prefixed ``PAYHARNESS_``, nested groups split by ``__``.

Fail closed (STYLE.md 11): the secrets the core verifies webhooks with, and the ones it signs requests
with, have no defaults. A core started without them does not start — there is no development bypass
(the seed's "skip verification when the secret is unset" is exactly the hole this closes).

Usage::

    settings = Settings()                          # reads PAYHARNESS_* from the environment
    settings = Settings(db={"url": "postgresql+asyncpg://…"}, wompi={...}, payu={...}, ...)

    PAYHARNESS_DB__URL=postgresql+asyncpg://postgres@127.0.0.1:5432/payharness
    PAYHARNESS_WOMPI__EVENTS_SECRET=test_events_…   PAYHARNESS_PAYU__API_KEY=4Vj8eK4rloUd272L48hsrarnUA
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from limits import parse
from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _not_blank(value: SecretStr) -> SecretStr:
    # An empty secret is an unset secret: refuse it the same way (the seed skipped verification then).
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


Secret = Annotated[SecretStr, AfterValidator(_not_blank)]


class DatabaseSettings(BaseModel):
    url: str  # SQLAlchemy URL, postgresql+asyncpg://…
    pool_size: int = 20
    max_overflow: int = 10
    # The webhook path's own asyncpg pool, per worker. Small on purpose: a webhook holds a connection for
    # two short statements, and more connections than the database has cores to run them only move the
    # queue from the pool into Postgres, while each new one is a backend to start in the middle of a
    # burst. Measured at 500 webhooks/s on 2 cores: 30 per worker made the first five seconds of a run
    # the slowest (p50 150-290 ms, the database catching up on new backends); 10 settled in one second.
    webhook_pool_size: int = Field(default=10, ge=1)
    # Webhook-pool connections opened in the background at start-up (never more than half the pool). A
    # cold pool under a burst opens connections while the burst waits.
    warm_connections: int = Field(default=5, ge=0)
    # READ COMMITTED plus an explicit row lock on the order is the webhook path's isolation; see
    # core/payments/ledger.py for why not SERIALIZABLE.
    statement_timeout_ms: int = 15_000

    @field_validator("url")
    @classmethod
    def _asyncpg(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            return "postgresql+asyncpg://" + value[len("postgresql://") :]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("the core speaks asyncpg: use a postgresql+asyncpg:// (or postgresql://) URL")
        return value


class PayUSettings(BaseModel):
    base_url: str = "https://sandbox.api.payulatam.com"
    merchant_id: str
    account_id: str
    api_login: Secret
    api_key: Secret  # signs requests and (MD5/SHA modes) verifies confirmations
    # How confirmations are signed: md5/sha1/sha256 with the API key, or HMAC-SHA256 with webhook_secret.
    webhook_algorithm: Literal["md5", "sha1", "sha256", "hmac-sha256"] = "md5"
    webhook_secret: Secret | None = None
    notify_url: str | None = None  # where PayU posts confirmations for transactions this core submits
    test: bool = True


class WompiSettings(BaseModel):
    base_url: str = "https://sandbox.wompi.co/v1"
    public_key: str
    private_key: Secret
    integrity_secret: Secret
    events_secret: Secret
    # Wompi documents no tolerance window and may keep the first timestamp on its +24 h retry, so the
    # window must be wider than the retry schedule (gateways.md §4).
    max_event_age_seconds: int = 2 * 24 * 3600 + 3600
    max_event_future_seconds: int = 300


class EfectySettings(BaseModel):
    base_url: str
    api_key: Secret
    convenio: str
    code_prefix: str = "EFE"
    voucher_ttl_hours: int = 72


def _long_enough(value: SecretStr) -> SecretStr:
    # A short HMAC key can be brute-forced offline from any token it signed: refuse it at start-up.
    if len(value.get_secret_value().encode()) < 32:
        raise ValueError("must be at least 32 bytes")
    return value


class AuthSettings(BaseModel):
    token_secret: Annotated[Secret, AfterValidator(_long_enough)]  # HS256 key for the API's bearer tokens
    token_ttl_seconds: int = 3600
    issuer: str = "payharness-core"


class LimitSettings(BaseModel):
    """Abuse resistance: body size, rates (``limits`` library syntax, see core/ratelimit.py), amount range."""

    max_body_bytes: int = 64 * 1024
    payments_per_buyer: str = "10/minute"
    payments_per_ip: str = "30/minute"
    # POST /orders: an order is a row per request, and a buyer needs one per payment, so these sit at twice
    # the payment limits — room for abandoned carts, none for a script filling the orders table.
    orders_per_buyer: str = "20/minute"
    orders_per_ip: str = "60/minute"
    # GET /orders/{id}: a checkout page polls its order while a payment settles (every 2 s is 30/minute).
    reads_per_buyer: str = "120/minute"
    reads_per_ip: str = "300/minute"
    # Requests answered 401 (bad, expired or missing token), per IP, on every endpoint behind a token. Once
    # spent, that address's token requests are 429 before their token is looked at, so a guesser learns nothing.
    auth_failures_per_ip: str = "30/minute"
    storage_uri: str = "memory://"  # e.g. redis://127.0.0.1:6379 to share limits across workers/hosts
    min_amount: Decimal = Decimal("1000")
    max_amount: Decimal = Decimal("50000000")

    @field_validator("payments_per_buyer", "payments_per_ip", "orders_per_buyer", "orders_per_ip",
                     "reads_per_buyer", "reads_per_ip", "auth_failures_per_ip")
    @classmethod
    def _rate(cls, value: str) -> str:
        # A misspelt rate must stop the core at start-up, not turn every request of its endpoint into a 500.
        parse(value)
        return value


class ResilienceSettings(BaseModel):
    """Retries (only where a retry cannot double-charge) and the per-gateway circuit breaker."""

    attempts: int = 3
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0


class Settings(BaseSettings):
    """All of the core's configuration. Required groups: db, payu, wompi, efecty, auth."""

    model_config = SettingsConfigDict(env_prefix="PAYHARNESS_", env_nested_delimiter="__", extra="ignore")

    db: DatabaseSettings
    payu: PayUSettings
    wompi: WompiSettings
    efecty: EfectySettings
    auth: AuthSettings
    limits: LimitSettings = Field(default_factory=LimitSettings)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)
    cors_origins: list[str] = Field(default_factory=list)
    gateway_timeout_seconds: float = 15.0
    pse_banks_cache_seconds: int = 3600
    # A pending attempt older than this is asked about at its gateway by reference when a new payment of its
    # order meets it (core/api/resolve.py). Longer than any create call runs (gateway timeouts of 15 s, a
    # few retries), short enough that a buyer retrying after an outage is not turned away for long.
    live_attempt_grace_seconds: float = 60.0
    log_level: str = "WARNING"

    @field_validator("payu")
    @classmethod
    def _payu_hmac_needs_secret(cls, value: PayUSettings) -> PayUSettings:
        if value.webhook_algorithm == "hmac-sha256" and not value.webhook_secret:
            raise ValueError("webhook_algorithm=hmac-sha256 needs PAYHARNESS_PAYU__WEBHOOK_SECRET")
        return value


def describe_missing(exc: Exception) -> str:
    """Turn a settings ValidationError into the environment variable names a user must set."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    lines = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        group = Settings.model_fields.get(loc[0]) if len(loc) == 1 else None
        model = getattr(group, "annotation", None) if group else None
        if error["type"] == "missing" and isinstance(model, type) and issubclass(model, BaseModel):
            # A whole group is missing: name each required variable, not just the group.
            for name, field in model.model_fields.items():
                if field.is_required():
                    lines.append(f"PAYHARNESS_{loc[0].upper()}__{name.upper()}: required")
            continue
        lines.append(f"PAYHARNESS_{'__'.join(loc).upper()}: {error['msg']}")
    return "the core refuses to start (fail closed):\n  " + "\n  ".join(lines)
