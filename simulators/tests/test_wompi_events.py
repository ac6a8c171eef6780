"""Contract tests of Wompi transaction.updated events over real HTTP: body, checksum, retries on the sim clock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.common.receiver import WebhookReceiver
from simulators.wompi import WompiConfig, create_app
from simulators.wompi.signing import event_checksum, verify_event
from simulators.wompi.testing import WompiDriver

StartReceiver = Callable[..., tuple[WebhookReceiver, str]]
Launch = Callable[..., Any]


@pytest.fixture
def launch(live_server: Callable[[Any], str]) -> Callable[..., AsyncIterator[WompiDriver]]:
    """``async with launch(events_url=url) as wompi`` — a live simulator and a driver bound to it."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[WompiDriver]:
        config = WompiConfig(**{"finalize_delay_seconds": 5.0, **overrides})
        base_url = live_server(create_app(config))
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            yield WompiDriver(http, config)

    return start  # type: ignore[return-value]


def bodies(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


async def deliveries(wompi: WompiDriver) -> list[dict[str, Any]]:
    return list((await wompi.http.get("/__admin/deliveries")).json())


async def test_final_status_posts_the_documented_envelope_with_checksum_in_body_and_header(
    launch: Launch, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    async with launch(events_url=url) as wompi:
        tx = (await wompi.pay_nequi("evt-1", 4490000)).json()["data"]
        await wompi.advance(4)
        assert receiver.received == []  # still PENDING: nothing to tell
        await wompi.advance(1)
        assert len(receiver.received) == 1
        request = receiver.received[0]
        body = json.loads(request.body)
        assert request.headers["content-type"] == "application/json"
        assert set(body) == {"event", "data", "environment", "signature", "timestamp", "sent_at"}
        assert body["event"] == "transaction.updated"
        assert body["environment"] == "test"
        event_tx = body["data"]["transaction"]
        assert (event_tx["id"], event_tx["status"], event_tx["amount_in_cents"]) == (tx["id"], "APPROVED", 4490000)
        assert event_tx["reference"] == "evt-1" and event_tx["payment_method_type"] == "NEQUI"
        assert body["signature"]["properties"] == [
            "transaction.id",
            "transaction.status",
            "transaction.amount_in_cents",
        ]
        assert isinstance(body["timestamp"], int)
        assert datetime.fromisoformat(body["sent_at"].replace("Z", "+00:00")).timestamp() == pytest.approx(
            body["timestamp"], abs=1
        )
        checksum = body["signature"]["checksum"]
        assert request.headers["x-event-checksum"] == checksum
        # with the simulator's signer, and again by hand from the documented formula
        assert verify_event(body, wompi.config.events_secret)
        by_hand = f"{tx['id']}APPROVED4490000{body['timestamp']}{wompi.config.events_secret}"
        assert checksum == hashlib.sha256(by_hand.encode()).hexdigest()


async def test_no_events_url_means_no_event(launch: Launch) -> None:
    async with launch() as wompi:
        await wompi.pay_nequi("quiet-1", 100000)
        await wompi.advance(10)
        assert await deliveries(wompi) == []


async def test_admin_finalize_with_status_and_events_url_set_at_runtime(
    launch: Launch, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    async with launch() as wompi:
        assert (await wompi.set_events_url(url)).json() == {"url": url}
        tx = (await wompi.pay_card("adm-1", 2490000)).json()["data"]
        finalized = await wompi.finalize(tx["id"], "DECLINED")
        assert finalized.status_code == 200 and finalized.json()["data"]["status"] == "DECLINED"
        await wompi.advance(0)
        assert [b["data"]["transaction"]["status"] for b in bodies(receiver)] == ["DECLINED"]
        await wompi.advance(10)  # the scheduled sandbox outcome (APPROVED) must not overwrite it
        assert (await wompi.transaction(tx["id"]))["status"] == "DECLINED"
        assert len(receiver.received) == 1
        assert (await wompi.finalize(tx["id"], "APPROVED")).status_code == 409


async def test_admin_can_void_an_approved_card_and_the_void_is_an_event(
    launch: Launch, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    async with launch(events_url=url) as wompi:
        tx = (await wompi.pay_card("void-1", 2490000)).json()["data"]
        await wompi.finalize(tx["id"], "APPROVED")
        assert (await wompi.finalize(tx["id"], "VOIDED")).status_code == 200
        await wompi.advance(0)
        # Both events fall due at once and are delivered concurrently: their arrival order is not promised
        # (seen reversed on a loaded machine), so the claim is that both arrive, once each.
        assert sorted(b["data"]["transaction"]["status"] for b in bodies(receiver)) == ["APPROVED", "VOIDED"]
        nequi = (await wompi.pay_nequi("void-2", 100000)).json()["data"]
        assert (await wompi.finalize(nequi["id"], "VOIDED")).status_code == 422
        assert (await wompi.finalize(nequi["id"], "SOMETHING")).status_code == 422
        assert (await wompi.finalize("1-1-00000", "APPROVED")).status_code == 404


async def test_missed_event_is_retried_exactly_at_30_min_3_h_and_24_h(
    frozen_wall: float, launch: Launch, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver(statuses=[500, 500, 500], status=200)
    async with launch(events_url=url, finalize_delay_seconds=0) as wompi:
        tx = (await wompi.pay_nequi("retry-1", 100000)).json()["data"]
        await wompi.advance(0)
        assert len(receiver.received) == 1
        elapsed = 0.0
        for count, offset in enumerate((1800, 10800, 86400), start=2):
            await wompi.advance(offset - elapsed - 1)  # one simulated second early: nothing
            assert len(receiver.received) == count - 1
            await wompi.advance(1)
            assert len(receiver.received) == count
            elapsed = offset
        await wompi.advance(7 * 86400)
        assert len(receiver.received) == 4  # delivered on the 4th attempt: no more
        log = await deliveries(wompi)
        assert [e["status"] for e in log] == [500, 500, 500, 200]
        assert [e["outcome"] for e in log] == ["retry_scheduled"] * 3 + ["delivered"]
        first = datetime.fromisoformat(log[0]["scheduled_for"])
        offsets = [(datetime.fromisoformat(e["scheduled_for"]) - first).total_seconds() for e in log]
        assert offsets == [0, 1800, 10800, 86400]
        assert all(e["event_key"] == f"{tx['id']}:APPROVED" for e in log)
        assert all(e["request_body"] and e["response_body"] for e in log)


def no_content_receiver(hits: list[bytes]) -> Starlette:
    """A receiver answering 204 with no body (the shared receiver always writes a body)."""

    async def handle(request: Request) -> Response:
        hits.append(await request.body())
        return Response(status_code=204)

    return Starlette(routes=[Route("/hook", handle, methods=["POST"])])


async def test_a_204_is_a_failure_and_the_delivery_is_exhausted_after_four_attempts(
    launch: Launch, live_server: Callable[[Any], str]
) -> None:
    hits: list[bytes] = []
    url = live_server(no_content_receiver(hits)) + "/hook"
    async with launch(events_url=url, finalize_delay_seconds=0) as wompi:
        await wompi.pay_nequi("no-content", 100000)
        await wompi.advance(0)
        await wompi.advance(86400)
        log = await deliveries(wompi)
        assert [e["status"] for e in log] == [204, 204, 204, 204]
        assert log[-1]["outcome"] == "exhausted"
        assert len(hits) == 4
        summary = (await wompi.http.get("/__admin/deliveries/summary")).json()
        assert summary[0]["status"] == "exhausted" and summary[0]["attempts"] == 4


async def test_retries_resend_the_first_body_verbatim_by_default(
    launch: Launch, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver(statuses=[503], status=200)
    async with launch(events_url=url, finalize_delay_seconds=0) as wompi:
        await wompi.pay_nequi("same-body", 100000)
        await wompi.advance(0)
        await wompi.advance(1800)
        first, second = receiver.received
        assert first.body == second.body
        assert first.headers["x-event-checksum"] == second.headers["x-event-checksum"]


async def test_retries_can_regenerate_timestamp_and_checksum_but_keep_sent_at(
    launch: Launch, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver(statuses=[503], status=200)
    async with launch(events_url=url, finalize_delay_seconds=0, regenerate_event_signature_on_retry=True) as wompi:
        await wompi.pay_nequi("fresh-sig", 100000)
        await wompi.advance(0)
        await wompi.advance(1800)
        first, second = bodies(receiver)
        assert second["timestamp"] - first["timestamp"] >= 1800
        assert second["sent_at"] == first["sent_at"]
        assert second["signature"]["checksum"] != first["signature"]["checksum"]
        assert verify_event(first, wompi.config.events_secret) and verify_event(second, wompi.config.events_secret)
        assert receiver.received[1].headers["x-event-checksum"] == second["signature"]["checksum"]


async def test_events_for_pse_and_card_use_the_same_three_signed_properties(
    launch: Launch, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    async with launch(events_url=url, finalize_delay_seconds=0) as wompi:
        await wompi.pay_pse("pse-evt", 5000000, "2")
        await wompi.pay_card("card-evt", 2490000, "4111111111111111")
        await wompi.advance(0)
        received = bodies(receiver)
        assert sorted(b["data"]["transaction"]["status"] for b in received) == ["DECLINED", "DECLINED"]
        for body in received:
            expected = event_checksum(
                body["data"], body["signature"]["properties"], body["timestamp"], wompi.config.events_secret
            )
            assert body["signature"]["checksum"] == expected
