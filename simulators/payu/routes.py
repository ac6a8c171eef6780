"""PayU's HTTP surface: the payments and queries service.cgi endpoints, voucher receipts, /__admin/payu.

Both APIs are RPC style: one URL each, always POST, the operation named by ``command`` in the body.

Usage: ``app.router.routes[:0] = api_routes()``; ``app.include_router(receipts_router())``;
``sim.install(app, ..., extra=admin_router())``
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from simulators.common.jsonbody import parse_json
from simulators.payu.errors import BadRequest, PayUError, error_body
from simulators.payu.jsonio import json_response
from simulators.payu.render import order_payload, transaction_response
from simulators.payu.sandbox import payment_methods_catalogue, pse_banks_catalogue
from simulators.payu.service import PayUGateway
from simulators.payu.signing import response_signature
from simulators.payu.state import Transaction

PAYMENTS_PATH = "/payments-api/4.0/service.cgi"
QUERIES_PATH = "/reports-api/4.0/service.cgi"


def _gateway(request: Request) -> PayUGateway:
    gateway: PayUGateway = request.app.state.sim.state
    return gateway


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if "xml" in content_type or raw.lstrip().startswith(b"<"):
        raise BadRequest("XML bodies are not supported by this simulator; send JSON")
    try:
        body = parse_json(raw)
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body


def _success(key: str, payload: Any) -> Response:
    return json_response({"code": "SUCCESS", "error": None, key: payload})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _submit_summary(body: dict[str, Any]) -> dict[str, Any]:
    tx = _dict(body.get("transaction"))
    order = _dict(tx.get("order"))
    tx_value = _dict(_dict(order.get("additionalValues")).get("TX_VALUE"))
    amount = tx_value.get("value")
    return {
        "command": "SUBMIT_TRANSACTION",
        "reference": order.get("referenceCode"),
        "amount": None if amount is None else str(amount),
        "currency": tx_value.get("currency"),
        "payment_method": tx.get("paymentMethod"),
    }


def api_routes() -> list[Route]:
    """The two service.cgi endpoints as plain Starlette routes: the hot path skips FastAPI's
    dependency machinery, which costs more than the simulator's own work on a PING."""
    return [
        Route(PAYMENTS_PATH, payments_endpoint, methods=["POST"]),
        Route(QUERIES_PATH, queries_endpoint, methods=["POST"]),
    ]


def _error(request: Request, exc: PayUError, key: str) -> Response:
    status = _gateway(request).config.error_http_status
    return json_response(error_body(exc, payload_key=key), status=status)


async def payments_endpoint(request: Request) -> Response:
    """POST /payments-api/4.0/service.cgi: PING, SUBMIT_TRANSACTION, GET_PAYMENT_METHODS, GET_BANKS_LIST."""
    try:
        return await _payments(request)
    except PayUError as exc:
        return _error(request, exc, "transactionResponse")


async def _payments(request: Request) -> Response:
    body = await _body(request)
    command = body.get("command")
    gateway = _gateway(request)
    if command == "PING":
        gateway.check_merchant(body)
        return _success("transactionResponse", None)
    if command == "SUBMIT_TRANSACTION":
        summary = _submit_summary(body)
        request.state.journal_summary = summary
        try:
            tx = gateway.submit(body, base_url=str(request.base_url))
        except PayUError as exc:
            summary.update(outcome="ERROR", error=exc.message)
            raise
        summary.update(transaction_id=tx.id, order_id=tx.order_id, outcome=tx.state)
        return _success("transactionResponse", transaction_response(tx))
    if command == "GET_PAYMENT_METHODS":
        gateway.check_merchant(body)
        return json_response({"code": "SUCCESS", "error": None, "paymentMethods": payment_methods_catalogue()})
    if command == "GET_BANKS_LIST":
        gateway.check_merchant(body)
        info = _dict(body.get("bankListInformation"))
        if info.get("paymentMethod") != "PSE" or info.get("paymentCountry") != "CO":
            raise BadRequest("bankListInformation must be {paymentMethod: PSE, paymentCountry: CO}")
        return json_response({"code": "SUCCESS", "error": None, "banks": pse_banks_catalogue()})
    raise BadRequest(f"Invalid command [{command}] for the payments API")


async def queries_endpoint(request: Request) -> Response:
    """POST /reports-api/4.0/service.cgi: PING, ORDER_DETAIL, ORDER_DETAIL_BY_REFERENCE_CODE,
    TRANSACTION_RESPONSE_DETAIL."""
    try:
        return await _queries(request)
    except PayUError as exc:
        return _error(request, exc, "result")


