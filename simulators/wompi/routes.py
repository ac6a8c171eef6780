"""Wompi's public API (/v1/...) and the simulator's Wompi-only admin routes (/__admin/wompi/...).

Usage: ``app.include_router(build_api_router()); build_admin_router(..., extra=build_wompi_admin_router())``
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from simulators.wompi.errors import InputValidationError, InvalidAccessToken, NotFound
from simulators.wompi.state import FINAL_STATUSES, PSE_BANKS
from simulators.wompi.validation import build_transaction, card_token_fields, nequi_phone, parse_body

if TYPE_CHECKING:
    from simulators.wompi.service import WompiGateway

OTHER_ENVIRONMENT = "La llave proporcionada no corresponde a este ambiente."
MISSING_KEY = "Se debe enviar una llave de autenticación en el encabezado Authorization"
BAD_KEY = "La llave proporcionada no es válida"


def _sim(request: Request) -> WompiGateway:
    gateway: WompiGateway = request.app.state.sim.state
    return gateway


def _json(payload: Any, status: int = 200) -> Response:
    # Plain json.dumps into a Response: FastAPI's encoder is the slowest part of a simple request.
    return Response(json.dumps(payload, separators=(",", ":")), status_code=status, media_type="application/json")


def _key_problem(presented: str) -> str:
    return OTHER_ENVIRONMENT if presented.startswith(("pub_prod_", "prv_prod_")) else BAD_KEY


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _require_key(request: Request, *allowed: str) -> None:
    presented = _bearer(request)
    if presented is None:
        raise InvalidAccessToken(MISSING_KEY)
    if presented not in allowed:
        raise InvalidAccessToken(_key_problem(presented))


def _charge_summary(body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("payment_method")
    amount = body.get("amount_in_cents")
    return {
        "operation": "CREATE_TRANSACTION",
        "reference": body.get("reference"),
        "amount_in_cents": amount if amount is None or isinstance(amount, int) else str(amount),
        "currency": body.get("currency"),
        "payment_method_type": method.get("type") if isinstance(method, dict) else None,
        "transaction_id": None,
        "outcome": "REJECTED",
        "status": None,
    }


def build_api_router() -> APIRouter:
    """The /v1 endpoints the simulator models, with Wompi's auth per call (README: Models)."""
    router = APIRouter()

    @router.get("/v1/merchants/{public_key}")
    async def merchant(public_key: str, request: Request) -> Response:
        sim = _sim(request)
        if public_key != sim.config.public_key:
            raise InvalidAccessToken(_key_problem(public_key))
        return _json({"data": sim.store.merchant(sim.clock.now()), "meta": {}})

    @router.post("/v1/tokens/cards")
    async def card_token(request: Request) -> Response:
        sim = _sim(request)
        _require_key(request, sim.config.public_key, sim.config.private_key)
        now = sim.clock.now()
        token = sim.store.add_card_token(card_token_fields(parse_body(await request.body()), now), now)
        return _json({"status": "CREATED", "data": token.to_json()}, 201)

    @router.post("/v1/tokens/nequi")
    async def nequi_token(request: Request) -> Response:
        sim = _sim(request)
        _require_key(request, sim.config.public_key, sim.config.private_key)
        token = sim.create_nequi_token(nequi_phone(parse_body(await request.body())))
        return _json({"data": token.to_json(), "meta": {}}, 201)

    @router.get("/v1/tokens/nequi/{token_id}")
    async def get_nequi_token(token_id: str, request: Request) -> Response:
        sim = _sim(request)
        _require_key(request, sim.config.public_key, sim.config.private_key)
        token = sim.store.nequi_tokens.get(token_id)
        if token is None:
            raise NotFound()
        return _json({"data": token.to_json(), "meta": {}})

    @router.post("/v1/transactions")
    async def create_transaction(request: Request) -> Response:
        sim = _sim(request)
        keys = [sim.config.private_key]
        if sim.config.transactions_accept_public_key:
            keys.append(sim.config.public_key)
        _require_key(request, *keys)
        body = parse_body(await request.body())
        # The journal's summary is how suites count charges at the gateway; a refused call has no id.
        summary = _charge_summary(body)
        request.state.journal_summary = summary
        tx = build_transaction(body, sim.store, now=sim.clock.now(), base_url=str(request.base_url))
        sim.accept_transaction(tx)
        summary.update(transaction_id=tx.id, outcome=tx.outcome, status=tx.status)
        return _json({"data": sim.transaction_json(tx), "meta": {}}, 201)

    @router.get("/v1/transactions/{transaction_id}")
    async def get_transaction(transaction_id: str, request: Request) -> Response:
        sim = _sim(request)
        # No key is needed here; a key that is sent must still be one of the merchant's.
        if _bearer(request) is not None:
            _require_key(request, sim.config.public_key, sim.config.private_key)
        tx = sim.store.transactions.get(transaction_id)
        if tx is None:
            raise NotFound()
        return _json({"data": sim.transaction_json(tx), "meta": {}})

    @router.get("/v1/transactions")
    async def find_transactions(request: Request) -> Response:
        sim = _sim(request)
        _require_key(request, sim.config.private_key)
        reference = request.query_params.get("reference")
        if not reference:
            raise InputValidationError({"reference": ["Este campo es requerido"]})
        found = sim.store.find_by_reference(reference)
        return _json({"data": [sim.transaction_json(tx) for tx in found], "meta": {}})

    @router.get("/v1/pse/financial_institutions")
    async def pse_banks(request: Request) -> Response:
        sim = _sim(request)
        _require_key(request, sim.config.public_key, sim.config.private_key)
        banks = [{"financial_institution_code": c, "financial_institution_name": n} for c, n, _ in PSE_BANKS]
        return _json({"data": banks, "meta": {}})

    @router.get("/pse/bank/{transaction_id}")
    async def pse_bank_page(transaction_id: str, request: Request) -> HTMLResponse:
        # Stands in for the bank page behind async_payment_url; in sandbox the bank code decides.
        tx = _sim(request).store.transactions.get(transaction_id)
        if tx is None or tx.payment_method_type != "PSE":
            raise NotFound()
        return HTMLResponse(
            f"<html><body><h1>Banco de pruebas PSE</h1><p>Transacción {tx.id}: {tx.status}</p></body></html>"
        )

    return router


