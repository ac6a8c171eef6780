"""Start-up configuration of the PayU simulator: sandbox credentials, delays, retries and choices.

Usage: ``create_app(PayUConfig(webhook_signing="HMAC_SHA256", pending_card_delay_seconds=30))``
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from simulators.common.chaos import WebhookChaosPlan
from simulators.common.faults import FaultPlan

# PayU documents "a maximum of nine attempts" (2016–2021) but never the intervals. Chosen here:
# seconds after the FIRST attempt for attempts 2..9 (1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h).
PAYU_RETRY_SCHEDULE: tuple[float, ...] = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)

# Documented sandbox account ids by country (test-your-solution page).
SANDBOX_ACCOUNTS: dict[str, str] = {
    "512322": "AR",
    "512327": "BR",
    "512325": "CL",
    "512321": "CO",
    "512324": "MX",
    "512326": "PA",
    "512323": "PE",
}

# Cash limits in COP (payments-api-colombia page): (minimum, maximum), both inclusive.
CASH_LIMITS: dict[str, tuple[Decimal, Decimal]] = {
    "EFECTY": (Decimal("20000"), Decimal("6000000")),
    "OTHERS_CASH": (Decimal("1000"), Decimal("4000000")),
}


@dataclass(frozen=True)
class PayUConfig:
    """Everything the simulator needs; defaults are PayU's public sandbox credentials.

    Usage: ``PayUConfig(seed=7, validate_unique_reference=False)``
    """

    merchant_id: str = "508029"
    api_login: str = "pRRXKOl8ikMmt9u"
    api_key: str = "4Vj8eK4rloUd272L48hsrarnUA"
    public_key: str = "PKaC6H4cEDJD919n705L544kSU"
    accounts: dict[str, str] = field(default_factory=lambda: dict(SANDBOX_ACCOUNTS))
    # ISO 4217 codes the account may charge in; PayU's own Colombian examples use COP and USD.
    currencies: tuple[str, ...] = ("COP", "USD")
    # Seeds the ids the simulator hands out: fresh per config, so every start differs (an application whose
    # database outlives a run never meets an id twice); pass one to repeat a run exactly.
    seed: int = field(default_factory=partial(secrets.randbits, 32))
    faults: FaultPlan = field(default_factory=FaultPlan)
    chaos: WebhookChaosPlan = field(default_factory=WebhookChaosPlan)
    # Account-level confirmation URL (PayU Module setting); a request's notifyUrl wins over it.
    default_confirmation_url: str | None = None
    # How the confirmation `sign` is made: MD5 with the apiKey (PayU's classic default), SHA1, SHA256,
    # or HMAC_SHA256 keyed with `webhook_secret` (PayU's 2026 page).
    webhook_signing: str = "MD5"
    webhook_secret: str = "test123"  # noqa: S105 - the secret of PayU's published HMAC example
    retry_schedule: tuple[float, ...] = PAYU_RETRY_SCHEDULE
    webhook_timeout_seconds: float = 10.0
    # UNCONFIRMED: HTTP status PayU uses with a {"code": "ERROR"} body; chosen 200 (the body carries it).
    error_http_status: int = 200
    verify_request_signature: bool = True
    # UNCONFIRMED how PayU normalises decimals in tx_value; default: the amount exactly as sent.
    lenient_amount_signature: bool = False
    # UNCONFIRMED duplicate-reference behaviour (an account option at PayU); default: refuse reuse.
    validate_unique_reference: bool = True
    # A sandbox PENDING card stays pending until /__admin makes it final, unless a delay is set.
    pending_card_delay_seconds: float | None = None
    pending_card_final_state: str = "APPROVED"
    # Likewise for PSE, which waits for the payer at the bank.
    pse_delay_seconds: float | None = None
    pse_final_state: str = "APPROVED"
    cash_limits: dict[str, tuple[Decimal, Decimal]] = field(default_factory=lambda: dict(CASH_LIMITS))
    cash_expiry_days: int = 7
    # PayU says an Efecty payment is confirmed about 15 minutes after the cashier takes the money;
    # default 0 so a test sees the confirmation at once (set 900 to model the lag).
    cash_confirmation_delay_seconds: float = 0.0
    # Base of the receipt URLs in cash responses; None = the URL the request came in on.
    public_base_url: str | None = None

    def credentials(self) -> dict[str, str]:
        """What a client needs to call this simulator (printed by ``simulators.serve``).

        Usage: ``PayUConfig().credentials()["api_key"]``
        """
        creds = {
            "merchant_id": self.merchant_id,
            "account_id": next((a for a, country in self.accounts.items() if country == "CO"), ""),
            "api_login": self.api_login,
            "api_key": self.api_key,
            "public_key": self.public_key,
            "confirmation_signing": self.webhook_signing,
        }
        if self.webhook_signing == "HMAC_SHA256":
            creds["webhook_secret"] = self.webhook_secret
        return creds