async def _queries(request: Request) -> Response:
    body = await _body(request)
    command = body.get("command")
    gateway = _gateway(request)
    gateway.check_merchant(body)
    details = _dict(body.get("details"))
    store = gateway.store
    merchant_id = gateway.config.merchant_id
    if command == "PING":
        return _success("result", {"payload": "ping"})
    # UNCONFIRMED what PayU answers for an unknown id; chosen: SUCCESS with a null payload.
    if command == "ORDER_DETAIL":
        order_id = str(details.get("orderId"))
        # isdigit alone admits "²", which int() refuses; PayU order ids are short ASCII digit strings.
        numeric = order_id.isascii() and order_id.isdigit() and len(order_id) <= 19
        order = store.orders.get(int(order_id)) if numeric else None
        return _success("result", {"payload": order_payload(order, merchant_id=merchant_id) if order else None})
    if command == "ORDER_DETAIL_BY_REFERENCE_CODE":
        orders = store.by_reference.get(str(details.get("referenceCode")), [])
        payload = [order_payload(o, merchant_id=merchant_id) for o in orders] or None
        return _success("result", {"payload": payload})
    if command == "TRANSACTION_RESPONSE_DETAIL":
        tx = store.transactions.get(str(details.get("transactionId")))
        return _success("result", {"payload": transaction_response(tx) if tx else None})
    raise BadRequest(f"Invalid command [{command}] for the queries API")


def receipts_router() -> APIRouter:
    """The cash voucher's receipt pages (HTML and PDF), at PayU's checkout paths."""
    router = APIRouter()

    @router.get("/ppp-web-gateway-payu/app/v2")
    async def receipt_html(request: Request, vid: str = "") -> Response:
        tx = _voucher_by_vid(request, vid)
        gateway = _gateway(request)
        order = gateway.store.order_of(tx)
        expires = tx.expires_at.isoformat() if tx.expires_at else ""
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Comprobante de pago</title></head><body>"
            f"<h1>{html.escape(tx.payment_method)}</h1><p>Referencia de pago: <b>{order.id}</b></p>"
            f"<p>Valor: {order.value} {html.escape(order.currency)}</p><p>Vence: {expires}</p>"
            f"<p>Estado: {tx.state}</p></body></html>"
        )
        return HTMLResponse(page)

    @router.get("/ppp-web-gateway-payu/receipt")
    async def receipt_pdf(request: Request, vid: str = "") -> Response:
        tx = _voucher_by_vid(request, vid)
        order = _gateway(request).store.order_of(tx)
        return Response(
            _tiny_pdf(f"Referencia de pago {order.id} - {order.value} {order.currency}"),
            200,
            media_type="application/pdf",
        )

    return router


def _voucher_by_vid(request: Request, vid: str) -> Transaction:
    gateway = _gateway(request)
    tx_id = gateway.vouchers.get(vid)
    if tx_id is None:
        raise HTTPException(404, "Unknown voucher")
    return gateway.store.transactions[tx_id]


def _tiny_pdf(line: str) -> bytes:
    """A one-page PDF with one line of text, enough for a client that downloads the receipt."""
    text = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1", "replace")
    stream = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# ------------------------------------------------------------------------------------------- /__admin


def _tx_or_404(gateway: PayUGateway, transaction_id: str) -> Transaction:
    tx = gateway.store.transactions.get(transaction_id)
    if tx is None:
        raise HTTPException(404, {"code": "NOT_FOUND", "message": f"no transaction {transaction_id}"})
    return tx


def _voucher_or_404(gateway: PayUGateway, key: str) -> Transaction:
    tx = gateway.store.find_voucher(key)
    if tx is None:
        raise HTTPException(404, {"code": "NOT_FOUND", "message": f"no cash voucher {key}"})
    return tx


def _conflict(exc: ValueError) -> HTTPException:
    return HTTPException(409, {"code": "CONFLICT", "message": str(exc)})


