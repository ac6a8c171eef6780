"""PayU sandbox rules as pure functions: Luhn, franchises, card outcomes, the codes table, catalogues."""

from __future__ import annotations

from datetime import date

import pytest

from simulators.payu.errors import InvalidCard
from simulators.payu.sandbox import (
    RESPONSE_CODE_POL,
    TEST_CARDS,
    card_outcome,
    check_final,
    luhn_ok,
    mask_card,
    method_type,
    payment_methods_catalogue,
    pse_bank_name,
    pse_banks_catalogue,
    response_code_pol,
    validate_card,
)

TODAY = date(2026, 3, 15)


@pytest.mark.parametrize(("method", "number"), [(m, n) for m, ns in TEST_CARDS.items() for n in ns])
def test_every_documented_test_card_is_luhn_valid_and_of_its_franchise(method: str, number: str) -> None:
    assert luhn_ok(number)
    assert validate_card(method, number, "7777" if method == "AMEX" else "777", "2030/05", cvv_optional=False) == (
        2030,
        5,
    )


@pytest.mark.parametrize(
    ("method", "number", "why"),
    [
        ("VISA", "4037997623271985", "Luhn"),
        ("VISA", "5471300000000003", "franchise"),
        ("MASTERCARD", "4111111111111111", "franchise"),
        ("AMEX", "4111111111111111", "franchise"),
        ("DINERS", "377813000000001", "franchise"),
        ("VISA", "4111", "length"),
        ("VISA", "4111-1111-1111-1111", "digits"),
    ],
)
def test_bad_card_numbers_are_refused(method: str, number: str, why: str) -> None:
    with pytest.raises(InvalidCard):
        validate_card(method, number, "777", "2030/05", cvv_optional=False)


@pytest.mark.parametrize("expiration", ["2030-05", "30/05", "2030/13", "2030/00", ""])
def test_bad_expiration_format_is_refused(expiration: str) -> None:
    with pytest.raises(InvalidCard):
        validate_card("VISA", "4111111111111111", "777", expiration, cvv_optional=False)


def test_missing_cvv_needs_process_without_cvv2() -> None:
    with pytest.raises(InvalidCard):
        validate_card("VISA", "4111111111111111", None, "2030/05", cvv_optional=False)
    assert validate_card("VISA", "4111111111111111", None, "2030/05", cvv_optional=True) == (2030, 5)
    with pytest.raises(InvalidCard):
        validate_card("VISA", "4111111111111111", "12345", "2030/05", cvv_optional=False)


