"""PayU's signatures as pure functions: request signature, confirmation ``sign`` and response-URL signature.

Every scheme hashes a tilde-joined string that starts with the merchant's apiKey:

* payment request:   ``ApiKey~merchantId~referenceCode~tx_value~currency``
* confirmation URL:  ``ApiKey~merchant_id~reference_sale~new_value~currency~state_pol``
  with ``new_value`` = ``value`` keeping two decimals unless the second is 0 (no rounding)
* response URL:      ``ApiKey~merchantId~referenceCode~new_value~currency~transactionState``
  with ``new_value`` = ``TX_VALUE`` rounded to one decimal, half to even

The digest is MD5, SHA1 or SHA256 of the string, or (PayU's newer pages) HMAC-SHA256 of the same string
keyed with a separate secret. Hex is compared case-insensitively and in constant time.

Usage: ``confirmation_sign(api_key=k, merchant_id="508029", reference_sale="r1", value="150.00",
currency="USD", state_pol="4")``
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum


class Algorithm(StrEnum):
    """Digest used for a signature; the values are the names the simulator's config accepts."""

    MD5 = "MD5"
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    HMAC_SHA256 = "HMAC_SHA256"


# Hex digest length -> algorithm, for the request signature: PayU's API has no field naming the
# algorithm (WebCheckout has `algorithmSignature`), so the simulator infers it from the length.
_BY_HEX_LENGTH = {32: Algorithm.MD5, 40: Algorithm.SHA1, 64: Algorithm.SHA256}

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


def digest(message: str, algorithm: Algorithm | str = Algorithm.MD5, *, secret: str | None = None) -> str:
    """Lower-case hex digest of ``message``; HMAC_SHA256 needs ``secret`` as the key.

    Usage: ``digest("k~508029~TestPayU~3~USD")`` -> ``"ba9f..."``
    """
    algo = Algorithm(algorithm)
    data = message.encode("utf-8")
    if algo is Algorithm.HMAC_SHA256:
        if not secret:
            raise ValueError("HMAC_SHA256 needs a secret key")
        return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
    if algo is Algorithm.MD5:
        # MD5 is PayU's documented default, used here for compatibility, not for security.
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    if algo is Algorithm.SHA1:
        return hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return hashlib.sha256(data).hexdigest()


def same_hex(given: str | None, expected: str) -> bool:
    """Constant-time, case-insensitive comparison of two hex digests."""
    if not given:
        return False
    return hmac.compare_digest(given.strip().lower().encode(), expected.lower().encode())


def algorithm_for_hex(signature: str) -> Algorithm | None:
    """Guess the digest from a hex signature's length (32 MD5, 40 SHA1, 64 SHA256); None if unknown."""
    return _BY_HEX_LENGTH.get(len(signature.strip()))


# ---------------------------------------------------------------------------------------------- request


def payment_signature_string(
    *, api_key: str, merchant_id: str, reference_code: str, tx_value: str, currency: str
) -> str:
    """The string hashed for a payment request; ``tx_value`` is written exactly as it was sent."""
    return f"{api_key}~{merchant_id}~{reference_code}~{tx_value}~{currency}"


def payment_signature(
    *,
    api_key: str,
    merchant_id: str,
    reference_code: str,
    tx_value: str,
    currency: str,
    algorithm: Algorithm | str = Algorithm.MD5,
) -> str:
    """Signature a merchant puts in ``transaction.order.signature``.

    Usage: ``payment_signature(api_key=k, merchant_id="508029", reference_code="TestPayU",
    tx_value="3", currency="USD")``
    """
    text = payment_signature_string(
        api_key=api_key,
        merchant_id=merchant_id,
        reference_code=reference_code,
        tx_value=tx_value,
        currency=currency,
    )
    return digest(text, algorithm)


def verify_payment_signature(
    signature: str | None,
    *,
    api_key: str,
    merchant_id: str,
    reference_code: str,
    tx_value_forms: tuple[str, ...],
    currency: str,
) -> bool:
    """True when ``signature`` (MD5, SHA1 or SHA256, chosen by length) matches one of the amount forms."""
    if not signature:
        return False
    algo = algorithm_for_hex(signature)
    if algo is None:
        return False
    for form in tx_value_forms:
        expected = payment_signature(
            api_key=api_key,
            merchant_id=merchant_id,
            reference_code=reference_code,
            tx_value=form,
            currency=currency,
            algorithm=algo,
        )
        if same_hex(signature, expected):
            return True
    return False


