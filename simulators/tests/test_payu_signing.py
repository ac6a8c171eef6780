"""PayU signing against every vector in gateways.md §1.6/§1.7, including the documented doc errors."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from simulators.payu.signing import (
    Algorithm,
    algorithm_for_hex,
    amount_forms,
    confirmation_new_value,
    confirmation_sign,
    digest,
    payment_signature,
    response_new_value,
    response_signature,
    same_hex,
    verify_confirmation,
    verify_payment_signature,
)

API_KEY = "4Vj8eK4rloUd272L48hsrarnUA"
MERCHANT = "508029"
HMAC_SECRET = "test123"


# (reference, tx_value as sent, currency, algorithm, documented/recomputed digest)
PAYMENT_VECTORS = [
    ("TestPayU", "3", "USD", Algorithm.MD5, "ba9ffa71559580175585e45ce70b6c37"),
    ("TestPayU", "20000", "COP", Algorithm.MD5, "7ee7cf808ce6a39b17481c54f2c57acc"),
    (
        "PRODUCT_TEST_2021-06-23T19:59:43.229Z",
        "65000",
        "COP",
        Algorithm.MD5,
        "1d6c33aed575c4974ad5c0be7c6a1c87",
    ),
    # gateways.md: "the docs also give SHA1 and SHA256 digests of the same string; compute them yourself"
    ("TestPayU", "3", "USD", Algorithm.SHA1, "9790fc9c38b7a9af7383e03ff410f308b6ef4c0f"),
    (
        "TestPayU",
        "3",
        "USD",
        Algorithm.SHA256,
        "e43ad790765c4ef8d355dc40782241b76cbd57764b9ebb58d6241b88ff3f5164",
    ),
    ("TestPayU", "20000", "COP", Algorithm.SHA1, "fa890d3f94e12b5cdb62e8771453b99b78e7ccdc"),
    (
        "TestPayU",
        "20000",
        "COP",
        Algorithm.SHA256,
        "af3899a22336b79db46006491d15813158826f944599bf3bf601e2327f898022",
    ),
]


@pytest.mark.parametrize(("reference", "value", "currency", "algorithm", "expected"), PAYMENT_VECTORS)
def test_payment_signature_matches_documented_vector(
    reference: str, value: str, currency: str, algorithm: Algorithm, expected: str
) -> None:
    got = payment_signature(
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_code=reference,
        tx_value=value,
        currency=currency,
        algorithm=algorithm,
    )
    assert got == expected
    assert verify_payment_signature(
        expected.upper(),
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_code=reference,
        tx_value_forms=(value,),
        currency=currency,
    )


def test_payment_signature_writes_the_amount_exactly_as_sent() -> None:
    # The Colombia example signs "65000"; a client that signs "65000.00" does not match it.
    with_decimals = payment_signature(
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_code="PRODUCT_TEST_2021-06-23T19:59:43.229Z",
        tx_value="65000.00",
        currency="COP",
    )
    assert with_decimals != "1d6c33aed575c4974ad5c0be7c6a1c87"
    assert not verify_payment_signature(
        "1d6c33aed575c4974ad5c0be7c6a1c87",
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_code="PRODUCT_TEST_2021-06-23T19:59:43.229Z",
        tx_value_forms=("65000.00",),
        currency="COP",
    )


def test_lenient_amount_forms_accept_integer_and_decimal_spellings() -> None:
    assert amount_forms("65000.00", lenient=False) == ("65000.00",)
    assert set(amount_forms("65000.00", lenient=True)) == {"65000.00", "65000", "65000.0"}
    assert verify_payment_signature(
        "1d6c33aed575c4974ad5c0be7c6a1c87",
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_code="PRODUCT_TEST_2021-06-23T19:59:43.229Z",
        tx_value_forms=amount_forms("65000.00", lenient=True),
        currency="COP",
    )


@pytest.mark.parametrize(
    ("signature", "expected"),
    [("a" * 32, Algorithm.MD5), ("a" * 40, Algorithm.SHA1), ("a" * 64, Algorithm.SHA256), ("a" * 10, None)],
)
def test_request_algorithm_is_inferred_from_digest_length(signature: str, expected: Algorithm | None) -> None:
    assert algorithm_for_hex(signature) == expected


def test_wrong_key_or_garbage_signature_does_not_verify() -> None:
    good = "ba9ffa71559580175585e45ce70b6c37"
    kwargs = {
        "merchant_id": MERCHANT,
        "reference_code": "TestPayU",
        "tx_value_forms": ("3",),
        "currency": "USD",
    }
    assert not verify_payment_signature(good, api_key="another-key", **kwargs)  # type: ignore[arg-type]
    assert not verify_payment_signature("zz", api_key=API_KEY, **kwargs)  # type: ignore[arg-type]
    assert not verify_payment_signature(None, api_key=API_KEY, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- confirmation URL


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150.00", "150.0"),
        ("150.26", "150.26"),
        ("150.25", "150.25"),
        ("150.05", "150.05"),  # derived from the rule: the second decimal is not 0, keep both
        ("150.50", "150.5"),
        ("150", "150.0"),  # the 2026 PHP sample turns an integer into X.0
        (Decimal("65000.00"), "65000.0"),
    ],
)
def test_confirmation_new_value_drops_only_a_trailing_zero(value: str | Decimal, expected: str) -> None:
    assert confirmation_new_value(value) == expected


def test_confirmation_new_value_never_rounds() -> None:
    with pytest.raises(ValueError):
        confirmation_new_value("150.255")


# (reference, value, currency, state_pol, algorithm, secret, expected)
CONFIRMATION_VECTORS = [
    ("TestPayU05", "150.26", "USD", "4", Algorithm.MD5, None, "1d95778a651e11a0ab93c2169a519cd6"),
    # printed on the 2016–2021 pages for state 6
    ("TestPayU04", "150.00", "USD", "6", Algorithm.MD5, None, "df67936f918887b2aa31688a77a10fe1"),
    # the 2022+ pages print this hash under state 6; it is really the state-4 hash
    ("TestPayU04", "150.00", "USD", "4", Algorithm.MD5, None, "b607a2c2fa100e0947b206d41864fb86"),
    # sample POST (reference_sale "2015-05-27 13:04:37") recomputed with the sandbox apiKey
    ("2015-05-27 13:04:37", "100.00", "USD", "6", Algorithm.MD5, None, "c3115ede38d9b385c0fd0e8896a30486"),
    # 2026 page, HMAC-SHA256 with secret "test123"
    (
        "PayUTest01",
        "150.00",
        "USD",
        "4",
        Algorithm.HMAC_SHA256,
        HMAC_SECRET,
        "65fb2b3452572784e23e7d6480359fd2507c54dd285ca3c4dceffb8764cfb66f",
    ),
    (
        "PayUTest01",
        "150.25",
        "USD",
        "4",
        Algorithm.HMAC_SHA256,
        HMAC_SECRET,
        "7770a7933b90570a078fcacce1790eb13079cdf8f8a6e900b79f4f5eb96b8024",
    ),
]


@pytest.mark.parametrize(
    ("reference", "value", "currency", "state", "algorithm", "secret", "expected"), CONFIRMATION_VECTORS
)
def test_confirmation_sign_matches_documented_vector(
    reference: str,
    value: str,
    currency: str,
    state: str,
    algorithm: Algorithm,
    secret: str | None,
    expected: str,
) -> None:
    got = confirmation_sign(
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_sale=reference,
        value=value,
        currency=currency,
        state_pol=state,
        algorithm=algorithm,
        secret=secret,
    )
    assert got == expected
    fields = {
        "merchant_id": MERCHANT,
        "reference_sale": reference,
        "value": value,
        "currency": currency,
        "state_pol": state,
        "sign": expected,
    }
    assert verify_confirmation(fields, api_key=API_KEY, algorithm=algorithm, secret=secret)


def test_doc_error_2022_state6_hash_does_not_verify_for_state_6() -> None:
    fields = {
        "merchant_id": MERCHANT,
        "reference_sale": "TestPayU04",
        "value": "150.00",
        "currency": "USD",
        "state_pol": "6",
        "sign": "b607a2c2fa100e0947b206d41864fb86",
    }
    assert not verify_confirmation(fields, api_key=API_KEY)
    fields["sign"] = "df67936f918887b2aa31688a77a10fe1"
    assert verify_confirmation(fields, api_key=API_KEY)


def test_doc_error_sample_post_sign_does_not_verify_with_the_sandbox_key() -> None:
    fields = {
        "merchant_id": MERCHANT,
        "reference_sale": "2015-05-27 13:04:37",
        "value": "100.00",
        "currency": "USD",
        "state_pol": "6",
        "sign": "e1b0939bbdc99ea84387bee9b90e4f5c",
    }
    assert not verify_confirmation(fields, api_key=API_KEY)
    fields["sign"] = "c3115ede38d9b385c0fd0e8896a30486"
    assert verify_confirmation(fields, api_key=API_KEY)


def test_confirmation_sign_recomputed_by_hand() -> None:
    text = f"{API_KEY}~{MERCHANT}~TestPayU05~150.26~USD~4"
    by_hand = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    assert by_hand == "1d95778a651e11a0ab93c2169a519cd6"
    hmac_by_hand = hmac.new(
        HMAC_SECRET.encode(), f"{API_KEY}~{MERCHANT}~PayUTest01~150.0~USD~4".encode(), hashlib.sha256
    ).hexdigest()
    assert hmac_by_hand == "65fb2b3452572784e23e7d6480359fd2507c54dd285ca3c4dceffb8764cfb66f"


def test_hashing_the_raw_two_decimal_value_never_matches() -> None:
    # A common bug: hashing "150.00" instead of "150.0".
    raw = digest(f"{API_KEY}~{MERCHANT}~TestPayU04~150.00~USD~6")
    assert raw != "df67936f918887b2aa31688a77a10fe1"


def test_confirmation_verification_is_case_insensitive_and_rejects_missing_sign() -> None:
    fields = {
        "merchant_id": MERCHANT,
        "reference_sale": "TestPayU05",
        "value": "150.26",
        "currency": "USD",
        "state_pol": "4",
        "sign": "1D95778A651E11A0AB93C2169A519CD6",
    }
    assert verify_confirmation(fields, api_key=API_KEY)
    del fields["sign"]
    assert not verify_confirmation(fields, api_key=API_KEY)


def test_hmac_without_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        digest("x", Algorithm.HMAC_SHA256)


# ----------------------------------------------------------------------------------------- response URL


@pytest.mark.parametrize(
    ("tx_value", "expected"),
    [("150.25", "150.2"), ("150.35", "150.4"), ("150.34", "150.3"), ("150.00", "150.0"), ("100", "100.0")],
)
def test_response_new_value_rounds_half_to_even(tx_value: str, expected: str) -> None:
    assert response_new_value(tx_value) == expected


# (reference, TX_VALUE, state, algorithm, secret, expected) — all USD, merchant 508029
RESPONSE_VECTORS = [
    ("TestPayU04", "150.25", "6", Algorithm.MD5, None, "00286dc735bd9eaa8ae3a3a4cbb40688"),
    ("TestPayU04", "150.35", "6", Algorithm.MD5, None, "9df2bb60e2838170009040982967923f"),
    ("TestPayU04", "150.34", "6", Algorithm.MD5, None, "779f163be9347a691bcdb25064644795"),
    (
        "PayUTest01",
        "150.25",
        "6",
        Algorithm.HMAC_SHA256,
        HMAC_SECRET,
        "5ac639cc57ea3ceccef66243f7a20412ea4ae0c86b5121ca6aa67597266057d1",
    ),
    (
        "PayUTest01",
        "150.35",
        "6",
        Algorithm.HMAC_SHA256,
        HMAC_SECRET,
        "7bbb5dd21b3c668bbfec8455c4f4fd3887dff1caa9c5da3895ddd914065b4905",
    ),
    (
        "PayUTest01",
        "150.34",
        "6",
        Algorithm.HMAC_SHA256,
        HMAC_SECRET,
        "50c8aae35caf923fbdbd791d7842b916ab7d6597b7c4032dd92ab67b7bb43e8a",
    ),
]


@pytest.mark.parametrize(("reference", "tx_value", "state", "algorithm", "secret", "expected"), RESPONSE_VECTORS)
def test_response_signature_matches_documented_vector(
    reference: str, tx_value: str, state: str, algorithm: Algorithm, secret: str | None, expected: str
) -> None:
    got = response_signature(
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_code=reference,
        tx_value=tx_value,
        currency="USD",
        transaction_state=state,
        algorithm=algorithm,
        secret=secret,
    )
    assert got == expected


def test_doc_error_2016_response_page_printed_string_does_not_give_its_hash() -> None:
    # The older page printed MD5(...~TestPayU~150~USD~6) = 00286dc7..., but that hash is the 150.25 case.
    printed = digest(f"{API_KEY}~{MERCHANT}~TestPayU~150~USD~6")
    assert printed != "00286dc735bd9eaa8ae3a3a4cbb40688"


def test_the_two_new_value_rules_differ() -> None:
    # 150.25: the confirmation keeps both decimals, the response URL rounds half-even to 150.2.
    assert confirmation_new_value("150.25") == "150.25"
    assert response_new_value("150.25") == "150.2"
    confirmation = confirmation_sign(
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_sale="R",
        value="150.25",
        currency="USD",
        state_pol="4",
    )
    response = response_signature(
        api_key=API_KEY,
        merchant_id=MERCHANT,
        reference_code="R",
        tx_value="150.25",
        currency="USD",
        transaction_state="4",
    )
    assert confirmation != response


def test_same_hex_handles_none_and_whitespace() -> None:
    assert not same_hex(None, "ab")
    assert same_hex(" AB ", "ab")
