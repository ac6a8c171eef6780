"""Settings from environment variables, as the seed's shop reads them (``settings.WOMPI_WEBHOOK_SECRET`` style).

Usage: ``settings = Settings.from_env()``; ``SHOP_HARDENED=1`` selects the fixed implementation of every
weakness the seed reports, each written next to the weak one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


class ConfigurationError(Exception):
    """A setting the shop cannot run without is missing (only the hardened shop fails closed)."""


def _users(text: str) -> dict[str, int]:
    """``"buyer-token=1,other-token=2"`` -> bearer token -> user id (the seed's shop uses JWTs; fixed tokens here)."""
    users = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        token, _, user_id = item.partition("=")
        users[token.strip()] = int(user_id)
    return users


@dataclass(frozen=True)
class Settings:
    database_url: str
    hardened: bool = False
    debug: bool = True
    wompi_api_url: str = ""
    wompi_public_key: str = ""
    wompi_private_key: str = ""
    wompi_integrity_secret: str = ""
    wompi_events_secret: str = ""
    payu_api_url: str = ""
    payu_api_key: str = ""
    payu_api_login: str = ""
    payu_merchant_id: str = ""
    payu_account_id: str = ""
    efecty_api_url: str = ""
    efecty_merchant_api_key: str = ""
    efecty_code_prefix: str = "MST"
    users: dict[str, int] = field(default_factory=lambda: {"buyer-token": 1, "other-token": 2})
    pay_rate_limit: tuple[int, int] = (20, 60)  # card payment attempts per user per seconds (hardened only)
    max_body_bytes: int = 1_048_576  # hardened only
    efecty_reconcile_seconds: float = 60.0  # how often pending Efecty vouchers are read back (hardened only, S15)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        hardened = env.get("SHOP_HARDENED", "0").lower() in {"1", "true", "yes"}
        attempts, _, seconds = env.get("SHOP_PAY_RATE_LIMIT", "20/60").partition("/")
        settings = cls(
            database_url=env.get("DATABASE_URL", ""),
            hardened=hardened,
            # Weak: debug on unless switched off, so an unhandled error shows its traceback (seed S13).
            debug=env.get("SHOP_DEBUG", "false" if hardened else "true").lower() in {"1", "true", "yes"},
            wompi_api_url=env.get("WOMPI_API_URL", ""),
            wompi_public_key=env.get("WOMPI_PUBLIC_KEY", ""),
            wompi_private_key=env.get("WOMPI_PRIVATE_KEY", ""),
            wompi_integrity_secret=env.get("WOMPI_INTEGRITY_SECRET", ""),
            wompi_events_secret=env.get("WOMPI_EVENTS_SECRET", ""),
            payu_api_url=env.get("PAYU_API_URL", ""),
            payu_api_key=env.get("PAYU_API_KEY", ""),
            payu_api_login=env.get("PAYU_API_LOGIN", ""),
            payu_merchant_id=env.get("PAYU_MERCHANT_ID", ""),
            payu_account_id=env.get("PAYU_ACCOUNT_ID", ""),
            efecty_api_url=env.get("EFECTY_API_URL", ""),
            efecty_merchant_api_key=env.get("EFECTY_MERCHANT_API_KEY", ""),
            efecty_code_prefix=env.get("EFECTY_CODE_PREFIX", "MST"),
            users=_users(env.get("SHOP_USERS", "buyer-token=1,other-token=2")),
            pay_rate_limit=(int(attempts), int(seconds or 60)),
            efecty_reconcile_seconds=float(env.get("EFECTY_RECONCILE_SECONDS", "60")),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse to start without a database; the hardened shop also refuses without its webhook secrets."""
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigurationError("DATABASE_URL must be a postgresql:// URL")
        if self.hardened:
            # Fix for seed S8: fail closed instead of skipping verification when a secret is missing.
            missing = [name for name, value in (("WOMPI_EVENTS_SECRET", self.wompi_events_secret),
                                                ("WOMPI_API_URL", self.wompi_api_url)) if not value]
            if self.payu_api_url and not self.payu_api_key:
                missing.append("PAYU_API_KEY")
            if not 0 < self.efecty_reconcile_seconds <= 3600:
                raise ConfigurationError("EFECTY_RECONCILE_SECONDS must be over 0 and at most 3600")
            if missing:
                raise ConfigurationError("missing settings: " + ", ".join(missing))

    @property
    def async_database_url(self) -> str:
        """DATABASE_URL for SQLAlchemy's asyncpg driver."""
        return "postgresql+asyncpg://" + self.database_url.split("://", 1)[1]
