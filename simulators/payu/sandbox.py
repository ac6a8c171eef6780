"""PayU sandbox rules and catalogues: card checks and outcomes, codes tables, payment methods, PSE banks.

Pure data and functions; the simulator's state machine asks them what a request should produce.

Usage: ``card_outcome(holder="APPROVED", cvv="777", expiry=(2030, 5), method="VISA", today=date.today())``
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from simulators.payu.errors import InvalidCard

# ------------------------------------------------------------------------------------ payment methods

CARD_METHODS = frozenset({"VISA", "VISA_DEBIT", "MASTERCARD", "MASTERCARD_DEBIT", "AMEX", "DINERS", "CODENSA"})
DEBIT_METHODS = frozenset({"VISA_DEBIT", "MASTERCARD_DEBIT"})
CASH_METHODS = frozenset({"EFECTY", "OTHERS_CASH"})
PSE_METHOD = "PSE"

# `payment_method_type` codes (response-codes page): 2 CREDIT_CARD, 4 PSE, 6 DEBIT_CARD, 7 CASH.
TYPE_CREDIT_CARD, TYPE_PSE, TYPE_DEBIT_CARD, TYPE_CASH = 2, 4, 6, 7

# Numeric method ids for GET_PAYMENT_METHODS and the confirmation's `payment_method`. PayU's docs are
# inconsistent (id 10 is MASTERCARD in one example, VISA in the sample confirmation); only EFECTY=36
# is printed unambiguously. The simulator's own table, stable across runs:
PAYMENT_METHOD_IDS: dict[str, str] = {
    "VISA": "10",
    "MASTERCARD": "11",
    "AMEX": "12",
    "DINERS": "22",
    "PSE": "25",
    "CODENSA": "34",
    "EFECTY": "36",
    "OTHERS_CASH": "37",
    "VISA_DEBIT": "38",
    "MASTERCARD_DEBIT": "39",
}


def method_type(method: str) -> int:
    """``payment_method_type`` for a PayU payment method name."""
    if method in CASH_METHODS:
        return TYPE_CASH
    if method == PSE_METHOD:
        return TYPE_PSE
    return TYPE_DEBIT_CARD if method in DEBIT_METHODS else TYPE_CREDIT_CARD


def payment_methods_catalogue() -> list[dict[str, object]]:
    """The ``paymentMethods`` list GET_PAYMENT_METHODS answers with (Colombia)."""
    return [
        {"id": pid, "description": name, "country": "CO", "enabled": True, "reason": None}
        for name, pid in sorted(PAYMENT_METHOD_IDS.items(), key=lambda kv: int(kv[1]))
    ]


# PSE bank list. The first entry is PayU's documented placeholder; the rest use Colombian ACH codes,
# with "1022" standing in for the sandbox's test bank. Ids are fixed UUIDs so runs are repeatable.
PSE_BANKS: tuple[tuple[str, str, str], ...] = (
    ("cf5a0e57-0bd2-4b0c-8b1c-000000000000", "A continuación seleccione su banco", "0"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001001", "BANCO DE BOGOTA", "1001"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001007", "BANCOLOMBIA", "1007"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001013", "BANCO BBVA COLOMBIA S.A.", "1013"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001022", "BANCO UNION COLOMBIANO", "1022"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001023", "BANCO DE OCCIDENTE", "1023"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001051", "BANCO DAVIVIENDA", "1051"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001052", "BANCO AV VILLAS", "1052"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001507", "NEQUI", "1507"),
    ("cf5a0e57-0bd2-4b0c-8b1c-000000001551", "DAVIPLATA", "1551"),
)


def pse_banks_catalogue() -> list[dict[str, str]]:
    """The ``banks`` list GET_BANKS_LIST answers with."""
    return [{"id": bid, "description": name, "pseCode": code} for bid, name, code in PSE_BANKS]


def pse_bank_name(pse_code: str) -> str | None:
    """The bank's name for a ``FINANCIAL_INSTITUTION_CODE``; None for unknown codes and the placeholder."""
    for _bid, name, code in PSE_BANKS[1:]:
        if code == pse_code:
            return name
    return None


# ------------------------------------------------------------------------------- states and codes table