def admin_router() -> APIRouter:
    """Gateway-specific admin routes, mounted under /__admin by the shared admin router."""
    router = APIRouter(prefix="/payu")

    @router.get("/orders")
    async def orders(request: Request) -> Response:
        gateway = _gateway(request)
        merchant_id = gateway.config.merchant_id
        return json_response(
            {"orders": [order_payload(o, merchant_id=merchant_id) for o in gateway.store.orders.values()]}
        )

    @router.get("/transactions/{transaction_id}")
    async def transaction(request: Request, transaction_id: str) -> Response:
        tx = _tx_or_404(_gateway(request), transaction_id)
        return json_response({"transactionResponse": transaction_response(tx), "paid_at": _iso(tx.paid_at)})

    @router.post("/transactions/{transaction_id}/final")
    async def make_final(request: Request, transaction_id: str, body: dict[str, Any] = Body(...)) -> Response:
        gateway = _gateway(request)
        tx = _tx_or_404(gateway, transaction_id)
        state = str(body.get("state", "")).upper()
        code = body.get("response_code")
        try:
            gateway.finalize(tx, state, None if code is None else str(code))
        except ValueError as exc:
            raise _conflict(exc) from exc
        gateway.journal.record("admin", action="payu.final", transaction_id=tx.id, state=state)
        return json_response({"transactionResponse": transaction_response(tx)})

    @router.post("/references/{reference}/transactions")
    async def retry(request: Request, reference: str, body: dict[str, Any] = Body(...)) -> Response:
        """The buyer pays the reference's latest order again: another transaction under the same reference."""
        gateway = _gateway(request)
        order = gateway.store.latest_order(reference)
        if order is None:
            raise HTTPException(404, {"code": "NOT_FOUND", "message": f"no order with referenceCode {reference}"})
        state = str(body.get("state", "")).upper()
        code = body.get("response_code")
        try:
            tx = gateway.retry(order, state, None if code is None else str(code))
        except ValueError as exc:
            raise _conflict(exc) from exc
        gateway.journal.record("admin", action="payu.retry", reference=reference, transaction_id=tx.id, state=state)
        return json_response({"transactionResponse": transaction_response(tx)})

    @router.post("/vouchers/{key}/pay")
    async def pay(request: Request, key: str) -> Response:
        gateway = _gateway(request)
        tx = _voucher_or_404(gateway, key)
        try:
            gateway.pay_voucher(tx)
        except ValueError as exc:
            raise _conflict(exc) from exc
        gateway.journal.record("admin", action="payu.voucher.pay", transaction_id=tx.id)
        return json_response({"transactionResponse": transaction_response(tx), "paid_at": _iso(tx.paid_at)})

    @router.post("/vouchers/{key}/expire")
    async def expire(request: Request, key: str) -> Response:
        gateway = _gateway(request)
        tx = _voucher_or_404(gateway, key)
        try:
            gateway.finalize(tx, "EXPIRED", "EXPIRED_TRANSACTION")
        except ValueError as exc:
            raise _conflict(exc) from exc
        gateway.journal.record("admin", action="payu.voucher.expire", transaction_id=tx.id)
        return json_response({"transactionResponse": transaction_response(tx)})

    @router.get("/transactions/{transaction_id}/response-url")
    async def response_url(request: Request, transaction_id: str) -> Response:
        """The browser-redirect parameters PayU would append to the response URL, signed."""
        gateway = _gateway(request)
        tx = _tx_or_404(gateway, transaction_id)
        return json_response(response_url_params(gateway, tx))

    @router.get("/confirmation-url")
    async def get_confirmation_url(request: Request) -> Response:
        return json_response({"url": _gateway(request).confirmation_url})

    @router.put("/confirmation-url")
    async def set_confirmation_url(request: Request, body: dict[str, Any] = Body(...)) -> Response:
        """The account-level confirmation URL (PayU Module setting); a request's notifyUrl still wins."""
        gateway = _gateway(request)
        url = body.get("url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise HTTPException(422, {"code": "INVALID_URL", "message": "url must be an http(s) URL or null"})
        gateway.confirmation_url = url
        gateway.journal.record("admin", action="payu.confirmation_url", url=url)
        return json_response({"url": url})

    @router.get("/pse/{transaction_id}")
    async def pse_bank_page(request: Request, transaction_id: str) -> Response:
        tx = _tx_or_404(_gateway(request), transaction_id)
        return HTMLResponse(
            "<!doctype html><html><body><h1>PSE (simulated bank)</h1>"
            f"<p>Transaction {html.escape(tx.id)}: {tx.state}</p>"
            f"<p>Complete it with POST /__admin/payu/transactions/{html.escape(tx.id)}/final</p></body></html>"
        )

    return router


# The response page's transactionState numbers: 4 approved, 6 declined, 104 error, 7 pending, 5 expired.
_TRANSACTION_STATE = {"APPROVED": "4", "DECLINED": "6", "ERROR": "104", "PENDING": "7", "EXPIRED": "5"}


def response_url_params(gateway: PayUGateway, tx: Transaction) -> dict[str, Any]:
    """Parameters of the response-URL redirect, signed with the response-URL ``new_value`` rule."""
    order = gateway.store.order_of(tx)
    state = _TRANSACTION_STATE.get(tx.state, "7")
    params = {
        "merchantId": gateway.config.merchant_id,
        "transactionState": state,
        "lapTransactionState": tx.state,
        "referenceCode": order.reference_code,
        "reference_pol": str(order.id),
        "transactionId": tx.id,
        "TX_VALUE": f"{order.value:.2f}",
        "currency": order.currency,
        "lapResponseCode": tx.response_code,
        "lapPaymentMethod": tx.payment_method,
        "signature": response_signature(
            api_key=gateway.config.api_key,
            merchant_id=gateway.config.merchant_id,
            reference_code=order.reference_code,
            tx_value=order.value,
            currency=order.currency,
            transaction_state=state,
            algorithm=gateway.signer.algorithm,
            secret=gateway.signer.secret,
        ),
    }
    return {"response_url": tx.request_extra.get("RESPONSE_URL"), "params": params}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
