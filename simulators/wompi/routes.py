"""Wompi's public API (/v1/...) and the simulator's Wompi-only admin routes (/__admin/wompi/...).

Usage: ``app.router.routes.extend(api_routes(gateway)); build_admin_router(..., extra=build_wompi_admin_router())``
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from simulators.wompi.errors import InputValidationError, InvalidAccessToken, NotFound
from simulators.wompi.state import FINAL_STATUSES, PSE_BANKS
from simulators.wompi.validation import build_transaction, card_token_fields, nequi_phone, parse_body

if TYPE_CHECKING:
    from simulators.wompi.service import WompiGateway

OTHER_ENVIRONMENT = "La llave proporcionada no corresponde a este ambiente."
MISSING_KEY = "Se debe enviar una llave de autenticación en el encabezado Authorization"
BAD_KEY = "La llave proporcionada no es válida"
PSE_BANKS_BODY = json.dumps(
    {
        "data": [{"financial_institution_code": c, "financial_institution_name": n} for c, n, _ in PSE_BANKS],
        "meta": {},
    },
    separators=(",", ":"),
).encode()


def _sim(request: Request) -> WompiGateway:
    gateway: WompiGateway = request.app.state.sim.state
    return gateway


def _json(payload: Any, status: int = 200) -> Response:
    # Plain json.dumps into a Response: FastAPI's encoder is slow, and a load test hits these routes.
    return Response(json.dumps(payload, separators=(",", ":")), status_code=status, media_type="application/json")


def _key_problem(presented: str) -> str:
    return OTHER_ENVIRONMENT if presented.startswith(("pub_prod_", "prv_prod_")) else BAD_KEY


def _bearer(request: Request) -> str | None:
    # Straight from the ASGI scope (names arrive lower-cased): building Headers costs more than the lookup.
    header = next((v.decode("latin-1") for k, v in request.scope["headers"] if k == b"authorization"), None)
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


class WompiApi:
    """The /v1 endpoints as bound methods over one gateway (no per-request app-state lookups)."""

    def __init__(self, sim: WompiGateway) -> None:
        self.sim = sim

    async def merchant(self, request: Request) -> Response:
        sim = self.sim
        public_key = request.path_params["public_key"]
        if public_key != sim.config.public_key:
            raise InvalidAccessToken(_key_problem(public_key))
        return _json({"data": sim.store.merchant(sim.clock.now()), "meta": {}})

    async def card_token(self, request: Request) -> Response:
        sim = self.sim
        _require_key(request, sim.config.public_key, sim.config.private_key)
        now = sim.clock.now()
        token = sim.store.add_card_token(card_token_fields(parse_body(await request.body()), now), now)
        return _json({"status": "CREATED", "data": token.to_json()}, 201)

    async def nequi_token(self, request: Request) -> Response:
        sim = self.sim
        _require_key(request, sim.config.public_key, sim.config.private_key)
        token = sim.create_nequi_token(nequi_phone(parse_body(await request.body())))
        return _json({"data": token.to_json(), "meta": {}}, 201)

    async def get_nequi_token(self, request: Request) -> Response:
        sim = self.sim
        _require_key(request, sim.config.public_key, sim.config.private_key)
        token = sim.store.nequi_tokens.get(request.path_params["token_id"])
        if token is None:
            raise NotFound()
        return _json({"data": token.to_json(), "meta": {}})

    async def create_transaction(self, request: Request) -> Response:
        sim = self.sim
        keys = [sim.config.private_key]
        if sim.config.transactions_accept_public_key:
            keys.append(sim.config.public_key)
        _require_key(request, *keys)
        body = parse_body(await request.body())
        # The journal's summary is how suites count charges at the gateway; a refused call has no id.
        summary = _charge_summary(body)
        request.state.journal_summary = summary
        tx = build_transaction(body, sim.store, now=sim.clock.now())
        if tx.payment_method_type == "PSE":
            # Only PSE needs it, and building base_url costs as much as the rest of a request.
            tx.async_url = f"{request.base_url}pse/bank/{tx.id}"
        sim.accept_transaction(tx)
        summary.update(transaction_id=tx.id, outcome=tx.outcome, status=tx.status)
        return _json({"data": sim.transaction_json(tx), "meta": {}}, 201)

    async def get_transaction(self, request: Request) -> Response:
        sim = self.sim
        # No key is needed here; a key that is sent must still be one of the merchant's.
        if _bearer(request) is not None:
            _require_key(request, sim.config.public_key, sim.config.private_key)
        tx = sim.store.transactions.get(request.path_params["transaction_id"])
        if tx is None:
            raise NotFound()
        return _json({"data": sim.transaction_json(tx), "meta": {}})

    async def find_transactions(self, request: Request) -> Response:
        sim = self.sim
        _require_key(request, sim.config.private_key)
        reference = request.query_params.get("reference")
        if not reference:
            raise InputValidationError({"reference": ["Este campo es requerido"]})
        found = sim.store.find_by_reference(reference)
        return _json({"data": [sim.transaction_json(tx) for tx in found], "meta": {}})

    async def pse_banks(self, request: Request) -> Response:
        sim = self.sim
        _require_key(request, sim.config.public_key, sim.config.private_key)
        return Response(PSE_BANKS_BODY, media_type="application/json")

    async def pse_bank_page(self, request: Request) -> Response:
        # Stands in for the bank page behind async_payment_url; in sandbox the bank code decides.
        tx = self.sim.store.transactions.get(request.path_params["transaction_id"])
        if tx is None or tx.payment_method_type != "PSE":
            raise NotFound()
        return HTMLResponse(
            f"<html><body><h1>Banco de pruebas PSE</h1><p>Transacción {tx.id}: {tx.status}</p></body></html>"
        )


def api_routes(sim: WompiGateway) -> list[Route]:
    """The /v1 endpoints the simulator models, with Wompi's auth per call (README: Models).

    Plain Starlette routes, not FastAPI ones: FastAPI's per-request dependency solving halves
    throughput, and these are the routes a load test hammers.
    Usage: ``app.router.routes.extend(api_routes(gateway))``
    """
    api = WompiApi(sim)
    return [
        Route("/v1/merchants/{public_key}", api.merchant, methods=["GET"]),
        Route("/v1/tokens/cards", api.card_token, methods=["POST"]),
        Route("/v1/tokens/nequi", api.nequi_token, methods=["POST"]),
        Route("/v1/tokens/nequi/{token_id}", api.get_nequi_token, methods=["GET"]),
        Route("/v1/transactions", api.create_transaction, methods=["POST"]),
        Route("/v1/transactions", api.find_transactions, methods=["GET"]),
        Route("/v1/transactions/{transaction_id}", api.get_transaction, methods=["GET"]),
        Route("/v1/pse/financial_institutions", api.pse_banks, methods=["GET"]),
        Route("/pse/bank/{transaction_id}", api.pse_bank_page, methods=["GET"]),
    ]


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
        if not isinstance(status, str) or status not in FINAL_STATUSES:
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
