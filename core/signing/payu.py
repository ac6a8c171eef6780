"""PayU Latam signatures: the payment signature, the confirmation ``sign`` and the response-URL signature.

All are a hash over a tilde-joined string that starts with the secret ApiKey (gateways.md §1.6, §1.7).
The confirmation ``sign`` covers only ``merchant_id, reference_sale, new_value, currency, state_pol``:
``transaction_id``, ``reference_pol``, ``response_code_pol`` and the rest are NOT signed, so a verified
POST proves only those five values (gateways.md §4).

Usage::

    sig = payment_signature("4Vj8eK4rloUd272L48hsrarnUA", "508029", "TestPayU", "3", "USD")
    verdict = verify_confirmation(form, api_key=key)   # form: the POSTed fields as a mapping
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from enum import StrEnum

from core.money import payu_confirmation_value, payu_response_value
from core.signing._common import VALID, Verdict, hex_equal, invalid

__all__ = [
    "Algorithm",
    "confirmation_sign",
    "payment_signature",
    "response_signature",
    "verify_confirmation",
]


class Algorithm(StrEnum):
    """Hash used for a PayU signature; the value is what WebCheckout's ``algorithmSignature`` takes."""

    MD5 = "MD5"
    SHA1 = "SHA"
    SHA256 = "SHA256"
    # The 2026 confirmation page signs with HMAC-SHA256 under a separate "Secret Key". We key the HMAC
    # with that secret over the *same* tilde string (ApiKey first); gateways.md says only "the same
    # tilde string", so that reading is our choice.
    HMAC_SHA256 = "HMAC_SHA256"


def _digest(text: str, algorithm: Algorithm, hmac_secret: str | None) -> str:
    data = text.encode("utf-8")
    if algorithm is Algorithm.HMAC_SHA256:
        if not hmac_secret:
            raise ValueError("HMAC-SHA256 needs the separate PayU secret key")
        return hmac.new(hmac_secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
    if algorithm is Algorithm.MD5:
        # MD5/SHA1 are PayU's wire format, not our choice of protection.
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    if algorithm is Algorithm.SHA1:
        return hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _check_part(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, not {type(value).__name__}")
    if "~" in value:
        # A tilde inside a field would let two different field sets produce the same string.
        raise ValueError(f"{name} must not contain '~'")
    return value


def payment_signature(
    api_key: str,
    merchant_id: str,
    reference_code: str,
    tx_value: str,
    currency: str,
    *,
    algorithm: Algorithm = Algorithm.MD5,
    extras: tuple[str, ...] = (),
    hmac_secret: str | None = None,
) -> str:
    """Signature of a payment request or WebCheckout form.

    ``tx_value`` is the amount exactly as sent (``core.money.payu_tx_value``). ``extras`` are the
    WebCheckout ``paymentMethods``, ``iin``, ``pseBanks`` values, appended in that order when sent.
    Usage: ``payment_signature(key, "508029", "TestPayU", "20000", "COP")``.
    """
    parts = [api_key, merchant_id, reference_code, tx_value, currency, *extras]
    names = ["api_key", "merchant_id", "reference_code", "tx_value", "currency"]
    names += [f"extras[{i}]" for i in range(len(extras))]
    text = "~".join(_check_part(n, p) for n, p in zip(names, parts, strict=True))
    return _digest(text, algorithm, hmac_secret)


def confirmation_sign(
    api_key: str,
    merchant_id: str,
    reference_sale: str,
    value: str,
    currency: str,
    state_pol: str,
    *,
    algorithm: Algorithm = Algorithm.MD5,
    hmac_secret: str | None = None,
) -> str:
    """Expected ``sign`` of a confirmation-URL POST; ``value`` is the POSTed ``value`` field as is.

    Usage: ``confirmation_sign(key, "508029", "TestPayU05", "150.26", "USD", "4")``.
    """
    new_value = payu_confirmation_value(value)
    parts = {
        "api_key": api_key,
        "merchant_id": merchant_id,
        "reference_sale": reference_sale,
        "new_value": new_value,
        "currency": currency,
        "state_pol": state_pol,
    }
    text = "~".join(_check_part(n, p) for n, p in parts.items())
    return _digest(text, algorithm, hmac_secret)


def response_signature(
    api_key: str,
    merchant_id: str,
    reference_code: str,
    tx_value: str,
    currency: str,
    transaction_state: str,
    *,
    algorithm: Algorithm = Algorithm.MD5,
) -> str:
    """Expected ``signature`` of the response-URL redirect (``TX_VALUE`` rounded half-even to 0.1).

    The redirect is never authoritative (the buyer may not come back); only the confirmation POST
    changes money state. Usage: ``response_signature(key, "508029", "TestPayU04", "150.25", "USD", "6")``.
    """
    parts = {
        "api_key": api_key,
        "merchant_id": merchant_id,
        "reference_code": reference_code,
        "new_value": payu_response_value(tx_value),
        "currency": currency,
        "transaction_state": transaction_state,
    }
    text = "~".join(_check_part(n, p) for n, p in parts.items())
    return _digest(text, algorithm, None)


_SIGNED_FIELDS = ("merchant_id", "reference_sale", "value", "currency", "state_pol", "sign")


def verify_confirmation(
    form: Mapping[str, str],
    *,
    api_key: str,
    algorithm: Algorithm = Algorithm.MD5,
    hmac_secret: str | None = None,
    expected_merchant_id: str | None = None,
) -> Verdict:
    """Check a confirmation POST's ``sign`` in constant time (hex compared case-insensitively).

    Values are taken from the POST itself, as PayU computes them. Pass ``expected_merchant_id`` to
    refuse a validly signed POST for another merchant account. Usage:
    ``if not verify_confirmation(form, api_key=key): return 401``.
    """
    for field in _SIGNED_FIELDS:
        value = form.get(field)
        if not isinstance(value, str) or not value:
            return invalid(f"missing field {field}")
    if expected_merchant_id is not None and form["merchant_id"] != expected_merchant_id:
        return invalid("merchant_id is not ours")
    try:
        expected = confirmation_sign(
            api_key,
            form["merchant_id"],
            form["reference_sale"],
            form["value"],
            form["currency"],
            form["state_pol"],
            algorithm=algorithm,
            hmac_secret=hmac_secret,
        )
    except (ValueError, TypeError) as exc:
        return invalid(f"unsignable fields: {exc}")
    if not hex_equal(expected, form["sign"].strip()):
        return invalid("sign does not match")
    return VALID
