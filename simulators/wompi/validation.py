"""Request-body checks for Wompi's write endpoints, answering with per-field INPUT_VALIDATION_ERROR messages.

Usage: ``tx = build_transaction(parse_body(raw), state, now=clock.now())``
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.wompi.errors import FieldErrors, InputValidationError
from simulators.wompi.signing import integrity_signature
from simulators.wompi.state import (
    CardToken,
    Transaction,
    WompiState,
    card_outcome,
    nequi_outcome,
    pse_outcome,
)

REQUIRED = "Este campo es requerido"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PSE_ID_TYPES = frozenset({"CC", "CE", "NIT", "PP", "TI", "DNI", "RG", "OTHER"})
SUPPORTED_METHODS = ("CARD", "NEQUI", "PSE")


def parse_body(raw: bytes) -> dict[str, Any]:
    """JSON object from a request body; numbers with a fraction become Decimal, never float."""
    try:
        body = json.loads(raw or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise InputValidationError({"body": ["El cuerpo de la petición no es un JSON válido"]}) from None
    if not isinstance(body, dict):
        raise InputValidationError({"body": ["El cuerpo de la petición debe ser un objeto JSON"]})
    return body


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(body: dict[str, Any], key: str, errs: FieldErrors, *, path: str = "", max_len: int = 255) -> str:
    value = body.get(key)
    where = path or key
    if value is None or value == "":
        errs.add(where, REQUIRED)
        return ""
    if not isinstance(value, str):
        errs.add(where, "Debe ser un texto")
        return ""
    if len(value) > max_len:
        errs.add(where, f"Debe tener máximo {max_len} caracteres")
    return value


def card_token_fields(body: dict[str, Any], now: datetime) -> dict[str, str]:
    """Validated fields of POST /v1/tokens/cards (any digits tokenise; the outcome comes at payment)."""
    errs = FieldErrors()
    number = _text(body, "number", errs)
    cvc = _text(body, "cvc", errs)
    month = _text(body, "exp_month", errs)
    year = _text(body, "exp_year", errs)
    holder = _text(body, "card_holder", errs)
    if number and not (number.isdigit() and 13 <= len(number) <= 19):
        errs.add("number", "El número de tarjeta no es válido")
    if cvc and not (cvc.isdigit() and len(cvc) in (3, 4)):
        errs.add("cvc", "El código de seguridad no es válido")
    if month and not (len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12):
        errs.add("exp_month", "El mes de expiración no es válido")
    if year and not (len(year) == 2 and year.isdigit()):
        errs.add("exp_year", "El año de expiración no es válido")
    elif year and month and "exp_month" not in errs.messages:
        expired = (2000 + int(year), int(month)) < (now.year, now.month)
        if expired:
            errs.add("exp_year", "La tarjeta está vencida")
    if holder and len(holder) < 5:
        errs.add("card_holder", "Debe tener mínimo 5 caracteres")
    errs.raise_if_any()
    return {"number": number, "cvc": cvc, "exp_month": month, "exp_year": year, "card_holder": holder}


def nequi_phone(body: dict[str, Any]) -> str:
    """Validated phone of POST /v1/tokens/nequi: a 10-digit Colombian mobile."""
    errs = FieldErrors()
    phone = _text(body, "phone_number", errs)
    if phone and not (phone.isdigit() and len(phone) == 10):
        errs.add("phone_number", "Debe ser un número celular colombiano de 10 dígitos")
    errs.raise_if_any()
    return phone


def build_transaction(body: dict[str, Any], state: WompiState, *, now: datetime) -> Transaction:
    """Check a POST /v1/transactions body and return the new PENDING transaction (not yet stored).

    Every problem is collected before answering, as Wompi does, so one 422 lists them all.
    """
    errs = FieldErrors()
    reference = _text(body, "reference", errs)
    email = _text(body, "customer_email", errs)
    if email and not EMAIL.match(email):
        errs.add("customer_email", "Debe ser un email válido")
    amount = body.get("amount_in_cents")
    if amount is None:
        errs.add("amount_in_cents", REQUIRED)
    elif not _is_int(amount) or amount <= 0:
        errs.add("amount_in_cents", "Debe ser un número entero mayor que 0")
    currency = body.get("currency")
    if currency is None:
        errs.add("currency", REQUIRED)
    elif currency != "COP":
        errs.add("currency", "La moneda debe ser COP")
    _check_acceptance(body, state, now, errs)
    if reference and state.reference_used(reference):
        errs.add("reference", "La referencia ya ha sido usada")
    signature_ok = _check_signature(body, state, errs, reference, amount, currency)
    if body.get("payment_source_id") is not None:
        errs.add("payment_source_id", "La fuente de pago no existe")
    method, outcome = _payment_method(body, state, now, errs)
    for key in ("redirect_url",):
        if body.get(key) is not None and not isinstance(body[key], str):
            errs.add(key, "Debe ser un texto")
    for key in ("customer_data", "shipping_address"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            errs.add(key, "Debe ser un objeto")
    errs.raise_if_any()
    assert signature_ok and method is not None and outcome is not None and isinstance(amount, int)
    tx = Transaction(
        id=state.new_transaction_id(now),
        created_at=now,
        amount_in_cents=amount,
        reference=reference,
        customer_email=email,
        currency="COP",
        payment_method_type=method["type"],
        payment_method=method,
        outcome=outcome,
        redirect_url=body.get("redirect_url"),
        customer_data=body.get("customer_data"),
        shipping_address=body.get("shipping_address"),
        taxes=list(body.get("taxes") or []),
    )
    return tx


def _check_acceptance(body: dict[str, Any], state: WompiState, now: datetime, errs: FieldErrors) -> None:
    token = body.get("acceptance_token")
    if not token:
        errs.add("acceptance_token", REQUIRED)
    elif problem := state.acceptance_problem(token, "END_USER_POLICY", now):
        errs.add("acceptance_token", problem)
    # Optional in the transactions field table; when sent it must be a personal-data token.
    personal = body.get("accept_personal_auth")
    if personal and (problem := state.acceptance_problem(personal, "PERSONAL_DATA_AUTH", now)):
        errs.add("accept_personal_auth", problem)


def _check_signature(
    body: dict[str, Any], state: WompiState, errs: FieldErrors, reference: str, amount: Any, currency: Any
) -> bool:
    signature = body.get("signature")
    if not signature:
        errs.add("signature", REQUIRED)
        return False
    if not isinstance(signature, str):
        errs.add("signature", "Debe ser un texto")
        return False
    if not (reference and _is_int(amount) and currency == "COP"):
        return True  # the inputs are already reported; a signature verdict would only add noise
    expiration = body.get("expiration_time")
    expected = integrity_signature(
        reference,
        amount,
        currency,
        state.config.integrity_secret,
        expiration if isinstance(expiration, str) else None,
    )
    if signature.lower() != expected:
        errs.add("signature", "La firma es inválida")
        return False
    return True


def _payment_method(
    body: dict[str, Any], state: WompiState, now: datetime, errs: FieldErrors
) -> tuple[dict[str, Any] | None, str | None]:
    method = body.get("payment_method")
    if not isinstance(method, dict):
        errs.add("payment_method", REQUIRED if method is None else "Debe ser un objeto")
        return None, None
    kind = method.get("type")
    if kind == "CARD":
        return _card_method(method, state, now, errs)
    if kind == "NEQUI":
        phone = method.get("phone_number")
        if not (isinstance(phone, str) and phone.isdigit() and len(phone) == 10):
            errs.add("payment_method.phone_number", "Debe ser un número celular colombiano de 10 dígitos")
            return None, None
        return {"type": "NEQUI", "phone_number": phone, "extra": {}}, nequi_outcome(phone)
    if kind == "PSE":
        return _pse_method(method, body, errs)
    errs.add("payment_method.type", f"Debe ser uno de: {', '.join(SUPPORTED_METHODS)}")
    return None, None


def _card_method(
    method: dict[str, Any], state: WompiState, now: datetime, errs: FieldErrors
) -> tuple[dict[str, Any] | None, str | None]:
    token_id = method.get("token")
    token: CardToken | None = state.card_tokens.get(token_id) if isinstance(token_id, str) else None
    if token_id is None:
        errs.add("payment_method.token", REQUIRED)
    elif token is None:
        errs.add("payment_method.token", "El token no existe")
    elif token.expires_at < now:
        errs.add("payment_method.token", "El token ha expirado")
        token = None
    installments = method.get("installments")
    if not (isinstance(installments, int) and _is_int(installments) and 1 <= installments <= 36):
        errs.add("payment_method.installments", "Debe ser un número entero entre 1 y 36")
    if token is None or errs.messages.get("payment_method"):
        return None, None
    extra = {**token.public_data(), "card_type": "CREDIT", "is_three_ds": False}
    return {"type": "CARD", "extra": extra, "installments": installments}, card_outcome(token.number)


def _pse_method(
    method: dict[str, Any], body: dict[str, Any], errs: FieldErrors
) -> tuple[dict[str, Any] | None, str | None]:
    before = bool(errs.messages.get("payment_method") or errs.messages.get("customer_data"))
    if method.get("user_type") not in (0, 1) or isinstance(method.get("user_type"), bool):
        errs.add("payment_method.user_type", "Debe ser 0 (persona natural) o 1 (persona jurídica)")
    if method.get("user_legal_id_type") not in PSE_ID_TYPES:
        errs.add("payment_method.user_legal_id_type", "Tipo de documento no válido")
    _text(method, "user_legal_id", errs, path="payment_method.user_legal_id", max_len=20)
    _text(method, "payment_description", errs, path="payment_method.payment_description", max_len=64)
    code = method.get("financial_institution_code")
    outcome = pse_outcome(code) if isinstance(code, str) else None
    if outcome is None:
        errs.add("payment_method.financial_institution_code", "La institución financiera no existe")
    raw_customer = body.get("customer_data")
    customer: dict[str, Any] = raw_customer if isinstance(raw_customer, dict) else {}
    for key in ("phone_number", "full_name"):
        if not customer.get(key):
            errs.add(f"customer_data.{key}", REQUIRED)
    if before or errs.messages.get("payment_method") or errs.messages.get("customer_data"):
        return None, None
    fields = ("user_type", "user_legal_id_type", "user_legal_id", "financial_institution_code")
    kept = {key: method[key] for key in (*fields, "payment_description") if key in method}
    return {"type": "PSE", **kept, "extra": {"traceability_code": None}}, outcome