# Confirmation mapping (response-codes page): responseCode -> (state_pol, response_code_pol).
RESPONSE_CODE_POL: dict[str, tuple[int, int]] = {
    "APPROVED": (4, 1),
    "PAYMENT_NETWORK_REJECTED": (6, 4),
    "ENTITY_DECLINED": (6, 5),
    "INSUFFICIENT_FUNDS": (6, 6),
    "INVALID_CARD": (6, 7),
    "CONTACT_THE_ENTITY": (6, 8),
    "BANK_ACCOUNT_ACTIVATION_ERROR": (6, 8),
    "BANK_ACCOUNT_NOT_AUTHORIZED_FOR_AUTOMATIC_DEBIT": (6, 8),
    "INVALID_AGENCY_BANK_ACCOUNT": (6, 8),
    "INVALID_BANK_ACCOUNT": (6, 8),
    "INVALID_BANK": (6, 8),
    "EXPIRED_CARD": (6, 9),
    "RESTRICTED_CARD": (6, 10),
    "INVALID_EXPIRATION_DATE_OR_SECURITY_CODE": (6, 12),
    "REPEAT_TRANSACTION": (6, 13),
    "INVALID_TRANSACTION": (6, 14),
    "EXCEEDED_AMOUNT": (6, 17),
    "ABANDONED_TRANSACTION": (6, 19),
    "CREDIT_CARD_NOT_AUTHORIZED_FOR_INTERNET_TRANSACTIONS": (6, 22),
    "ANTIFRAUD_REJECTED": (6, 23),
    "BANK_FRAUD_REJECTED": (6, 23),
    "DIGITAL_CERTIFICATE_NOT_FOUND": (6, 9995),
    "BANK_UNREACHABLE": (6, 9996),
    "PAYMENT_NETWORK_NO_CONNECTION": (6, 9996),
    "PAYMENT_NETWORK_NO_RESPONSE": (6, 9996),
    "ENTITY_MESSAGING_ERROR": (6, 9997),
    "NOT_ACCEPTED_TRANSACTION": (6, 9998),
    "INTERNAL_PAYMENT_PROVIDER_ERROR": (6, 9999),
    "INACTIVE_PAYMENT_PROVIDER": (6, 9999),
    "ERROR": (6, 9999),
    "ERROR_CONVERTING_TRANSACTION_AMOUNTS": (6, 9999),
    "PAYMENT_NETWORK_BAD_RESPONSE": (6, 9999),
    "EXPIRED_TRANSACTION": (5, 20),
}

FINAL_STATES = frozenset({"APPROVED", "DECLINED", "ERROR", "EXPIRED"})

# Default responseCode when a pending transaction is made final with only a state.
DEFAULT_RESPONSE_CODE = {
    "APPROVED": "APPROVED",
    "DECLINED": "ENTITY_DECLINED",
    "EXPIRED": "EXPIRED_TRANSACTION",
    "ERROR": "ERROR",
}


def response_code_pol(response_code: str) -> tuple[int, int]:
    """(state_pol, response_code_pol) for a final responseCode; unknown declines map to 6/9999."""
    return RESPONSE_CODE_POL.get(response_code, (6, 9999))


def check_final(state: str, response_code: str | None) -> str:
    """Validate a requested final (state, responseCode) pair; returns the responseCode to use."""
    if state not in FINAL_STATES:
        raise ValueError(f"not a final state: {state!r} (use one of {sorted(FINAL_STATES)})")
    code = response_code or DEFAULT_RESPONSE_CODE[state]
    if code not in RESPONSE_CODE_POL:
        raise ValueError(f"unknown responseCode {code!r}")
    expected_pol = {"APPROVED": 4, "EXPIRED": 5}.get(state, 6)
    if RESPONSE_CODE_POL[code][0] != expected_pol:
        raise ValueError(f"responseCode {code} does not belong to state {state}")
    return code


# ---------------------------------------------------------------------------------------------- cards

TEST_CARDS: dict[str, tuple[str, ...]] = {
    "VISA": ("4097440000000004", "4037997623271984", "4111111111111111"),
    "VISA_DEBIT": ("4509420000000008",),
    "MASTERCARD": ("5471300000000003", "5120697176068275", "5282096712463427", "5247081012761500"),
    "AMEX": ("377813000000001", "377847626810864", "376402004977124", "376414000000009"),
    "DINERS": ("36032400000007", "36032404150519", "36032440201896"),
    "CODENSA": ("5907120000000009",),
}