def build_wompi_admin_router() -> APIRouter:
    """Admin routes only Wompi has, mounted with the shared ones under /__admin.

    Usage: ``POST /__admin/wompi/transactions/{id}/finalize {"status": "DECLINED"}``
    """
    router = APIRouter(prefix="/wompi")

    @router.get("/transactions")
    async def list_transactions(request: Request) -> Response:
        sim = _sim(request)
        return _json({"data": [sim.transaction_json(tx) for tx in sim.store.transactions.values()]})

    @router.post("/transactions/{transaction_id}/finalize")
    async def finalize(transaction_id: str, request: Request) -> Response:
        sim = _sim(request)
        tx = sim.store.transactions.get(transaction_id)
        if tx is None:
            raise NotFound()
        body = parse_body(await request.body())
        status = body.get("status", tx.outcome)
        if status not in FINAL_STATUSES:
            raise InputValidationError({"status": [f"Debe ser uno de: {', '.join(sorted(FINAL_STATUSES))}"]})
        voiding = status == "VOIDED" and tx.status == "APPROVED" and tx.payment_method_type == "CARD"
        if tx.status != "PENDING" and not voiding:
            return _json({"error": {"type": "CONFLICT", "reason": f"transaction is {tx.status}"}}, 409)
        if status == "VOIDED" and tx.payment_method_type != "CARD":
            raise InputValidationError({"status": ["Solo una transacción con tarjeta puede anularse"]})
        sim.finalize(tx, status)
        return _json({"data": sim.transaction_json(tx), "meta": {}})

    @router.get("/events-url")
    async def get_events_url(request: Request) -> Response:
        return _json({"url": _sim(request).events_url})

    @router.put("/events-url")
    async def set_events_url(request: Request) -> Response:
        url = parse_body(await request.body()).get("url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise InputValidationError({"url": ["Debe ser una URL http(s) o null"]})
        _sim(request).events_url = url
        return _json({"url": url})

    return router
