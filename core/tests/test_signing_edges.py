"""Edges of the core's signers and verifiers that the vector tables do not reach.

The verdict's reason is the detail of the webhook's 401 (``core/webhooks/*.py``), and a refused field
names itself, so the wording is pinned here exactly; the rest are the boundaries of what is signable
(zero cents, exactly MAX_PROPERTIES properties, a finite Decimal) and what is refused (a boolean, NaN,
an empty field), plus MD5/SHA1 on an OpenSSL in FIPS mode.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

import pytest

from core.signing import payu as payu_signing
from core.signing.payu import (
    Algorithm,
    confirmation_sign,
    payment_signature,
    response_signature,
    verify_confirmation,
)
from core.signing.wompi import (
    MAX_PROPERTIES,
    REQUIRED_PROPERTIES,
    EventSignatureError,
    event_checksum,
    integrity_signature,
    verify_event,
)

SANDBOX_KEY = "4Vj8eK4rloUd272L48hsrarnUA"
MERCHANT = "508029"
INTEGRITY = "prod_integrity_Z5mMke9x0k8gpErbDqwrJXMqsI6SFli6"
EVENTS = "prod_events_OcHnIzeBl5socpwByQ4hA52Em3USQ93Z"
DOC_RECOMPUTED = "5a18ec5e8fdb7df463e9f94774cba8f583ba21bd04a09ceff2ea68a4bc0aefbe"


# --- PayU -------------------------------------------------------------------------------------------

PAYMENT_FIELDS = ["api_key", "merchant_id", "reference_code", "tx_value", "currency"]


@pytest.mark.scenario("PAYU-SIGNATURE")
@pytest.mark.parametrize("field", PAYMENT_FIELDS)
def test_payment_signature_names_the_field_holding_a_tilde(field: str) -> None:
    args = dict(zip(PAYMENT_FIELDS, [SANDBOX_KEY, MERCHANT, "TestPayU", "3", "USD"], strict=True))
    args[field] = "a~b"
    with pytest.raises(ValueError, match=rf"^{field} must not contain '~'$"):
        payment_signature(*args.values())


@pytest.mark.scenario("PAYU-SIGNATURE")
@pytest.mark.parametrize("field", PAYMENT_FIELDS)
def test_payment_signature_names_the_field_that_is_not_a_string(field: str) -> None:
    args: dict[str, Any] = dict(zip(PAYMENT_FIELDS, [SANDBOX_KEY, MERCHANT, "TestPayU", "3", "USD"], strict=True))
    args[field] = 3
    with pytest.raises(TypeError, match=rf"^{field} must be str, not int$"):
        payment_signature(*args.values())


@pytest.mark.scenario("PAYU-SIGNATURE")
def test_payment_signature_names_the_webcheckout_extra_holding_a_tilde() -> None:
    with pytest.raises(ValueError, match=r"^extras\[1\] must not contain '~'$"):
        payment_signature(SANDBOX_KEY, MERCHANT, "TestPayU", "3", "USD", extras=("VISA", "41~1111"))


CONFIRMATION_FIELDS = ["api_key", "merchant_id", "reference_sale", "new_value", "currency", "state_pol"]


@pytest.mark.scenario("PAYU-SIGNATURE")
@pytest.mark.parametrize("field", [f for f in CONFIRMATION_FIELDS if f != "new_value"])
def test_confirmation_sign_names_the_field_holding_a_tilde(field: str) -> None:
    args = dict(zip(CONFIRMATION_FIELDS, [SANDBOX_KEY, MERCHANT, "TestPayU05", "150.26", "USD", "4"], strict=True))
    args[field] = "a~b"
    with pytest.raises(ValueError, match=rf"^{field} must not contain '~'$"):
        confirmation_sign(*args.values())


@pytest.mark.scenario("PAYU-SIGNATURE")
def test_confirmation_sign_names_the_normalised_value_when_it_is_not_a_string(monkeypatch: pytest.MonkeyPatch) -> None:
    # new_value is what core.money makes of the POSTed value; should it ever hand back a non-string, the
    # error names the signed part (new_value), not the POST field.
    monkeypatch.setattr(payu_signing, "payu_confirmation_value", lambda value: 150)
    with pytest.raises(TypeError, match=r"^new_value must be str, not int$"):
        confirmation_sign(SANDBOX_KEY, MERCHANT, "TestPayU05", "150.26", "USD", "4")


RESPONSE_FIELDS = ["api_key", "merchant_id", "reference_code", "new_value", "currency", "transaction_state"]


@pytest.mark.scenario("PAYU-SIGNATURE")
@pytest.mark.parametrize("field", [f for f in RESPONSE_FIELDS if f != "new_value"])
def test_response_signature_names_the_field_holding_a_tilde(field: str) -> None:
    args = dict(zip(RESPONSE_FIELDS, [SANDBOX_KEY, MERCHANT, "TestPayU04", "150.25", "USD", "6"], strict=True))
    args[field] = "a~b"
    with pytest.raises(ValueError, match=rf"^{field} must not contain '~'$"):
        response_signature(*args.values())


@pytest.mark.scenario("PAYU-SIGNATURE")
def test_response_signature_names_the_rounded_value_when_it_is_not_a_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payu_signing, "payu_response_value", lambda value: 150)
    with pytest.raises(TypeError, match=r"^new_value must be str, not int$"):
        response_signature(SANDBOX_KEY, MERCHANT, "TestPayU04", "150.25", "USD", "6")


@pytest.mark.scenario("PAYU-SIGNATURE")
def test_payment_signature_keys_the_hmac_variant_with_the_separate_secret() -> None:
    text = f"{SANDBOX_KEY}~{MERCHANT}~TestPayU~20000~COP".encode()
    got = payment_signature(
        SANDBOX_KEY, MERCHANT, "TestPayU", "20000", "COP", algorithm=Algorithm.HMAC_SHA256, hmac_secret="test123"
    )
    assert got == hmac.new(b"test123", text, hashlib.sha256).hexdigest()
    with pytest.raises(ValueError, match="secret key"):
        payment_signature(SANDBOX_KEY, MERCHANT, "TestPayU", "20000", "COP", algorithm=Algorithm.HMAC_SHA256)


def _fips_hash(real: Any) -> Any:
    """``real`` as an OpenSSL in FIPS mode offers it: refused unless declared not for security."""

    def constructor(data: bytes = b"", *, usedforsecurity: bool = True) -> Any:
        if usedforsecurity is not False:
            raise ValueError("[digital envelope routines] unsupported (FIPS mode)")
        return real(data, usedforsecurity=False)

    return constructor


@pytest.mark.scenario("PAYU-SIGNATURE")
def test_md5_and_sha1_signatures_still_work_on_a_fips_mode_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # MD5 and SHA1 are PayU's wire format, not our protection: a FIPS host refuses them for security use
    # only, so the signer must say so or every PayU confirmation would fail there.
    monkeypatch.setattr(hashlib, "md5", _fips_hash(hashlib.md5))
    monkeypatch.setattr(hashlib, "sha1", _fips_hash(hashlib.sha1))
    text = f"{SANDBOX_KEY}~{MERCHANT}~TestPayU~20000~COP".encode()
    assert payment_signature(SANDBOX_KEY, MERCHANT, "TestPayU", "20000", "COP") == "7ee7cf808ce6a39b17481c54f2c57acc"
    assert payment_signature(SANDBOX_KEY, MERCHANT, "TestPayU", "20000", "COP", algorithm=Algorithm.SHA1) == (
        hashlib.sha1(text, usedforsecurity=False).hexdigest()
    )


def _form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "merchant_id": MERCHANT,
        "reference_sale": "TestPayU05",
        "value": "150.26",
        "currency": "USD",
        "state_pol": "4",
        "sign": "1d95778a651e11a0ab93c2169a519cd6",
    }
    form.update(overrides)
    return form


@pytest.mark.scenario("PAYU-SIGNATURE")
@pytest.mark.parametrize("field", ["merchant_id", "reference_sale", "value", "currency", "state_pol", "sign"])
def test_an_empty_signed_field_is_refused_as_missing(field: str) -> None:
    verdict = verify_confirmation(_form(**{field: ""}), api_key=SANDBOX_KEY)
    assert not verdict
    assert verdict.reason == f"missing field {field}"


@pytest.mark.scenario("PAYU-SIGNATURE")
def test_a_non_string_signed_field_is_refused_as_missing() -> None:
    verdict = verify_confirmation(_form(value=150.26), api_key=SANDBOX_KEY)
    assert not verdict
    assert verdict.reason == "missing field value"


@pytest.mark.scenario("PAYU-SIGNATURE")
def test_another_merchants_confirmation_is_refused_with_its_reason_and_ours_passes() -> None:
    verdict = verify_confirmation(_form(), api_key=SANDBOX_KEY, expected_merchant_id="500238")
    assert not verdict
    assert verdict.reason == "merchant_id is not ours"
    assert verify_confirmation(_form(), api_key=SANDBOX_KEY, expected_merchant_id=MERCHANT)


# --- Wompi integrity signature ------------------------------------------------------------------------


@pytest.mark.scenario("WH-SIGNATURE")
def test_integrity_signature_signs_zero_cents_and_refuses_negative_ones() -> None:
    for cents in (0, 1):
        expected = hashlib.sha256(f"ref-{cents}{cents}COP{INTEGRITY}".encode()).hexdigest()
        assert integrity_signature(f"ref-{cents}", cents, "COP", INTEGRITY) == expected
    with pytest.raises(ValueError, match="negative"):
        integrity_signature("ref", -1, "COP", INTEGRITY)


@pytest.mark.scenario("WH-SIGNATURE")
@pytest.mark.parametrize(
    ("reference", "currency", "secret"),
    [("", "COP", INTEGRITY), ("ref", "", INTEGRITY), ("ref", "COP", ""), ("", "", INTEGRITY), ("ref", "", "")],
)
def test_integrity_signature_requires_each_of_reference_currency_and_secret(
    reference: str, currency: str, secret: str
) -> None:
    with pytest.raises(ValueError, match="required"):
        integrity_signature(reference, 100, currency, secret)


# --- Wompi event checksum -----------------------------------------------------------------------------


def _event(**transaction: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {"id": "1234-1610641025-49201", "status": "APPROVED", "amount_in_cents": 4490000}
    tx.update(transaction)
    return {
        "event": "transaction.updated",
        "data": {"transaction": tx},
        "signature": {"properties": list(REQUIRED_PROPERTIES), "checksum": DOC_RECOMPUTED},
        "timestamp": 1530291411,
    }


def _sign(event: dict[str, Any], properties: list[str], concatenation: str) -> dict[str, Any]:
    event["signature"]["properties"] = properties
    event["signature"]["checksum"] = hashlib.sha256(f"{concatenation}{event['timestamp']}{EVENTS}".encode()).hexdigest()
    return event


BASE = "1234-1610641025-49201APPROVED4490000"


@pytest.mark.scenario("WH-SIGNATURE")
def test_a_list_of_exactly_max_properties_verifies_and_one_more_is_refused() -> None:
    extra = [f"f{i:02d}" for i in range(MAX_PROPERTIES - len(REQUIRED_PROPERTIES))]
    event = _event(**{name: name.upper() for name in extra})
    properties = [*REQUIRED_PROPERTIES, *(f"transaction.{name}" for name in extra)]
    assert len(properties) == MAX_PROPERTIES
    _sign(event, properties, BASE + "".join(name.upper() for name in extra))
    assert verify_event(event, events_secret=EVENTS)
    event["data"]["transaction"]["f99"] = "X"
    _sign(event, [*properties, "transaction.f99"], BASE + "".join(name.upper() for name in extra) + "X")
    verdict = verify_event(event, events_secret=EVENTS)
    assert verdict.reason == f"signature.properties lists more than {MAX_PROPERTIES} entries"


@pytest.mark.scenario("WH-SIGNATURE")
def test_an_exact_decimal_property_is_signed_as_its_wire_text() -> None:
    # A body parsed with parse_float=Decimal keeps "12.50" as Wompi hashed it.
    event = _event(tax_rate=Decimal("12.50"))
    _sign(event, [*REQUIRED_PROPERTIES, "transaction.tax_rate"], BASE + "12.50")
    assert verify_event(event, events_secret=EVENTS)


@pytest.mark.scenario("WH-SIGNATURE")
@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_a_non_finite_decimal_property_is_refused_naming_it(value: Decimal) -> None:
    event = _event(tax_rate=value)
    _sign(event, [*REQUIRED_PROPERTIES, "transaction.tax_rate"], BASE + str(value))
    verdict = verify_event(event, events_secret=EVENTS)
    assert verdict.reason == "property transaction.tax_rate is not a finite number"


@pytest.mark.scenario("WH-SIGNATURE")
@pytest.mark.parametrize(("value", "text"), [(True, "True"), (False, "False"), (None, "None")])
def test_boolean_and_null_properties_are_refused_not_signed_as_words(value: Any, text: str) -> None:
    # Wompi documents no text form for them; signing Python's spelling could match a forgery.
    event = _event(flag=value)
    _sign(event, [*REQUIRED_PROPERTIES, "transaction.flag"], BASE + text)
    verdict = verify_event(event, events_secret=EVENTS)
    assert not verdict
    assert verdict.reason == f"property transaction.flag is {value!r}; only strings and numbers are signable"
    with pytest.raises(EventSignatureError):
        event_checksum(event, EVENTS)


@pytest.mark.scenario("WH-SIGNATURE")
def test_an_unsignable_property_is_refused_naming_its_path() -> None:
    event = _event(shipping_address={"city": "Bogotá"})
    _sign(event, [*REQUIRED_PROPERTIES, "transaction.shipping_address"], BASE)
    verdict = verify_event(event, events_secret=EVENTS)
    assert verdict.reason == "property transaction.shipping_address is a dict, not a signable scalar"


@pytest.mark.scenario("WH-SIGNATURE")
def test_a_list_not_beginning_with_the_required_three_is_refused_with_the_list_it_needs() -> None:
    event = _event()
    _sign(event, ["transaction.status", "transaction.id", "transaction.amount_in_cents"], "APPROVED1234")
    verdict = verify_event(event, events_secret=EVENTS)
    assert verdict.reason == (
        "signature.properties must begin with transaction.id, transaction.status, transaction.amount_in_cents"
    )


@pytest.mark.scenario("WH-SIGNATURE")
@pytest.mark.parametrize(
    ("event", "header", "reason"),
    [
        ([], None, "event is not a JSON object"),
        ("1234", DOC_RECOMPUTED, "event is not a JSON object"),
        ({**_event(), "signature": {"properties": list(REQUIRED_PROPERTIES), "checksum": 7}}, None,
         "signature.checksum is not a string"),
        ({**_event(), "signature": {"properties": list(REQUIRED_PROPERTIES)}}, "  ", "no checksum in header or body"),
        (_event(), "ab" * 32, "header and body checksums differ"),
        (_event(), None, None),
    ],
)
def test_verify_event_refusals_carry_their_exact_reason(event: Any, header: str | None, reason: str | None) -> None:
    # The reason is the detail of the webhook's 401.
    verdict = verify_event(event, events_secret=EVENTS, header_checksum=header)
    if reason is None:
        assert verdict
        assert verdict.reason == ""
    else:
        assert not verdict
        assert verdict.reason == reason