def luhn_ok(number: str) -> bool:
    """Luhn checksum of a digit string."""
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _franchise_matches(method: str, number: str) -> bool:
    n = len(number)
    if method in ("VISA", "VISA_DEBIT"):
        return number.startswith("4") and n in (13, 16, 19)
    if method in ("MASTERCARD", "MASTERCARD_DEBIT"):
        two, four = int(number[:2]), int(number[:4])
        return n == 16 and (51 <= two <= 55 or 2221 <= four <= 2720)
    if method == "AMEX":
        return number[:2] in ("34", "37") and n == 15
    if method == "DINERS":
        return (number[:2] in ("36", "38", "39") or 300 <= int(number[:3]) <= 305) and 14 <= n <= 19
    if method == "CODENSA":
        return number.startswith("590712") and n == 16
    return False


def _ascii_digits(text: str) -> bool:
    # str.isdigit also accepts "²" and other digits int() refuses, and Arabic or full-width ones.
    return text.isascii() and text.isdigit()


def validate_card(method: str, number: str, cvv: str | None, expiration: str, *, cvv_optional: bool) -> tuple[int, int]:
    """Check a card as PayU's front door would; returns (year, month) of its expiry or raises InvalidCard."""
    if not _ascii_digits(number) or not 13 <= len(number) <= 20:
        raise InvalidCard("creditCard.number must be 13 to 20 digits")
    if not luhn_ok(number):
        raise InvalidCard("Invalid credit card number")
    if not _franchise_matches(method, number):
        raise InvalidCard(f"The credit card number does not belong to the payment method {method}")
    if cvv is None or cvv == "":
        if not cvv_optional:
            raise InvalidCard("creditCard.securityCode is required")
    elif not _ascii_digits(cvv) or not 1 <= len(cvv) <= 4:
        raise InvalidCard("creditCard.securityCode must be 1 to 4 digits")
    parts = expiration.split("/")
    if len(parts) != 2 or not all(_ascii_digits(p) for p in parts) or len(parts[0]) != 4 or len(parts[1]) > 2:
        raise InvalidCard("creditCard.expirationDate must be YYYY/MM")
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12:
        raise InvalidCard("creditCard.expirationDate has an invalid month")
    return year, month


@dataclass(frozen=True)
class CardOutcome:
    """What the sandbox decides for a card: APPROVED, DECLINED or PENDING, with PayU's responseCode."""

    state: str
    response_code: str


def card_outcome(*, holder: str, cvv: str | None, expiry: tuple[int, int], method: str, today: date) -> CardOutcome:
    """The sandbox outcome for a valid card (test-your-solution page), first rule that applies wins:

    1. cardholder name ``APPROVED`` / ``REJECTED`` / ``PENDING``;
    2. (simulator extension) a name equal to a decline responseCode, e.g. ``INSUFFICIENT_FUNDS``;
    3. an expiry before the current month declines with ``EXPIRED_CARD``;
    4. CVV ``777`` approves, ``666`` declines (AMEX ``7777`` / ``6666``);
    5. expiry month after June declines, otherwise approves.
    """
    name = holder.strip().upper()
    if name == "APPROVED":
        return CardOutcome("APPROVED", "APPROVED")
    if name == "REJECTED":
        return CardOutcome("DECLINED", "ENTITY_DECLINED")
    if name == "PENDING":
        return CardOutcome("PENDING", "PENDING_TRANSACTION_REVIEW")
    if name in RESPONSE_CODE_POL and RESPONSE_CODE_POL[name][0] == 6:
        return CardOutcome("DECLINED", name)
    year, month = expiry
    if (year, month) < (today.year, today.month):
        return CardOutcome("DECLINED", "EXPIRED_CARD")
    approve_cvv, decline_cvv = ("7777", "6666") if method == "AMEX" else ("777", "666")
    if cvv == approve_cvv:
        return CardOutcome("APPROVED", "APPROVED")
    if cvv == decline_cvv:
        return CardOutcome("DECLINED", "ENTITY_DECLINED")
    if month > 6:
        return CardOutcome("DECLINED", "ENTITY_DECLINED")
    return CardOutcome("APPROVED", "APPROVED")


def mask_card(number: str) -> str:
    """PayU masks all but the last four digits (``************0004``)."""
    return "*" * (len(number) - 4) + number[-4:]