@pytest.mark.parametrize(
    ("holder", "cvv", "expiry", "method", "state", "code"),
    [
        ("APPROVED", "666", (2030, 12), "VISA", "APPROVED", "APPROVED"),  # name wins over CVV and month
        ("REJECTED", "777", (2030, 1), "VISA", "DECLINED", "ENTITY_DECLINED"),
        ("PENDING", "777", (2030, 1), "VISA", "PENDING", "PENDING_TRANSACTION_REVIEW"),
        ("approved", "123", (2030, 12), "VISA", "APPROVED", "APPROVED"),  # case-insensitive
        ("INSUFFICIENT_FUNDS", "777", (2030, 1), "VISA", "DECLINED", "INSUFFICIENT_FUNDS"),
        ("Juan Perez", "777", (2025, 1), "VISA", "DECLINED", "EXPIRED_CARD"),
        ("Juan Perez", "777", (2030, 12), "VISA", "APPROVED", "APPROVED"),  # CVV 777 before the month
        ("Juan Perez", "666", (2030, 1), "VISA", "DECLINED", "ENTITY_DECLINED"),
        ("Juan Perez", "7777", (2030, 12), "AMEX", "APPROVED", "APPROVED"),
        ("Juan Perez", "6666", (2030, 1), "AMEX", "DECLINED", "ENTITY_DECLINED"),
        ("Juan Perez", "777", (2030, 12), "AMEX", "DECLINED", "ENTITY_DECLINED"),  # AMEX needs 7777
        ("Juan Perez", "123", (2030, 5), "VISA", "APPROVED", "APPROVED"),  # month < 6
        ("Juan Perez", "123", (2030, 6), "VISA", "APPROVED", "APPROVED"),  # month 6: chosen approve
        ("Juan Perez", "123", (2030, 7), "VISA", "DECLINED", "ENTITY_DECLINED"),  # month > 6
        ("Juan Perez", "123", (2026, 3), "VISA", "APPROVED", "APPROVED"),  # expires this month: valid
    ],
)
def test_card_outcome_rules(holder: str, cvv: str, expiry: tuple[int, int], method: str, state: str, code: str) -> None:
    outcome = card_outcome(holder=holder, cvv=cvv, expiry=expiry, method=method, today=TODAY)
    assert (outcome.state, outcome.response_code) == (state, code)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("APPROVED", (4, 1)),
        ("PAYMENT_NETWORK_REJECTED", (6, 4)),
        ("ENTITY_DECLINED", (6, 5)),
        ("INSUFFICIENT_FUNDS", (6, 6)),
        ("INVALID_CARD", (6, 7)),
        ("CONTACT_THE_ENTITY", (6, 8)),
        ("INVALID_BANK", (6, 8)),
        ("EXPIRED_CARD", (6, 9)),
        ("RESTRICTED_CARD", (6, 10)),
        ("INVALID_EXPIRATION_DATE_OR_SECURITY_CODE", (6, 12)),
        ("REPEAT_TRANSACTION", (6, 13)),
        ("INVALID_TRANSACTION", (6, 14)),
        ("EXCEEDED_AMOUNT", (6, 17)),
        ("ABANDONED_TRANSACTION", (6, 19)),
        ("CREDIT_CARD_NOT_AUTHORIZED_FOR_INTERNET_TRANSACTIONS", (6, 22)),
        ("ANTIFRAUD_REJECTED", (6, 23)),
        ("BANK_FRAUD_REJECTED", (6, 23)),
        ("DIGITAL_CERTIFICATE_NOT_FOUND", (6, 9995)),
        ("BANK_UNREACHABLE", (6, 9996)),
        ("ENTITY_MESSAGING_ERROR", (6, 9997)),
        ("NOT_ACCEPTED_TRANSACTION", (6, 9998)),
        ("INTERNAL_PAYMENT_PROVIDER_ERROR", (6, 9999)),
        ("EXPIRED_TRANSACTION", (5, 20)),
        ("SOMETHING_NEW", (6, 9999)),
    ],
)
def test_confirmation_codes_table(code: str, expected: tuple[int, int]) -> None:
    assert response_code_pol(code) == expected


def test_check_final_accepts_matching_pairs_and_refuses_others() -> None:
    assert check_final("APPROVED", None) == "APPROVED"
    assert check_final("DECLINED", None) == "ENTITY_DECLINED"
    assert check_final("DECLINED", "INSUFFICIENT_FUNDS") == "INSUFFICIENT_FUNDS"
    assert check_final("EXPIRED", None) == "EXPIRED_TRANSACTION"
    for state, code in [("PENDING", None), ("APPROVED", "ENTITY_DECLINED"), ("DECLINED", "NOPE")]:
        with pytest.raises(ValueError):
            check_final(state, code)


def test_every_table_code_belongs_to_a_final_state() -> None:
    assert {state for state, _ in RESPONSE_CODE_POL.values()} == {4, 5, 6}


def test_method_types_and_masking() -> None:
    assert [method_type(m) for m in ("VISA", "PSE", "VISA_DEBIT", "EFECTY", "OTHERS_CASH")] == [2, 4, 6, 7, 7]
    assert mask_card("4097440000000004") == "************0004"


def test_catalogues() -> None:
    methods = {m["description"]: m["id"] for m in payment_methods_catalogue()}
    assert methods["EFECTY"] == "36"
    assert {"VISA", "MASTERCARD", "AMEX", "DINERS", "PSE", "OTHERS_CASH"} <= set(methods)
    banks = pse_banks_catalogue()
    assert banks[0]["pseCode"] == "0"
    assert pse_bank_name("0") is None
    assert pse_bank_name("1022") == "BANCO UNION COLOMBIANO"
    assert len({b["id"] for b in banks}) == len(banks)
