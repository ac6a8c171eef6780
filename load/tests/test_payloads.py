"""Payload builders: stories are deterministic, requests verify with the simulators' verifiers, forgeries do not."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from load.payloads import (
    Attempt,
    Mix,
    Renderer,
    Secrets,
    payu_confirmation,
    plan_sim_story,
    plan_story,
    presign,
    wompi_event,
)
from simulators.payu.config import PayUConfig
from simulators.payu.signing import verify_confirmation
from simulators.wompi.config import WompiConfig
from simulators.wompi.signing import verify_event

WOMPI, PAYU = WompiConfig(), PayUConfig()
SECRETS = Secrets(WOMPI.events_secret, PAYU.api_key, PAYU.merchant_id)


def test_mix_parses_names_and_keeps_defaults() -> None:
    mix = Mix.parse("dup=0.10,ooo=0.05,invalid=0.02")
    assert (mix.dup, mix.ooo, mix.invalid, mix.replay) == (0.10, 0.05, 0.02, 0.0)
    assert Mix.parse(str(mix)) == mix
    assert Mix.parse("none") == Mix(dup=0, ooo=0, invalid=0, replay=0, conflict=0, double=0)
    assert Mix.parse("none").mean_requests() == 1
    with pytest.raises(ValueError, match="probability"):
        Mix.parse("dup=1.5")
    with pytest.raises(ValueError, match="name=probability"):
        Mix.parse("dupes=0.1")


def test_stories_are_deterministic_and_carry_the_run_id() -> None:
    mix = Mix(dup=0.5, ooo=0.5, invalid=0.5, replay=0.5, conflict=0.5, double=0.5)
    assert plan_story("r1", "wompi", 7, mix) == plan_story("r1", "wompi", 7, mix)
    assert plan_story("r1", "wompi", 7, mix) != plan_story("r2", "wompi", 7, mix)
    story = plan_story("abc123", "payu", 3, mix)
    assert story.order_reference == "LOAD-abc123-p3"
    assert all("abc123" in a.reference for a in story.attempts)


def test_story_roles_follow_the_mix() -> None:
    everything = Mix(dup=1, ooo=1, invalid=1, replay=1, conflict=1, double=1)
    story = plan_story("r", "wompi", 1, everything)
    roles = [[d.role for d in step] for step in story.steps]
    assert roles == [["forged"], ["event", "dup", "conflict", "double"], ["late"], ["replay"]]
    assert len(story.attempts) == 2
    plain = plan_story("r", "wompi", 1, Mix.parse("none"))
    assert [[d.role for d in step] for step in plain.steps] == [["event"]]
    assert plain.final_status in ("APPROVED", "DECLINED", "ERROR")


def test_mix_frequencies_are_roughly_what_was_asked() -> None:
    mix = Mix(dup=0.10, ooo=0.05, invalid=0.02)
    stories = [plan_story("freq", "wompi", i, mix) for i in range(4000)]
    count = {
        r: sum(1 for s in stories for step in s.steps for d in step if d.role == r) for r in ("dup", "late", "forged")
    }
    assert 320 < count["dup"] < 480
    assert 130 < count["late"] < 270
    assert 40 < count["forged"] < 130


def test_wompi_events_verify_with_the_simulators_verifier() -> None:
    attempt = Attempt("wompi", "a", "O", "O-a", "118437-r-000001", Decimal("12345.50"))
    request = wompi_event(attempt, "APPROVED", secret=WOMPI.events_secret)
    body = json.loads(request.body)
    assert verify_event(body, WOMPI.events_secret)
    assert request.headers["X-Event-Checksum"] == body["signature"]["checksum"] == request.signature
    assert body["data"]["transaction"]["amount_in_cents"] == 1234550
    assert request.key == "118437-r-000001:APPROVED"


def test_payu_confirmations_verify_with_the_simulators_verifier() -> None:
    attempt = Attempt("payu", "a", "O", "O-a", "6c1f0000-0000-0000-0000-000000000001", Decimal("150.00"))
    request = payu_confirmation(attempt, "DECLINED", api_key=PAYU.api_key, merchant_id=PAYU.merchant_id)
    form = dict(parse_qsl(request.body.decode()))
    assert verify_confirmation(form, api_key=PAYU.api_key)
    assert form["value"] == "150.00" and form["state_pol"] == "6"
    assert request.key == "O-a:6c1f0000-0000-0000-0000-000000000001:6"


def test_forged_requests_fail_verification_and_duplicates_reuse_the_bytes() -> None:
    render = Renderer(SECRETS)
    mix = Mix(dup=1, invalid=1, ooo=0)
    for gateway in ("wompi", "payu"):
        story = plan_story("r", gateway, 2, mix)
        render.new_story()
        forged_step, burst = story.steps
        forged = render(forged_step[0])
        original, duplicate = (render(d) for d in burst)
        assert duplicate.body == original.body
        if gateway == "wompi":
            assert not verify_event(json.loads(forged.body), WOMPI.events_secret)
            assert verify_event(json.loads(original.body), WOMPI.events_secret)
        else:
            assert not verify_confirmation(dict(parse_qsl(forged.body.decode())), api_key=PAYU.api_key)
            assert verify_confirmation(dict(parse_qsl(original.body.decode())), api_key=PAYU.api_key)


def test_presigned_stories_are_the_planned_stories_signed_with_duplicates_sharing_the_bytes() -> None:
    mix = Mix(dup=0.5, invalid=0.3, ooo=0.3, replay=0.3)
    for gateway in ("wompi", "payu"):
        signed = presign("r", gateway, range(3, 40, 4), mix, SECRETS)
        assert sorted(signed) == list(range(3, 40, 4))
        for index, story in signed.items():
            assert story.story == plan_story("r", gateway, index, mix)
            assert tuple(tuple(d for d, _ in step) for step in story.steps) == story.story.steps
            sent = [(d, r) for step in story.steps for d, r in step]
            for delivery, request in sent:
                form = dict(parse_qsl(request.body.decode())) if gateway == "payu" else None
                genuine = (verify_event(json.loads(request.body), WOMPI.events_secret) if form is None
                           else verify_confirmation(form, api_key=PAYU.api_key))
                assert bool(genuine) == (delivery.role != "forged"), (gateway, index, delivery.role)
                if delivery.role in ("dup", "replay"):
                    first = next(r for d, r in sent if d.role == "event")
                    assert request.body == first.body


def test_sim_stories_pick_a_sandbox_card() -> None:
    story = plan_sim_story("r", 5)
    assert story.attempt.gateway_id is None
    assert (story.card, story.expected_status) in {("4242424242424242", "APPROVED"), ("4111111111111111", "DECLINED")}
