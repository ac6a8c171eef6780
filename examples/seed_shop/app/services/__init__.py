"""One client per gateway, written from the gateways' public documentation (no SDK, no payharness code)."""


class PaymentError(Exception):
    """Base of the shop's gateway errors (the seed's PayUError tree, flattened)."""


class GatewayUnavailable(PaymentError):
    """The gateway did not answer, or answered 5xx/429."""


class GatewayRefused(PaymentError):
    """The gateway refused the request (credentials, signature, data); nothing was charged."""
