"""Start-up configuration of the Efecty simulator: merchant and cashier keys, convenio, limits, push.

Usage: ``create_app(EfectyConfig(notify_url="http://127.0.0.1:9000/efecty", seed=3))``
"""

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from simulators.common.chaos import WebhookChaosPlan
from simulators.common.faults import FaultPlan

# Efecty has no public push; these offsets (after the first attempt) are the simulator's own choice.
EFECTY_RETRY_SCHEDULE: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)


@dataclass(frozen=True)
class EfectyConfig:
    """Everything the simulator needs; Efecty publishes no sandbox, so every default is invented.

    Usage: ``EfectyConfig(min_amount=Decimal("20000.00"), max_amount=Decimal("3000000.00"))``
    """

    merchant_api_key: str = "efecty_test_key_7Qm2Vx9Lr4Tn8Kd1"
    point_key: str = "efecty_point_key_3Hs6Wb0Zp5Jc"
    convenio: str = "110634"
    # The biller's NIT (10 digits with check digit) and collecting account, for the Asobancaria header.
    merchant_nit: str = "9001234567"
    bank_code: str = "000"
    account_number: str = "110634"
    account_type: str = "01"
    # PayU's Efecty range is 20,000-6,000,000 COP and Solidgate's minimum is 1,000 (gateways.md §3).
    min_amount: Decimal = Decimal("1000.00")
    max_amount: Decimal = Decimal("6000000.00")
    # Header/control records are written this long; details always 162 (gateways.md §3 note).
    control_record_length: int = 162
    notify_url: str | None = None
    notify_secret: str = "efecty_notify_secret_P8r3Ty6Ua1"  # noqa: S105 - invented test secret
    retry_schedule: tuple[float, ...] = EFECTY_RETRY_SCHEDULE
    webhook_timeout_seconds: float = 10.0
    # Seeds the ids the simulator hands out: fresh per config, so every start differs (an application whose
    # database outlives a run never meets an id twice); pass one to repeat a run exactly.
    seed: int = field(default_factory=partial(secrets.randbits, 32))
    faults: FaultPlan = field(default_factory=FaultPlan)
    chaos: WebhookChaosPlan = field(default_factory=WebhookChaosPlan)

    def credentials(self) -> dict[str, str]:
        """What a merchant (and a cashier) needs to talk to this simulator."""
        return {
            "merchant_api_key": self.merchant_api_key,
            "point_key": self.point_key,
            "convenio": self.convenio,
            "notify_secret": self.notify_secret,
        }
