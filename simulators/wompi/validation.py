"""Request-body checks for Wompi's write endpoints, answering with per-field INPUT_VALIDATION_ERROR messages.

Usage: ``tx = build_transaction(parse_body(raw), state, now=clock.now())``
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from simulators.common.jsonbody import parse_json
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
MAX_URL = 2048


def parse_body(raw: bytes) -> dict[str, Any]:
    """JSON object from a request body; numbers with a fraction become Decimal, never float."""
    try:
        body = parse_json(raw or b"null")
    except ValueError:
        raise InputValidationError({"body": ["El cuerpo de la petición no es un JSON válido"]}) from None
    if not isinstance(body, dict):
        raise InputValidationError({"body": ["El cuerpo de la petición debe ser un objeto JSON"]})
    return body


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _digits(text: str) -> bool:
    # str.isdigit also accepts "²" (which int() refuses) and Arabic or full-width digits.
    return text.isascii() and text.isdigit()


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
    if number and not (_digits(number) and 13 <= len(number) <= 19):
        errs.add("number", "El número de tarjeta no es válido")
    if cvc and not (_digits(cvc) and len(cvc) in (3, 4)):
        errs.add("cvc", "El código de seguridad no es válido")
    if month and not (len(month) == 2 and _digits(month) and 1 <= int(month) <= 12):
        errs.add("exp_month", "El mes de expiración no es válido")
    if year and not (len(year) == 2 and _digits(year)):
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
    if phone and not (_digits(phone) and len(phone) == 10):
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
    low, high = state.config.min_amount_in_cents, state.config.max_amount_in_cents
    if amount is None:
        errs.add("amount_in_cents", REQUIRED)
    elif not _is_int(amount) or amount <= 0:
        errs.add("amount_in_cents", "Debe ser un número entero mayor que 0")
    elif not low <= amount <= high:
        errs.add("amount_in_cents", f"Debe estar entre {low} y {high}")
    currency = body.get("currency")
    if currency is None:
        errs.add("currency", REQUIRED)
    elif currency != "COP":
        errs.add("currency", "La moneda debe ser COP")
    _check_acceptance(body, state, now, errs)
    if reference and state.reference_used(reference):
        errs.add("reference", "La referencia ya ha sido usada")
    expires_at = _expiration(body, now, errs)
    signature_ok = _check_signature(body, state, errs, reference, amount, currency)
    if body.get("payment_source_id") is not None:
        errs.add("payment_source_id", "La fuente de pago no existe")
    method, outcome = _payment_method(body, state, now, errs)
    _check_optional(body, errs)
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
        expires_at=expires_at,
    )
    return tx


def _expiration(body: dict[str, Any], now: datetime, errs: FieldErrors) -> datetime | None:
    """``expiration_time``: ISO 8601 with a zone (Wompi writes UTC, ``2023-06-09T20:28:50.000Z``), in the future."""
    raw = body.get("expiration_time")
    if raw is None:
        return None
    moment = None
    if isinstance(raw, str) and len(raw) <= 40:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        errs.add("expiration_time", "Debe ser una fecha ISO 8601 con zona horaria, p. ej. 2023-06-09T20:28:50.000Z")
        return None
    if moment <= now:
        errs.add("expiration_time", "La fecha de expiración ya pasó")
        return None
    return moment


def _check_optional(body: dict[str, Any], errs: FieldErrors) -> None:
    """Types and lengths of the optional fields the simulator stores and echoes back."""
    redirect = body.get("redirect_url")
    if redirect is not None and not (isinstance(redirect, str) and len(redirect) <= MAX_URL):
        errs.add("redirect_url", f"Debe ser un texto de máximo {MAX_URL} caracteres")
    for key in ("customer_data", "shipping_address"):
        node = body.get(key)
        if node is None:
            continue
        if not isinstance(node, dict):
            errs.add(key, "Debe ser un objeto")
            continue
        for name, value in node.items():
            if value is not None and not (isinstance(value, str) and len(value) <= 255):
                errs.add(f"{key}.{name}", "Debe ser un texto de máximo 255 caracteres")
    taxes = body.get("taxes")
    if taxes is not None and not (isinstance(taxes, list) and all(_is_tax(t) for t in taxes)):
        errs.add("taxes", 'Debe ser una lista de {"type": "VAT"|"CONSUMPTION", "amount_in_cents": entero >= 0}')


def _is_tax(tax: object) -> bool:
    if not isinstance(tax, dict) or set(tax) != {"type", "amount_in_cents"}:
        return False
    amount = tax["amount_in_cents"]
    return tax["type"] in ("VAT", "CONSUMPTION") and _is_int(amount) and 0 <= amount <= 99_000_000_00


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
    if not (reference and _is_int(amount) and currency == "COP") or "expiration_time" in errs.messages:
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
        if not (isinstance(phone, str) and _digits(phone) and len(phone) == 10):
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
    id_type = method.get("user_legal_id_type")
    if not isinstance(id_type, str) or id_type not in PSE_ID_TYPES:  # a dict or list is unhashable
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
