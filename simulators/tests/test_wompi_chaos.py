"""Each webhook chaos mode applied to Wompi transaction.updated events, observed at a real receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from simulators.common.chaos import ChaosRule, TamperSigned, WebhookChaosPlan
from simulators.common.clock import SimClock
from simulators.common.receiver import WebhookReceiver
from simulators.wompi import WompiConfig, create_app
from simulators.wompi.events import TransactionEventBuilder
from simulators.wompi.signing import verify_event
from simulators.wompi.testing import WompiDriver

StartReceiver = Callable[..., tuple[WebhookReceiver, str]]


@pytest.fixture
def wompi_with_receiver(live_server: Callable[[Any], str], webhook_receiver: StartReceiver) -> Callable[..., Any]:
    """``async with wompi_with_receiver(chaos_json) as (wompi, receiver)``: live simulator + receiver."""

    @asynccontextmanager
    async def start(
        chaos: dict[str, Any] | None = None, **overrides: Any
    ) -> AsyncIterator[tuple[WompiDriver, WebhookReceiver]]:
        receiver, url = webhook_receiver()
        config = WompiConfig(**{"events_url": url, "finalize_delay_seconds": 0, **overrides})
        async with httpx.AsyncClient(base_url=live_server(create_app(config)), timeout=10) as http:
            if chaos is not None:
                put = await http.put("/__admin/chaos", json=chaos)
                assert put.status_code == 200, put.text
            yield WompiDriver(http, config), receiver

    return start


def plan(*chaos: dict[str, Any], count: int | None = None) -> dict[str, Any]:
    return {"rules": [{"chaos": c, "event_filter": "transaction.*", "count": count} for c in chaos], "seed": 1}


def bodies(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


async def test_tampered_unsigned_reference_still_verifies(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "tamper_unsigned", "field": "reference", "value": "EVIL"})) as (
        wompi,
        receiver,
    ):
        await wompi.pay_nequi("honest-ref", 100000)
        await wompi.advance(0)
        (body,) = bodies(receiver)
        assert body["data"]["transaction"]["reference"] == "EVIL"
        assert verify_event(body, wompi.config.events_secret)
        assert receiver.received[0].headers["x-event-checksum"] == body["signature"]["checksum"]


async def test_tampered_signed_status_breaks_the_checksum(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "tamper_signed", "field": "status", "value": "APPROVED"})) as (
        wompi,
        receiver,
    ):
        await wompi.pay_nequi("declined-1", 100000, "3992222222")
        await wompi.advance(0)
        (body,) = bodies(receiver)
        assert body["data"]["transaction"]["status"] == "APPROVED"  # the lie
        assert not verify_event(body, wompi.config.events_secret)
        assert (await wompi.transaction(body["data"]["transaction"]["id"]))["status"] == "DECLINED"


async def test_tampered_signed_amount_keeps_its_integer_type_and_breaks_the_checksum(
    wompi_with_receiver: Callable[..., Any],
) -> None:
    async with wompi_with_receiver(plan({"type": "tamper_signed", "field": "amount_in_cents", "value": "100"})) as (
        wompi,
        receiver,
    ):
        await wompi.pay_nequi("amount-1", 100000)
        await wompi.advance(0)
        (body,) = bodies(receiver)
        assert body["data"]["transaction"]["amount_in_cents"] == 100
        assert not verify_event(body, wompi.config.events_secret)


async def test_wrong_secret_fails_verification_in_body_and_header(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "wrong_secret"})) as (wompi, receiver):
        await wompi.pay_nequi("wrong-secret", 100000)
        await wompi.advance(0)
        (body,) = bodies(receiver)
        assert receiver.received[0].headers["x-event-checksum"] == body["signature"]["checksum"]
        assert not verify_event(body, wompi.config.events_secret)


async def test_missing_signature_drops_body_checksum_and_header(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "missing_signature"})) as (wompi, receiver):
        await wompi.pay_nequi("unsigned", 100000)
        await wompi.advance(0)
        (body,) = bodies(receiver)
        assert "checksum" not in body["signature"]
        assert "x-event-checksum" not in receiver.received[0].headers
        assert not verify_event(body, wompi.config.events_secret)


async def test_duplicate_delivers_identical_copies(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "duplicate", "times": 3})) as (wompi, receiver):
        await wompi.pay_nequi("dup-evt", 100000)
        await wompi.advance(0)
        assert len(receiver.received) == 4
        assert len({r.body for r in receiver.received}) == 1
        assert all(verify_event(b, wompi.config.events_secret) for b in bodies(receiver))


async def test_reorder_lets_the_next_event_overtake(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "reorder"}, count=1), finalize_delay_seconds=60) as (wompi, receiver):
        first = (await wompi.pay_card("order-a", 100000)).json()["data"]
        second = (await wompi.pay_card("order-b", 100000)).json()["data"]
        await wompi.finalize(first["id"], "APPROVED")
        await wompi.advance(0)
        assert receiver.received == []  # held
        await wompi.finalize(second["id"], "DECLINED")
        await wompi.advance(0)
        assert [b["data"]["transaction"]["id"] for b in bodies(receiver)] == [second["id"], first["id"]]


async def test_delay_postpones_the_first_attempt_on_the_sim_clock(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "delay", "seconds": 600})) as (wompi, receiver):
        await wompi.pay_nequi("late", 100000)
        await wompi.advance(0)
        await wompi.advance(599)
        assert receiver.received == []
        await wompi.advance(1)
        assert len(receiver.received) == 1


async def test_replay_later_resends_the_first_bytes(wompi_with_receiver: Callable[..., Any]) -> None:
    async with wompi_with_receiver(plan({"type": "replay_later", "after_seconds": 3600})) as (wompi, receiver):
        await wompi.pay_nequi("replayed", 100000)
        await wompi.advance(0)
        assert len(receiver.received) == 1
        await wompi.advance(3600)
        assert len(receiver.received) == 2
        assert receiver.received[0].body == receiver.received[1].body
        log = (await wompi.http.get("/__admin/deliveries")).json()
        assert [e["replay"] for e in log] == [False, True]


async def test_chaos_given_at_start_up_applies_only_count_times(
    live_server: Callable[[Any], str], webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    chaos = WebhookChaosPlan((ChaosRule(TamperSigned("status", "VOIDED"), count=1),))
    config = WompiConfig(events_url=url, finalize_delay_seconds=0, chaos=chaos)
    async with httpx.AsyncClient(base_url=live_server(create_app(config)), timeout=10) as http:
        wompi = WompiDriver(http, config)
        await wompi.pay_nequi("startup-1", 100000)
        await wompi.advance(0)
        await wompi.pay_nequi("startup-2", 100000)
        await wompi.advance(0)
    verdicts = {b["data"]["transaction"]["reference"]: verify_event(b, config.events_secret) for b in bodies(receiver)}
    assert verdicts == {"startup-1": False, "startup-2": True}


@pytest.mark.parametrize(("value", "sent"), [("42", 42), ("-42", -42), ("\u00b9", "\u00b9"), ("--5", "--5"),
                                             ("\uff15", "\uff15")])
def test_a_tampered_integer_field_stays_an_integer_only_for_ascii_integers(value: str, sent: object) -> None:
    # '¹' passed isdigit() and '--5' passed lstrip('-').isdigit(); int() refused both and the event crashed.
    builder = TransactionEventBuilder(data={"transaction": {"id": "t-1", "amount_in_cents": 100, "status": "APPROVED"}},
                                      config=WompiConfig(), clock=SimClock(), regenerate=False)
    body, _ = builder.request(1, (TamperSigned("amount_in_cents", value),))
    assert json.loads(body)["data"]["transaction"]["amount_in_cents"] == sent
