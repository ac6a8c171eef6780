"""The optional payment push (off by default): a JSON body with a signature over its key fields.

Efecty publishes no webhook, so the format is the simulator's own: header ``X-Efecty-Signature`` is
hex HMAC-SHA256, keyed with the notify secret, of ``payment_code|amount|paid_at|authorization_code``.
The other fields (point_id, attempt, sent_at) are deliberately unsigned, so tampering with them keeps
the signature valid, as with PayU's confirmation.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from simulators.common.chaos import MissingSignature, TamperSigned, TamperUnsigned, WrongSecret
from simulators.common.delivery import WebhookMessage
from simulators.efecty.state import Payment

SIGNED_FIELDS = ("payment_code", "amount", "paid_at", "authorization_code")
SIGNATURE_HEADER = "X-Efecty-Signature"


def notify_signature(payment: dict[str, Any], secret: str) -> str:
    """Pure: ``notify_signature({"payment_code": "A1", "amount": "1000.00", ...}, secret)`` -> hex."""
    message = "|".join(str(payment[name]) for name in SIGNED_FIELDS)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PaymentNotice:
    """WebhookBuilder for one payment: same event on every attempt, ``attempt`` counts up."""

    payment: Payment
    convenio: str
    secret: str
    sent_at: str

    def request(self, attempt: int, chaos: tuple[object, ...]) -> tuple[bytes, dict[str, str]]:
        payment = self.payment.to_json()
        secret = self.secret
        for c in chaos:
            if isinstance(c, TamperUnsigned):
                payment[c.field] = c.value
            elif isinstance(c, WrongSecret):
                secret = f"not-{self.secret}"
        signature = notify_signature(payment, secret)
        for c in chaos:
            if isinstance(c, TamperSigned):
                payment[c.field] = c.value
        body = {
            "event": "payment.created",
            "convenio": self.convenio,
            "payment": payment,
            "sent_at": self.sent_at,
            "attempt": attempt,
        }
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        if any(isinstance(c, MissingSignature) for c in chaos):
            del headers[SIGNATURE_HEADER]
        return json.dumps(body, separators=(",", ":")).encode(), headers


def payment_message(notice: PaymentNotice, url: str) -> WebhookMessage:
    return WebhookMessage(
        gateway="efecty",
        kind="payment.created",
        url=url,
        event_key=f"{notice.payment.payment_code}:{notice.payment.operation_id}",
        build=notice,
    )