def amount_forms(amount_text: str, *, lenient: bool) -> tuple[str, ...]:
    """Amount spellings accepted in a request signature: as sent, or (lenient) also 0, 1 and 2 decimals."""
    if not lenient:
        return (amount_text,)
    try:
        value = Decimal(amount_text)
    except InvalidOperation:
        return (amount_text,)
    forms = [amount_text]
    if value == value.to_integral_value():
        forms.append(str(value.to_integral_value()))
    forms.extend([f"{value:.1f}", f"{value:.2f}"])
    return tuple(dict.fromkeys(forms))


# ------------------------------------------------------------------------------------- confirmation URL


def _as_decimal(value: Decimal | str | int) -> Decimal:
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def confirmation_new_value(value: Decimal | str | int) -> str:
    """``new_value`` for the confirmation ``sign``: two decimals, dropping the second when it is 0.

    Never rounds: PayU posts ``value`` with two decimals, so a third decimal is an error here.
    ``150.00`` -> ``150.0``, ``150.26`` -> ``150.26``, ``150`` -> ``150.0``.
    """
    amount = _as_decimal(value)
    if amount != amount.quantize(_CENT):
        raise ValueError(f"confirmation value has more than two decimals: {value!r}")
    text = f"{amount.quantize(_CENT):f}"
    return text[:-1] if text.endswith("0") else text


def confirmation_sign_string(
    *,
    api_key: str,
    merchant_id: str,
    reference_sale: str,
    value: Decimal | str,
    currency: str,
    state_pol: str,
) -> str:
    """The string hashed for the confirmation ``sign``."""
    new_value = confirmation_new_value(value)
    return f"{api_key}~{merchant_id}~{reference_sale}~{new_value}~{currency}~{state_pol}"


def confirmation_sign(
    *,
    api_key: str,
    merchant_id: str,
    reference_sale: str,
    value: Decimal | str,
    currency: str,
    state_pol: str | int,
    algorithm: Algorithm | str = Algorithm.MD5,
    secret: str | None = None,
) -> str:
    """``sign`` posted to the confirmation URL.

    Usage: ``confirmation_sign(api_key=k, merchant_id="508029", reference_sale="TestPayU05",
    value="150.26", currency="USD", state_pol="4")`` -> ``"1d95778a..."``
    """
    text = confirmation_sign_string(
        api_key=api_key,
        merchant_id=merchant_id,
        reference_sale=reference_sale,
        value=value,
        currency=currency,
        state_pol=str(state_pol),
    )
    return digest(text, algorithm, secret=secret)


def verify_confirmation(
    fields: Mapping[str, str],
    *,
    api_key: str,
    algorithm: Algorithm | str = Algorithm.MD5,
    secret: str | None = None,
) -> bool:
    """True when a posted confirmation's ``sign`` matches its own fields, as PayU tells merchants to check."""
    try:
        expected = confirmation_sign(
            api_key=api_key,
            merchant_id=fields["merchant_id"],
            reference_sale=fields["reference_sale"],
            value=fields["value"],
            currency=fields["currency"],
            state_pol=fields["state_pol"],
            algorithm=algorithm,
            secret=secret,
        )
    except (KeyError, ValueError):
        return False
    return same_hex(fields.get("sign"), expected)


# ----------------------------------------------------------------------------------------- response URL


def response_new_value(tx_value: Decimal | str | int) -> str:
    """``new_value`` for the response-URL signature: one decimal, round half to even.

    ``150.25`` -> ``150.2``, ``150.35`` -> ``150.4``, ``150.34`` -> ``150.3``.
    """
    return f"{_as_decimal(tx_value).quantize(_TENTH, rounding=ROUND_HALF_EVEN):f}"


def response_signature(
    *,
    api_key: str,
    merchant_id: str,
    reference_code: str,
    tx_value: Decimal | str,
    currency: str,
    transaction_state: str | int,
    algorithm: Algorithm | str = Algorithm.MD5,
    secret: str | None = None,
) -> str:
    """``signature`` PayU appends to the response (redirect) URL.

    Usage: ``response_signature(api_key=k, merchant_id="508029", reference_code="TestPayU04",
    tx_value="150.25", currency="USD", transaction_state="6")`` -> ``"00286dc7..."``
    """
    new_value = response_new_value(tx_value)
    text = f"{api_key}~{merchant_id}~{reference_code}~{new_value}~{currency}~{transaction_state}"
    return digest(text, algorithm, secret=secret)
