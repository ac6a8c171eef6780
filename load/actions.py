"""What the Locust users do, one function per action, each writing what it sent and got to the ledger.

Webhook deliveries behave like a gateway: a 5xx or a connection error is retried (short backoff, at most
``max_tries`` attempts), so a core restarted mid-run still receives every event; every attempt is a ledger
entry. A forged request is expected to get 401 and is marked a success when it does (``catch_response``):
thresholds count only what went wrong.

Usage (inside a FastHttpUser)::

    deliver(self.client, delivery, render(delivery), ctx)
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import gevent

from load.ledger import LedgerEntry, LedgerWriter
from load.payloads import Delivery, SignedRequest, SimStory
from load.shapes import late_ms, latency_ms
from load.thresholds import NOT_SENT
from simulators.wompi.signing import integrity_signature

BACKOFF = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass
class Context:
    """What an action needs besides the HTTP client: where to write and which run it belongs to."""

    writer: LedgerWriter
    run_id: str
    max_tries: int = 6


def _answer(response: Any) -> str | None:
    try:
        body = json.loads(response.content or b"{}")
    except (ValueError, TypeError):
        return None
    if isinstance(body, dict):
        if "status" in body:
            return str(body["status"])
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("code"))
    return None


def _post_once(client: Any, request: SignedRequest, delivery: Delivery, ctx: Context, try_no: int,
               scheduled: float | None = None) -> int | None:
    """One attempt; ``scheduled`` (a ``time.perf_counter`` instant, open pacing) is when it was due: its
    latency, in Locust's statistics and the ledger, then counts from there rather than from the send."""
    started, code, answer = time.time(), None, None
    clock = time.perf_counter()
    late = 0.0 if scheduled is None else late_ms(scheduled, clock)
    try:
        with client.post(
            request.path,
            data=request.body,
            headers=request.headers,
            catch_response=True,
            name=f"webhook {delivery.attempt.gateway}",
        ) as response:
            if scheduled is not None:  # Locust reports this figure when the with-block ends
                response.request_meta["response_time"] = latency_ms(scheduled, clock, time.perf_counter())
            code = response.status_code or None  # 0: no answer (refused, reset, timeout)
            answer = _answer(response) if code else None
            if code == delivery.expected_code:
                response.success()
            else:
                # No answer: say why (refused, reset, timeout), so a rare one in a long run can be diagnosed.
                got = code or f"no answer ({getattr(response, 'error', None)!r})"
                response.failure(f"{delivery.role}: expected {delivery.expected_code}, got {got}")
    finally:
        # Also when the greenlet is killed mid-request at the end of the run: then code stays None.
        a = delivery.attempt
        ctx.writer.write(
            LedgerEntry(
                id=ctx.writer.next_id(),
                at=started,
                gateway=a.gateway,
                key=request.key,
                order=a.order_reference,
                attempt=a.reference,
                status=delivery.status,
                role=delivery.role,
                signature=request.signature,
                expect=delivery.expected_code,
                code=code,
                answer=answer,
                ms=round(latency_ms(scheduled, clock, time.perf_counter()), 2),
                try_no=try_no,
                gateway_id=a.gateway_id,
                run=ctx.run_id,
                late_ms=round(late, 2),
            )
        )
    return code


def deliver(client: Any, delivery: Delivery, request: SignedRequest, ctx: Context,
            scheduled: float | None = None) -> int | None:
    """Send one delivery, retrying like a gateway on 5xx or no answer; returns the last status.

    ``scheduled``: the first try's due instant (open pacing). A retry is due when its back-off ends, which
    is when it starts, so it is timed from its start."""
    code: int | None = None
    for try_no in range(1, ctx.max_tries + 1):
        code = _post_once(client, request, delivery, ctx, try_no, scheduled if try_no == 1 else None)
        if delivery.role == "forged" or (code is not None and code < 500):
            break
        gevent.sleep(BACKOFF[min(try_no, len(BACKOFF)) - 1])
    return code


class NotSentOnTime(Exception):
    """A scheduled send the user's in-flight cap refused (open pacing): a failure, with no latency."""


