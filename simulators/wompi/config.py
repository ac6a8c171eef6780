"""Start-up configuration of the Wompi simulator: sandbox keys, delays, retries and choices.

Usage: ``create_app(WompiConfig(events_url="http://127.0.0.1:9000/wompi", finalize_delay_seconds=0))``
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import partial

from simulators.common.chaos import WebhookChaosPlan
from simulators.common.faults import FaultPlan

# Wompi's documented retry schedule for a missed event: +30 min, +3 h, +24 h after the first attempt.
WOMPI_RETRY_SCHEDULE: tuple[float, ...] = (30 * 60.0, 3 * 3600.0, 24 * 3600.0)


@dataclass(frozen=True)
class WompiConfig:
    """Everything the simulator needs; defaults are made-up keys with Wompi's sandbox prefixes.

    Usage: ``WompiConfig(seed=7, regenerate_event_signature_on_retry=True)``
    """

    public_key: str = "pub_test_Q5yDA9xoKdePzhSGeVe9HAez7HgGORGf"
    private_key: str = "prv_test_mB2xF4Lq8RnZ0hT6vJ3sWc1yKd9PgE7u"
    events_secret: str = "test_events_4hR9LtUz1wXk6NbQe3YpVc0Gj8MsDf2A"  # noqa: S105 - public test key
    integrity_secret: str = "test_integrity_Vn7Jq2Wb5Hk0Lr3Xs8Yt1Zc6Pd4Mf9Ge"  # noqa: S105 - public test key
    # Number prefixed to every transaction id (<n>-<unix ts>-<5 digits>).
    merchant_number: int = 118437
    merchant_name: str = "Tienda de Pruebas Payharness"
    merchant_email: str = "pagos@tienda-pruebas.example"
    events_url: str | None = None
    # Seeds the ids the simulator hands out: fresh per config, so every start differs (an application whose
    # database outlives a run never meets an id twice); pass one to repeat a run exactly.
    seed: int = field(default_factory=partial(secrets.randbits, 32))
    faults: FaultPlan = field(default_factory=FaultPlan)
    chaos: WebhookChaosPlan = field(default_factory=WebhookChaosPlan)
    # Sim-clock seconds a transaction stays PENDING before its sandbox outcome applies.
    finalize_delay_seconds: float = 2.0
    # Bounds of amount_in_cents, inclusive. Wompi's own pages state none; integrators' pages give
    # 1,500 COP minimum and 99,000,000 COP maximum for cards. Only the maximum is on by default.
    min_amount_in_cents: int = 1
    max_amount_in_cents: int = 99_000_000_00
    # Sim-clock seconds before a PSE transaction shows extra.async_payment_url (clients long-poll for it).
    async_url_delay_seconds: float = 0.0
    nequi_token_delay_seconds: float = 2.0
    acceptance_token_ttl_seconds: float = 3600.0
    card_token_ttl_seconds: float = 1800.0
    # UNCONFIRMED whether a public key may still create transactions; default: private key only.
    transactions_accept_public_key: bool = False
    # UNCONFIRMED whether retries carry a new timestamp/checksum; default: the first body, verbatim.
    regenerate_event_signature_on_retry: bool = False
    retry_schedule: tuple[float, ...] = WOMPI_RETRY_SCHEDULE
    webhook_timeout_seconds: float = 10.0
    # Wompi sandbox ids embed the environment: "test" here, "prod" on production.
    environment: str = "test"
