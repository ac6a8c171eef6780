"""The shop's configuration: where each gateway is and the merchant's keys for it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class WompiAccount:
    """The merchant's Wompi keys; ``base_url`` is https://sandbox.wompi.co in a real sandbox."""

    base_url: str
    public_key: str
    private_key: str
    integrity_secret: str
    events_secret: str


@dataclass(frozen=True)
class PayUAccount:
    """The merchant's PayU Latam account; ``base_url`` is https://sandbox.api.payulatam.com in a real sandbox."""

    base_url: str
    merchant_id: str
    account_id: str
    api_login: str
    api_key: str


@dataclass(frozen=True)
class ShopSettings:
    """Usage: ``create_app(ShopSettings(wompi=WompiAccount(...), payu=PayUAccount(...)))``.

    ``public_url``, when set, is where PayU reaches the shop: each payment's notifyUrl is
    ``<public_url>/webhooks/payu`` (unset: the account's confirmation URL applies).
    ``gateway_timeout`` bounds every call to a gateway, in seconds.
    """

    wompi: WompiAccount
    payu: PayUAccount
    public_url: str | None = None
    gateway_timeout: float = 10.0