def not_sent(request_event: Any, delivery: Delivery, *, in_flight: int, cap: int) -> None:
    """Count a scheduled delivery that was not sent as a failed request named ``webhook <gateway> not sent``.

    Its response time is None (Locust counts it as a request and a failure, and leaves it out of the
    percentiles: it has no latency to give). Nothing goes to the ledger, which holds what was sent, so the
    audit expects nothing of it; its order stays as seeded."""
    request_event.fire(
        request_type="POST",
        name=f"webhook {delivery.attempt.gateway} {NOT_SENT}",
        response_time=None,
        response_length=0,
        # One message per cap, so Locust's failure table has one row per gateway, not one per count in flight.
        exception=NotSentOnTime(f"not sent on time: the user's cap of {cap} requests in flight was reached"),
        context={},
        start_time=time.time(),
        url="",
    )


# ------------------------------------------------------------------------------- the Wompi simulator


@dataclass
class WompiKeys:
    public_key: str
    private_key: str
    integrity_secret: str


def acceptance_token(client: Any, base: str, keys: WompiKeys) -> str | None:
    with client.get(f"{base}/v1/merchants/{keys.public_key}", name="sim merchant", catch_response=True) as r:
        if r.status_code != 200:
            r.failure(f"merchant lookup {r.status_code}")
            return None
        return str(r.json()["data"]["presigned_acceptance"]["acceptance_token"])


def card_token(client: Any, base: str, keys: WompiKeys, number: str) -> str | None:
    card = {"number": number, "cvc": "123", "exp_month": "08", "exp_year": "35", "card_holder": "Carga Payharness"}
    with client.post(
        f"{base}/v1/tokens/cards",
        json=card,
        headers={"Authorization": f"Bearer {keys.public_key}"},
        name="sim card token",
        catch_response=True,
    ) as r:
        if r.status_code != 201:
            r.failure(f"card token {r.status_code}")
            return None
        return str(r.json()["data"]["id"])


def pay_at_simulator(client: Any, base: str, keys: WompiKeys, story: SimStory, acceptance: str, ctx: Context) -> None:
    """Create a card transaction at the Wompi simulator; the simulator later sends its event to the core."""
    token = card_token(client, base, keys, story.card)
    if token is None:
        return
    cents = int(story.attempt.amount * 100)
    body = {
        "acceptance_token": acceptance,
        "amount_in_cents": cents,
        "currency": "COP",
        "customer_email": "comprador@example.com",
        "reference": story.attempt.reference,
        "signature": integrity_signature(story.attempt.reference, cents, "COP", keys.integrity_secret),
        "payment_method": {"type": "CARD", "token": token, "installments": 1},
    }
    started, code, tx_id = time.time(), None, None
    try:
        with client.post(
            f"{base}/v1/transactions",
            json=body,
            headers={"Authorization": f"Bearer {keys.private_key}"},
            name="sim create transaction",
            catch_response=True,
        ) as r:
            code = r.status_code or None
            if code == 201:
                tx_id = str(r.json()["data"]["id"])
            else:
                r.failure(f"create transaction {code}: {r.text[:200] if r.text else ''}")
    finally:
        ctx.writer.write(
            LedgerEntry(
                id=ctx.writer.next_id(),
                at=started,
                gateway="wompi",
                key=story.attempt.reference,
                order=story.order_reference,
                attempt=story.attempt.reference,
                status=story.expected_status,
                role="sim_charge",
                signature="",
                expect=201,
                code=code,
                gateway_id=tx_id,
                run=ctx.run_id,
            )
        )


# ------------------------------------------------------------------------------------- the core's API


def _entry(
    ctx: Context,
    *,
    role: str,
    gateway: str,
    order: str,
    attempt: str,
    started: float,
    code: int | None,
    answer: str | None,
) -> LedgerEntry:
    return LedgerEntry(
        id=ctx.writer.next_id(),
        at=started,
        gateway=gateway,
        key=order,
        order=order,
        attempt=attempt,
        status="approved",
        role=role,
        signature="",
        expect=200,
        code=code,
        answer=answer,
        run=ctx.run_id,
    )


def create_order(client: Any, token: str, amount: Decimal) -> dict[str, Any] | None:
    with client.post(
        "/orders",
        json={"amount": f"{amount:.2f}", "currency": "COP"},
        name="api create order",
        headers={"Authorization": f"Bearer {token}"},
        catch_response=True,
    ) as r:
        if r.status_code != 201:
            r.failure(f"create order {r.status_code}")
            return None
        return dict(r.json())


