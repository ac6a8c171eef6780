"""Shared builders for the load: the traffic mix, deterministic per-transaction stories, and signed requests.

A *story* is what a gateway tells the shop about one order, planned from ``(run_id, gateway, index, mix)``
alone: the seeder and every Locust worker compute the same story without talking to each other, so an
order seeded on the master is driven correctly by whichever worker draws its index. Each story is a list
of *steps*; the deliveries of one step go out at the same moment (a duplicate racing its original, two
final statuses racing each other), the steps one after the other.

Requests are signed with the simulators' signers (``simulators.*.signing``), never the core's, so one
bug cannot hide in both (STYLE.md 4).

Usage::

    story = plan_story("r1a2b3", "wompi", 17, Mix.parse("dup=0.10,ooo=0.05,invalid=0.02"))
    render = Renderer(secrets_from(simulator_credentials()))
    for step in story.steps:
        for delivery in step:
            request = render(delivery)          # .body, .headers, .key, .signature
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from simulators.payu.signing import confirmation_sign
from simulators.wompi.signing import event_checksum

GATEWAYS = ("wompi", "payu")
WOMPI_PROPERTIES = ("transaction.id", "transaction.status", "transaction.amount_in_cents")
WOMPI_MERCHANT_NUMBER = 118437
# What a forger signs with: a plausible secret that is not the merchant's.
FORGED_WOMPI_SECRET = "test_events_NotTheMerchantsSecret0000000000"  # noqa: S105 - deliberately wrong
FORGED_PAYU_KEY = "NotTheMerchantsApiKey00000"
# state_pol and response fields PayU sends for each outcome (gateways.md §1.5); 7 is understood by the core.
PAYU_STATES = {
    "APPROVED": ("4", "1", "APPROVED"),
    "DECLINED": ("6", "5", "ENTITY_DECLINED"),
    "EXPIRED": ("5", "20", "EXPIRED_TRANSACTION"),
    "PENDING": ("7", "25", "PENDING_TRANSACTION_CONFIRMATION"),
}
FINAL_WEIGHTS = {
    "wompi": (("APPROVED", 80), ("DECLINED", 15), ("ERROR", 5)),
    "payu": (("APPROVED", 80), ("DECLINED", 15), ("EXPIRED", 5)),
}
# Roles a delivery plays; the ledger keeps them so the audit can say which kind of traffic broke.
ROLES = ("event", "dup", "late", "forged", "replay", "conflict", "double")


@dataclass(frozen=True)
class Mix:
    """Per-story probabilities of each kind of chaos (independent draws).

    dup: the final event twice at once; ooo: a PENDING after the final; invalid: a forged APPROVED first;
    replay: the final event again, byte for byte, at the end; conflict: a different final status racing
    the real one; double: a second attempt on the same order, one the core had already settled as ``error``
    (an order holds one live attempt at a time: the database refuses a second pending one), approved by the
    gateway at the same moment as the live one's final event — the core must refuse it and log the conflict.

    Usage: ``Mix.parse("dup=0.10,ooo=0.05,invalid=0.02")``
    """

    dup: float = 0.10
    ooo: float = 0.05
    invalid: float = 0.02
    replay: float = 0.0
    conflict: float = 0.0
    double: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"mix {f.name}={value} is not a probability")

    @classmethod
    def parse(cls, text: str) -> Mix:
        """``"dup=0.1,ooo=0.05"``; names not given keep their defaults; ``"none"`` sets every one to 0."""
        text = text.strip()
        if text.lower() in ("none", "0", ""):
            return cls(**{f.name: 0.0 for f in fields(cls)})
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, raw = part.partition("=")
            if not sep or name.strip() not in known:
                raise ValueError(f"mix item {part!r}: use name=probability with name in {sorted(known)}")
            values[name.strip()] = float(raw)
        return cls(**values)

    def __str__(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))

    def mean_requests(self) -> float:
        """Expected HTTP requests per story: what turns an events/s rate into stories/s."""
        return 1 + self.dup + self.ooo + self.invalid + self.replay + self.conflict + self.double


@dataclass(frozen=True)
class Attempt:
    """One payment attempt of an order at a gateway, as the checkout would have created it."""

    gateway: str
    label: str  # "a", or "b" for the second attempt of a double payment
    order_reference: str
    reference: str  # the reference sent to the gateway (PayU's reference_sale)
    gateway_id: str | None  # Wompi transaction id / PayU transaction_id; None until the gateway assigns one
    amount: Decimal

    @property
    def seeded_status(self) -> str:
        """The status the seed writes: the second attempt of a double payment was settled before the load."""
        return seeded_status(self.reference)


def seeded_status(reference: str) -> str:
    """``error`` for a double payment's second attempt (reference ending ``-b``), else ``pending``."""
    return "error" if reference.endswith("-b") else "pending"


