"""What a portable scenario does to any profiled service: a pending payment, and gateway events about it.

Events are signed here with the simulators' signers (``suites.support.events``), carrying the reference the
service answered when it started the payment, so what reaches the service, and when, is the scenario's
choice alone. Each webhook scenario runs once per gateway (the ``gateway`` fixture): a Wompi event is a signed
JSON document, a PayU confirmation a signed form.

Usage::

    payment = await pending_payment(target, "wompi", Decimal("50000.00"))
    body, headers = event(target, payment, status="APPROVED")
    await target.post_webhook(payment.gateway, body, headers)
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from harness.target.target import Answer, Target, User
from suites.support.events import form_body, payu_confirmation, wompi_event_dict

CENTS = Decimal(100)
PATIENCE_S = 15.0
# What each gateway simulator's journal names a charge: a card payment that reached the gateway.
CHARGE = {"wompi": "CREATE_TRANSACTION", "payu": "SUBMIT_TRANSACTION"}


@dataclass(frozen=True)
class Payment:
    """An order with one payment the service started and is waiting for the gateway to settle."""

    gateway: str
    order_id: str
    total: Decimal
    reference: str
    gateway_id: str  # the gateway's transaction id: from the pay answer, else one made up for the events


async def new_order(target: Target, total: Decimal, user: User = "buyer") -> str:
    order = await target.create_order(total, user=user)
    assert 200 <= order.status < 300 and order.order_id is not None, (
        f"creating an order of {total} answered {order.status}: {order.text[:200]}")
    return order.order_id


async def pay_patiently(target: Target, gateway: str, order_id: str, total: Decimal, user: User = "buyer") -> Answer:
    """Start a payment as setup for a scenario: a 429 is waited out (its Retry-After, up to 15 s in all).

    A service with a card-testing limit is right to refuse a burst; a scenario about webhooks or money
    must not fail for it. The rate-limit scenario itself calls ``target.pay`` and never waits.
    """
    waited = 0.0
    while True:
        answer = await target.pay(gateway, order_id, total, user=user)
        wait = _retry_after(answer)
        if answer.status != 429 or wait is None or waited + wait > PATIENCE_S:
            return answer
        await asyncio.sleep(wait)
        waited += wait


def _retry_after(answer: Answer) -> float | None:
    try:
        return max(0.2, float(answer.headers.get("retry-after", "1")))
    except ValueError:
        return None


async def pending_payment(target: Target, gateway: str, total: Decimal, user: User = "buyer") -> Payment:
    """An order of ``total`` with a ``gateway`` payment started and not yet settled (the events will settle it).

    ``user``: the profile's buyer, or the headers of an identity the caller holds (``harness.target.target.User``).
    """
    order_id = await new_order(target, total, user)
    paid = await pay_patiently(target, gateway, order_id, total, user)
    assert 200 <= paid.status < 300 and paid.reference, (
        f"starting a {gateway} payment of order {order_id} answered {paid.status}: {paid.text[:200]}")
    # The payment must wait for the scenario's events, or every verdict after this would lie. Checked only
    # where the profile observes the status: a scenario needs no more of the profile than it names.
    state = await target.order_state(order_id) if target.profile.observe.order_status is not None else "unknown"
    assert state != "paid", (f"api.pay.{gateway} settled order {order_id} at once (its answer: {paid.text[:160]});"
                             f" webhook scenarios need a payment that waits for the gateway's event (for PayU, a "
                             f"card whose holder is PENDING)")
    gateway_id = paid.gateway_id or f"{secrets.randbelow(10**6)}-{secrets.token_hex(5)}"
    return Payment(gateway, order_id, total, str(paid.reference), str(gateway_id))


def event_fields(target: Target, payment: Payment, *, status: str = "APPROVED", amount: Decimal | None = None,
                 gateway_id: str | None = None, secret: str | None = None) -> dict[str, Any]:
    """The event as data (a Wompi JSON document or a PayU form), signed; alter it to tamper."""
    values = target.run.values
    amount = payment.total if amount is None else amount
    if payment.gateway == "wompi":
        return wompi_event_dict(tx_id=gateway_id or payment.gateway_id, status=status,
                                amount_in_cents=int(amount * CENTS), reference=payment.reference,
                                secret=secret or values["wompi_events_secret"])
    return payu_confirmation(reference_sale=payment.reference, value=amount, status=status,
                             api_key=secret or values["payu_api_key"], merchant_id=values["payu_merchant_id"],
                             transaction_id=gateway_id or payment.gateway_id)


def encode(payment: Payment, fields: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    if payment.gateway == "wompi":
        headers = {"content-type": "application/json"}
        checksum = (fields.get("signature") or {}).get("checksum")
        if checksum:
            headers["x-event-checksum"] = str(checksum)
        return json.dumps(fields).encode(), headers
    return form_body(fields)


def event(target: Target, payment: Payment, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    """A signed event about ``payment`` (``status``, ``amount``, ``gateway_id``, ``secret``), ready to post."""
    return encode(payment, event_fields(target, payment, **kwargs))


def tampered(target: Target, payment: Payment, *, signed_status: str, signed_amount: Decimal) -> dict[str, Any]:
    """An event signed with ``signed_status`` / ``signed_amount``, then changed to a full approval."""
    fields = event_fields(target, payment, status=signed_status, amount=signed_amount)
    if payment.gateway == "wompi":
        fields["data"]["transaction"].update(status="APPROVED", amount_in_cents=int(payment.total * CENTS))
    else:
        approved = payu_confirmation(reference_sale=payment.reference, value=payment.total, status="APPROVED",
                                     api_key="unused", merchant_id=fields["merchant_id"])
        fields.update(value=approved["value"], state_pol=approved["state_pol"],
                      response_code_pol=approved["response_code_pol"])
    return fields


def unsigned(payment: Payment, fields: dict[str, Any]) -> dict[str, Any]:
    if payment.gateway == "wompi":
        return {k: v for k, v in fields.items() if k != "signature"}
    return {k: v for k, v in fields.items() if k != "sign"}


def padded(payment: Payment, fields: dict[str, Any], size: int) -> dict[str, Any]:
    """``fields`` with an unsigned field of ``size`` bytes (the signature still holds)."""
    if payment.gateway == "wompi":
        fields["data"]["transaction"]["padding"] = "x" * size
    else:
        fields["extra3"] = "x" * size
    return fields


def approved_rows(target: Target, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Transaction rows whose status says approved (the service's paid words, or APPROVED / PAID)."""
    words = {"APPROVED", "PAID"} | {w.upper() for w in (target.profile.observe.status_map.paid
                                                        if target.profile.observe.status_map else [])}
    return [r for r in rows if str(r.get("status", "")).upper() in words]


async def charges(target: Target, gateway: str) -> list[dict[str, Any]]:
    """The charges that reached ``gateway``'s simulator since the test's reset: its journal's requests named
    ``CHARGE[gateway]``, each as its summary (reference, amount, status)."""
    url = target.run.values[f"{gateway}_url"]
    response = await target.sims.get(f"{url}/__admin/journal", params={"kind": "request"})
    response.raise_for_status()
    summaries = [entry.get("summary") or {} for entry in response.json()["entries"]]
    return [s for s in summaries if CHARGE[gateway] in (s.get("operation"), s.get("command"))]


async def pay_at_counter(target: Target, code: str) -> dict[str, Any]:
    """Cash paid at an Efecty counter for voucher ``code`` (the simulator's cashier, with the voucher's amount);
    its receipt."""
    response = await target.sims.post(f"{target.run.values['efecty_url']}/__admin/vouchers/{code}/pay", json={})
    assert response.is_success, f"the Efecty simulator's cashier refused code {code}: {response.status_code} " \
                                f"{response.text[:200]}"
    body: dict[str, Any] = response.json()
    return dict(body.get("receipt", body))
