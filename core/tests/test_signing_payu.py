"""Table tests for the core's PayU signers and confirmation verifier against gateways.md §1.6/§1.7 vectors."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.signing.payu import (
    Algorithm,
    confirmation_sign,
    payment_signature,
    response_signature,
    verify_confirmation,
)

pytestmark = pytest.mark.scenario("PAYU-SIGNATURE")

SANDBOX_KEY = "4Vj8eK4rloUd272L48hsrarnUA"
MERCHANT = "508029"


@pytest.mark.parametrize(
    ("reference", "value", "currency", "expected"),
    [
        ("TestPayU", "3", "USD", "ba9ffa71559580175585e45ce70b6c37"),
        ("TestPayU", "20000", "COP", "7ee7cf808ce6a39b17481c54f2c57acc"),
        ("PRODUCT_TEST_2021-06-23T19:59:43.229Z", "65000", "COP", "1d6c33aed575c4974ad5c0be7c6a1c87"),
    ],
)
def test_payment_signature_matches_documented_md5(reference: str, value: str, currency: str, expected: str) -> None:
    assert payment_signature(SANDBOX_KEY, MERCHANT, reference, value, currency) == expected


def test_payment_signature_sha_variants_hash_the_same_string() -> None:
    text = f"{SANDBOX_KEY}~{MERCHANT}~TestPayU~20000~COP".encode()
    assert payment_signature(SANDBOX_KEY, MERCHANT, "TestPayU", "20000", "COP", algorithm=Algorithm.SHA1) == (
        hashlib.sha1(text, usedforsecurity=False).hexdigest()
    )
    assert payment_signature(SANDBOX_KEY, MERCHANT, "TestPayU", "20000", "COP", algorithm=Algorithm.SHA256) == (
        hashlib.sha256(text).hexdigest()
    )


def test_payment_signature_with_decimals_is_not_the_documented_one() -> None:
    # The Colombia example signs "65000"; writing "65000.00" gives a different, rejected signature.
    assert (
        payment_signature(SANDBOX_KEY, MERCHANT, "PRODUCT_TEST_2021-06-23T19:59:43.229Z", "65000.00", "COP")
        != "1d6c33aed575c4974ad5c0be7c6a1c87"
    )


def test_payment_signature_appends_webcheckout_extras_in_order() -> None:
    text = f"{SANDBOX_KEY}~{MERCHANT}~TestPayU~20000~COP~VISA,PSE~411111~1022".encode()
    sig = payment_signature(SANDBOX_KEY, MERCHANT, "TestPayU", "20000", "COP", extras=("VISA,PSE", "411111", "1022"))
    assert sig == hashlib.md5(text, usedforsecurity=False).hexdigest()


def test_a_tilde_inside_a_field_is_refused() -> None:
    with pytest.raises(ValueError, match="~"):
        payment_signature(SANDBOX_KEY, MERCHANT, "Test~PayU", "3", "USD")


@pytest.mark.parametrize(
    ("reference", "value", "state", "expected"),
    [
        ("TestPayU05", "150.26", "4", "1d95778a651e11a0ab93c2169a519cd6"),
        ("TestPayU04", "150.00", "6", "df67936f918887b2aa31688a77a10fe1"),
        ("TestPayU04", "150", "6", "df67936f918887b2aa31688a77a10fe1"),
    ],
)
def test_confirmation_sign_matches_documented_md5(reference: str, value: str, state: str, expected: str) -> None:
    assert confirmation_sign(SANDBOX_KEY, MERCHANT, reference, value, "USD", state) == expected


def _form(**overrides: str) -> dict[str, str]:
    form = {
        "merchant_id": MERCHANT,
        "reference_sale": "TestPayU05",
        "value": "150.26",
        "currency": "USD",
        "state_pol": "4",
        "sign": "1d95778a651e11a0ab93c2169a519cd6",
        "transaction_id": "aa2f50b2-62a8-42de-b3be-c6fe08ec712f",
    }
    form.update(overrides)
    return form


def test_documented_confirmation_verifies_in_any_hex_case() -> None:
    assert verify_confirmation(_form(), api_key=SANDBOX_KEY)
    assert verify_confirmation(_form(sign="1D95778A651E11A0AB93C2169A519CD6"), api_key=SANDBOX_KEY)


def test_doc_error_state_six_hash_printed_in_2022_does_not_verify() -> None:
    # The 2022+ page prints b607… for state 6; it is the hash of the state-4 string (gateways.md §5.4).
    form = _form(reference_sale="TestPayU04", value="150.00", state_pol="6", sign="b607a2c2fa100e0947b206d41864fb86")
    verdict = verify_confirmation(form, api_key=SANDBOX_KEY)
    assert not verdict
    assert verdict.reason == "sign does not match"
    assert verify_confirmation(form | {"state_pol": "4"}, api_key=SANDBOX_KEY)


def test_doc_sample_post_sign_does_not_verify_with_the_sandbox_key() -> None:
    form = _form(value="100.00", state_pol="6", sign="e1b0939bbdc99ea84387bee9b90e4f5c")
    assert not verify_confirmation(form, api_key=SANDBOX_KEY)


@pytest.mark.parametrize(
    "tamper",
    [
        {"value": "150.27"},
        {"state_pol": "6"},
        {"currency": "COP"},
        {"reference_sale": "TestPayU06"},
        {"merchant_id": "508030"},
        {"sign": "1d95778a651e11a0ab93c2169a519cd7"},
        {"sign": "1d95778a651e11a0ab93c2169a519cd"},
        {"sign": "not-hex-at-all-ñ"},
    ],
)
def test_tampered_signed_fields_do_not_verify(tamper: dict[str, str]) -> None:
    assert not verify_confirmation(_form(**tamper), api_key=SANDBOX_KEY)


def test_unsigned_fields_can_change_and_still_verify() -> None:
    # This is why the webhook path must not trust transaction_id & co. (gateways.md §4).
    assert verify_confirmation(_form(transaction_id="forged", reference_pol="999"), api_key=SANDBOX_KEY)


@pytest.mark.parametrize("missing", ["merchant_id", "reference_sale", "value", "currency", "state_pol", "sign"])
def test_missing_signed_field_is_refused_with_its_name(missing: str) -> None:
    form = _form()
    del form[missing]
    verdict = verify_confirmation(form, api_key=SANDBOX_KEY)
    assert not verdict
    assert missing in verdict.reason


def test_unparseable_value_is_refused_not_raised() -> None:
    verdict = verify_confirmation(_form(value="150.2.6"), api_key=SANDBOX_KEY)
    assert not verdict
    assert "unsignable" in verdict.reason


def test_wrong_key_does_not_verify() -> None:
    assert not verify_confirmation(_form(), api_key="6u39nqhq8ftd0hlvnjfs66eh8c")


def test_expected_merchant_is_enforced() -> None:
    assert not verify_confirmation(_form(), api_key=SANDBOX_KEY, expected_merchant_id="500238")


def test_hmac_variant_uses_the_separate_secret() -> None:
    text = f"{SANDBOX_KEY}~{MERCHANT}~PayUTest01~150.25~USD~4".encode()
    expected = hmac.new(b"test123", text, hashlib.sha256).hexdigest()
    assert (
        confirmation_sign(
            SANDBOX_KEY,
            MERCHANT,
            "PayUTest01",
            "150.25",
            "USD",
            "4",
            algorithm=Algorithm.HMAC_SHA256,
            hmac_secret="test123",
        )
        == expected
    )
    form = _form(reference_sale="PayUTest01", value="150.25", sign=expected)
    assert verify_confirmation(form, api_key=SANDBOX_KEY, algorithm=Algorithm.HMAC_SHA256, hmac_secret="test123")
    assert not verify_confirmation(form, api_key=SANDBOX_KEY, algorithm=Algorithm.HMAC_SHA256, hmac_secret="x")
    # Same digest length as SHA-256, but a plain SHA-256 of the string must not pass as the HMAC.
    plain = _form(reference_sale="PayUTest01", value="150.25", sign=hashlib.sha256(text).hexdigest())
    assert not verify_confirmation(plain, api_key=SANDBOX_KEY, algorithm=Algorithm.HMAC_SHA256, hmac_secret="test123")


def test_hmac_without_secret_is_refused() -> None:
    verdict = verify_confirmation(_form(), api_key=SANDBOX_KEY, algorithm=Algorithm.HMAC_SHA256)
    assert not verdict


def test_one_decimal_value_uses_the_confirmation_rule_not_the_response_rule() -> None:
    # 150.25: confirmation keeps 150.25; the response rule would write 150.2.
    conf = confirmation_sign(SANDBOX_KEY, MERCHANT, "TestPayU04", "150.25", "USD", "6")
    text = f"{SANDBOX_KEY}~{MERCHANT}~TestPayU04~150.25~USD~6".encode()
    assert conf == hashlib.md5(text, usedforsecurity=False).hexdigest()
    resp = response_signature(SANDBOX_KEY, MERCHANT, "TestPayU04", "150.25", "USD", "6")
    assert (
        resp
        == hashlib.md5(f"{SANDBOX_KEY}~{MERCHANT}~TestPayU04~150.2~USD~6".encode(), usedforsecurity=False).hexdigest()
    )
    assert conf != resp


@given(
    reference=st.text(alphabet=st.characters(blacklist_characters="~", blacklist_categories=["Cs"]), min_size=1),
    cents=st.integers(min_value=0, max_value=10**12),
    state=st.sampled_from(["4", "5", "6"]),
)
def test_any_signed_confirmation_verifies_and_any_other_state_does_not(reference: str, cents: int, state: str) -> None:
    value = f"{cents // 100}.{cents % 100:02d}"
    sign = confirmation_sign(SANDBOX_KEY, MERCHANT, reference, value, "COP", state)
    form = {
        "merchant_id": MERCHANT,
        "reference_sale": reference,
        "value": value,
        "currency": "COP",
        "state_pol": state,
        "sign": sign,
    }
    assert verify_confirmation(form, api_key=SANDBOX_KEY)
    other = {"4": "6", "5": "4", "6": "5"}[state]
    assert not verify_confirmation(form | {"state_pol": other}, api_key=SANDBOX_KEY)