def process_payment(client: Any, token: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any] | None]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    with client.post(
        "/payments/process", json=body, headers=headers, name="api process payment", catch_response=True
    ) as r:
        if r.status_code != 200:
            r.failure(f"process payment {r.status_code}: {r.text[:200] if r.text else ''}")
            return r.status_code or 0, None
        return 200, dict(r.json())


def retry_same_key(client: Any, token: str, body: dict[str, Any], key: str, *, max_tries: int
                   ) -> tuple[int, dict[str, Any] | None]:
    """The client's retry of a payment with the same Idempotency-Key, itself retried (as ``deliver`` does)
    while the answer is a 5xx or none: that is no answer yet — the database crashed under it, say — and
    the key's promise is about the answer."""
    code, answer = process_payment(client, token, body, key)
    for try_no in range(1, max_tries):
        if 0 < code < 500:
            break
        gevent.sleep(BACKOFF[min(try_no, len(BACKOFF)) - 1])
        code, answer = process_payment(client, token, body, key)
    return code, answer


def checkout(
    client: Any, token: str, amount: Decimal, card: str, ctx: Context, *, wompi: str, keys: WompiKeys, replay: bool
) -> None:
    """Create an order and pay it by card through the core; the Wompi simulator approves asynchronously."""
    order = create_order(client, token, amount)
    card_tok = card_token(client, wompi, keys, card) if order else None
    if order is None or card_tok is None:
        return
    body = {
        "order_id": order["id"],
        "amount": f"{amount:.2f}",
        "currency": "COP",
        "method": "CARD",
        "customer_email": "comprador@example.com",
        "card": {"token": card_tok},
    }
    key, started = str(uuid.uuid4()), time.time()
    code, answer = process_payment(client, token, body, key)
    tx = (answer or {}).get("transaction") or {}
    verdict = tx.get("status")
    if replay and answer is not None:
        # A client retry with the same key must get the very same answer, and charge nothing. A 5xx or no
        # answer is no answer yet (an outage: the database crashed under it) and is retried as a client would.
        again_code, again = retry_same_key(client, token, body, key, max_tries=ctx.max_tries)
        if not 0 < again_code < 500:
            verdict = "idempotency_unchecked"
        elif again != answer:
            verdict = "idempotency_mismatch"
    ctx.writer.write(
        _entry(
            ctx,
            role="checkout",
            gateway="wompi",
            order=order["reference"],
            attempt=str(tx.get("reference", "")),
            started=started,
            code=code,
            answer=verdict,
        )
    )


def efecty_cash(
    client: Any, token: str, admin_token: str, amount: Decimal, ctx: Context, *, efecty: str, confirm_twice: bool
) -> None:
    """Order → Efecty voucher → paid at the counter (simulator) → confirmed by an admin, maybe twice."""
    order = create_order(client, token, amount)
    if order is None:
        return
    body = {
        "order_id": order["id"],
        "amount": f"{amount:.2f}",
        "currency": "COP",
        "method": "EFECTY",
        "customer_email": "comprador@example.com",
    }
    started = time.time()
    code, answer = process_payment(client, token, body, str(uuid.uuid4()))
    voucher = (answer or {}).get("efecty") or {}
    code_text = voucher.get("payment_code")
    verdict: str | None = None
    if code_text:
        with client.post(
            f"{efecty}/__admin/vouchers/{code_text}/pay", json={}, name="sim efecty pay", catch_response=True
        ) as r:
            if r.status_code != 201:
                r.failure(f"efecty pay {r.status_code}")
        for _ in range(2 if confirm_twice else 1):
            with client.post(
                f"/admin/efecty/{code_text}/confirm",
                headers={"Authorization": f"Bearer {admin_token}"},
                name="api efecty confirm",
                catch_response=True,
            ) as r:
                code = r.status_code or 0
                if code != 200:
                    r.failure(f"efecty confirm {code}")
                else:
                    verdict = str(r.json().get("order_status"))
    ctx.writer.write(
        _entry(
            ctx,
            role="efecty",
            gateway="efecty",
            order=order["reference"],
            attempt=code_text or "",
            started=started,
            code=code,
            answer=verdict,
        )
    )