@dataclass(frozen=True)
class Delivery:
    """One HTTP request the gateway (or a forger) sends about an attempt."""

    attempt: Attempt
    status: str  # the gateway's word: APPROVED, DECLINED, ERROR, EXPIRED, PENDING
    role: str

    @property
    def expected_code(self) -> int:
        return 401 if self.role == "forged" else 200


@dataclass(frozen=True)
class Story:
    gateway: str
    index: int
    order_reference: str
    total: Decimal
    attempts: tuple[Attempt, ...]
    steps: tuple[tuple[Delivery, ...], ...] = field(default=())

    @property
    def final_status(self) -> str:
        return next(d.status for step in self.steps for d in step if d.role == "event")


def order_reference(run_id: str, pool: str, index: int) -> str:
    """Every reference carries the run id: the audit scopes itself to one run by it."""
    return f"LOAD-{run_id}-{pool}{index}"


def planned_amount(order_ref: str) -> Decimal | None:
    """What the seed charged for a load order, from its reference alone (``None``: not a load order's reference).

    The amount is a story's first draw (``plan_story``, ``plan_sim_story``), so the audit can check the database's
    amounts against the plan instead of trusting them."""
    head, sep, tail = order_ref.rpartition("-")
    if not head.startswith("LOAD-") or not sep or tail[:1] not in _POOLS or not tail[1:].isdigit():
        return None
    return _amount(_rng(head.removeprefix("LOAD-"), _POOLS[tail[0]], int(tail[1:])))


_POOLS = {"w": "wompi", "p": "payu", "s": "s"}  # order_reference's pool letter -> plan_story's rng pool


def _rng(run_id: str, pool: str, index: int) -> random.Random:
    seed = hashlib.sha256(f"{run_id}/{pool}/{index}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _amount(rng: random.Random) -> Decimal:
    # Whole pesos mostly, some with cents: PayU's new_value rule treats "x.50" and "x.00" differently.
    pesos = rng.randrange(10_000, 2_000_000)
    cents = rng.choice((0, 0, 0, 50, 99))
    return Decimal(pesos) + Decimal(cents) / 100


def _gateway_id(run_id: str, gateway: str, index: int, label: str) -> str:
    if gateway == "wompi":
        # Wompi ids look like <merchant number>-<unix ts>-<digits>; the run id stands in for the timestamp.
        return f"{WOMPI_MERCHANT_NUMBER}-{run_id}-{index:06d}{'' if label == 'a' else label}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"payharness-load/{run_id}/{index}/{label}"))


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def plan_story(run_id: str, gateway: str, index: int, mix: Mix) -> Story:
    """The deterministic story of order ``index`` of ``gateway`` in run ``run_id``."""
    if gateway not in GATEWAYS:
        raise ValueError(f"unknown gateway {gateway!r}")
    rng = _rng(run_id, gateway, index)
    amount = _amount(rng)
    draws = {f.name: rng.random() < getattr(mix, f.name) for f in fields(Mix)}
    final = _weighted(rng, FINAL_WEIGHTS[gateway])
    order_ref = order_reference(run_id, gateway[0], index)
    labels = ("a", "b") if draws["double"] else ("a",)
    attempts = tuple(
        Attempt(gateway, label, order_ref, f"{order_ref}-{label}", _gateway_id(run_id, gateway, index, label), amount)
        for label in labels
    )
    first = attempts[0]
    steps: list[tuple[Delivery, ...]] = []
    if draws["invalid"]:
        # The forger goes first: a forged APPROVED for an order the shop is still waiting on.
        steps.append((Delivery(first, "APPROVED", "forged"),))
    burst = [Delivery(first, final, "event")]
    if draws["dup"]:
        burst.append(Delivery(first, final, "dup"))
    if draws["conflict"]:
        burst.append(Delivery(first, "DECLINED" if final == "APPROVED" else "APPROVED", "conflict"))
    if draws["double"]:
        burst.append(Delivery(attempts[1], "APPROVED", "double"))
    steps.append(tuple(burst))
    if draws["ooo"]:
        steps.append((Delivery(first, "PENDING", "late"),))
    if draws["replay"]:
        steps.append((Delivery(first, final, "replay"),))
    return Story(gateway, index, order_ref, amount, attempts, tuple(steps))


@dataclass(frozen=True)
class SimStory:
    """An order paid through the Wompi simulator: the simulator, not the load, sends its event."""

    index: int
    order_reference: str
    attempt: Attempt
    card: str  # decides the sandbox outcome
    expected_status: str


SIM_CARDS = (("4242424242424242", "APPROVED", 85), ("4111111111111111", "DECLINED", 15))


def plan_sim_story(run_id: str, index: int) -> SimStory:
    rng = _rng(run_id, "s", index)
    amount = _amount(rng)
    card, status = rng.choices([(c, s) for c, s, _ in SIM_CARDS], weights=[w for *_, w in SIM_CARDS])[0]
    order_ref = order_reference(run_id, "s", index)
    attempt = Attempt("wompi", "a", order_ref, f"{order_ref}-a", None, amount)
    return SimStory(index, order_ref, attempt, card, status)


# ----------------------------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Secrets:
    wompi_events: str
    payu_api_key: str
    payu_merchant_id: str


def secrets_from(creds: dict[str, dict[str, str]]) -> Secrets:
    """From ``harness.stack.simulator_credentials()``."""
    return Secrets(creds["wompi"]["events_secret"], creds["payu"]["api_key"], creds["payu"]["merchant_id"])


@dataclass(frozen=True)
class SignedRequest:
    path: str
    body: bytes
    headers: dict[str, str]
    key: str  # the event identity the core dedupes on
    signature: str


def event_key(attempt: Attempt, status: str) -> str:
    """The identity the core builds from signed fields (Wompi ``id:status``; PayU ``ref:txid:state_pol``)."""
    if attempt.gateway == "wompi":
        return f"{attempt.gateway_id}:{status}"
    return f"{attempt.reference}:{attempt.gateway_id}:{PAYU_STATES[status][0]}"


def wompi_event(attempt: Attempt, status: str, *, secret: str, timestamp: int | None = None) -> SignedRequest:
    """A ``transaction.updated`` event as Wompi sends it, checksum in the body and in X-Event-Checksum."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    cents = int(attempt.amount * 100)
    data = {
        "transaction": {
            "id": attempt.gateway_id,
            "amount_in_cents": cents,
            "reference": attempt.reference,
            "customer_email": "comprador@example.com",
            "currency": "COP",
            "payment_method_type": "CARD",
            "redirect_url": None,
            "status": status,
            "shipping_address": None,
            "payment_link_id": None,
            "payment_source_id": None,
        }
    }
    checksum = event_checksum(data, WOMPI_PROPERTIES, timestamp, secret)
    event: dict[str, Any] = {
        "event": "transaction.updated",
        "data": data,
        "environment": "test",
        "signature": {"properties": list(WOMPI_PROPERTIES), "checksum": checksum},
        "timestamp": timestamp,
        "sent_at": _iso(timestamp),
    }
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Event-Checksum": checksum}
    return SignedRequest("/webhooks/wompi", body, headers, event_key(attempt, status), checksum)


def payu_confirmation(attempt: Attempt, status: str, *, api_key: str, merchant_id: str) -> SignedRequest:
    """A PayU confirmation POST (form-encoded) for one attempt's final (or pending) state."""
    state_pol, code, message = PAYU_STATES[status]
    value = f"{attempt.amount:.2f}"
    sign = confirmation_sign(
        api_key=api_key,
        merchant_id=merchant_id,
        reference_sale=attempt.reference,
        value=value,
        currency="COP",
        state_pol=state_pol,
    )
    form = {
        "merchant_id": merchant_id,
        "state_pol": state_pol,
        "risk": "1.0",
        "response_code_pol": code,
        "reference_sale": attempt.reference,
        "reference_pol": "1400449660",
        "sign": sign,
        "payment_method": "10",
        "payment_method_type": "2",
        "installments_number": "1",
        "value": value,
        "tax": "0.00",
        "additional_value": "0.00",
        "transaction_date": "2026-11-26 10:00:00",
        "currency": "COP",
        "email_buyer": "comprador@example.com",
        "test": "1",
        "description": "payharness load",
        "attempts": "1",
        "transaction_id": attempt.gateway_id or "",
        "response_message_pol": message,
        "payment_method_name": "VISA",
        "date": "2026.11.26 10:00:00",
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return SignedRequest("/webhooks/payu", urlencode(form).encode(), headers, event_key(attempt, status), sign)


def _iso(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))


@dataclass(frozen=True)
class Signed:
    """A story with every delivery's request already built and signed: ``steps`` mirrors ``story.steps``."""

    story: Story
    steps: tuple[tuple[tuple[Delivery, SignedRequest], ...], ...]


def sign_story(story: Story, render: Renderer) -> Signed:
    """Render every delivery of ``story`` (a duplicate or replay shares its original's bytes, as on the wire)."""
    render.new_story()
    return Signed(story, tuple(tuple((d, render(d)) for d in step) for step in story.steps))


def presign(run_id: str, gateway: str, indices: Iterable[int], mix: Mix, secrets: Secrets) -> dict[int, Signed]:
    """The stories of ``indices``, signed before the run: building and signing an event was about 15 % of the
    generator's CPU when done per request (py-spy, 300 events/s). A Wompi event's timestamp is then the
    moment it was signed, well inside the core's freshness window (2 days)."""
    render = Renderer(secrets)
    return {i: sign_story(plan_story(run_id, gateway, i, mix), render) for i in indices}


class Renderer:
    """Turns deliveries into signed requests; within one story a duplicate or replay reuses the exact bytes.

    Usage: ``render = Renderer(secrets); render.new_story(); request = render(delivery)``
    """

    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets
        self._sent: dict[tuple[str, str], SignedRequest] = {}

    def new_story(self) -> None:
        self._sent.clear()

    def __call__(self, delivery: Delivery) -> SignedRequest:
        attempt, status = delivery.attempt, delivery.status
        slot = (attempt.reference, status)
        if delivery.role in ("dup", "replay") and slot in self._sent:
            return self._sent[slot]
        forged = delivery.role == "forged"
        if attempt.gateway == "wompi":
            secret = FORGED_WOMPI_SECRET if forged else self.secrets.wompi_events
            request = wompi_event(attempt, status, secret=secret)
        else:
            key = FORGED_PAYU_KEY if forged else self.secrets.payu_api_key
            request = payu_confirmation(attempt, status, api_key=key, merchant_id=self.secrets.payu_merchant_id)
        if not forged:
            self._sent[slot] = request
        return request
