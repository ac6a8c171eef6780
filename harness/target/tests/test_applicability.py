"""Which webhook scenarios run per gateway: from [api.pay.*] and [webhooks], and what a gateway rules out."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.paths import repo_root
from harness.target.applicability import (
    FAMILIES,
    MODULES,
    WEBHOOK,
    WEBHOOK_GATEWAYS,
    not_runnable_families,
    why_not,
    why_not_family,
)
from harness.target.profile import Evidence, Profile, load_profile

CORE = repo_root() / "harness" / "target" / "core.toml"
SEED = repo_root() / "examples" / "seed_shop" / "target.toml"
TINY = Path(__file__).with_name("tiny_shop.toml")


def _without_webhook(profile: Profile, gateway: str) -> Profile:
    return profile.model_copy(update={"webhooks": {g: p for g, p in profile.webhooks.items() if g != gateway}})


@pytest.mark.parametrize("path", [CORE, SEED], ids=["core", "seed-shop"])
def test_payu_webhooks_are_attacked_wherever_the_profile_pays_through_payu_and_names_its_webhook(path: Path) -> None:
    profile = load_profile(path)
    for scenario in WEBHOOK:
        assert why_not(profile, scenario, "wompi") is None, scenario
        if scenario != "T-MONEY-DECIMAL":
            assert why_not(profile, scenario, "payu") is None, scenario


def test_a_gateway_without_a_webhook_path_is_not_runnable_for_that_gateway_only() -> None:
    profile = _without_webhook(load_profile(SEED), "payu")
    assert why_not(profile, "T-WEBHOOK-FORGED", "payu") == "the profile gives no [webhooks] payu"
    assert why_not(profile, "T-WEBHOOK-FORGED", "wompi") is None
    assert why_not(profile, "T-WEBHOOK-FORGED") is None  # the scenario itself still runs (through Wompi)


def test_a_gateway_the_service_cannot_be_paid_through_names_both_missing_fields() -> None:
    assert why_not(load_profile(TINY), "T-WEBHOOK-RACE", "payu") == (
        "the profile gives no [webhooks] payu, no [api.pay.payu]")


def test_efecty_is_not_runnable_with_or_without_a_webhook_path_and_says_why() -> None:
    profile = load_profile(SEED)
    assert why_not(profile, "T-WEBHOOK-REPLAY", "efecty") == "the profile gives no [webhooks] efecty"
    with_path = profile.model_copy(update={"webhooks": {**profile.webhooks, "efecty": "/webhooks/efecty"}})
    reason = why_not(with_path, "T-WEBHOOK-REPLAY", "efecty")
    assert reason is not None and reason.startswith("payharness signs no Efecty events"), reason


def test_the_paid_order_and_efecty_cash_scenarios_run_on_every_started_profile_with_the_fields_they_need() -> None:
    for path in (CORE, SEED, SEED.with_name("target-fixed.toml")):
        for scenario in ("T-API-PAID-AGAIN", "T-EFECTY-CASH-REACHES-ORDER"):
            assert why_not(load_profile(path), scenario) is None, (path.name, scenario)
    tiny = load_profile(TINY)  # pays through Wompi only, with no Efecty payment and no amount paid observed
    assert why_not(tiny, "T-EFECTY-CASH-REACHES-ORDER") == "the profile gives no [api.pay.efecty]"
    seed = load_profile(SEED)
    no_code = seed.model_copy(update={"api": seed.api.model_copy(update={"pay": {
        **seed.api.pay, "efecty": seed.api.pay["efecty"].model_copy(update={"code": None})}})})
    assert why_not(no_code, "T-EFECTY-CASH-REACHES-ORDER") == (
        "the profile gives no api.pay.efecty.code (where the answer carries the payment code)")
    no_hooks = seed.model_copy(update={"webhooks": {}})
    reason = why_not(no_hooks, "T-API-PAID-AGAIN")
    assert reason is not None and reason.startswith("the profile gives no a gateway with both"), reason


def test_scenarios_that_drive_the_simulators_are_not_runnable_for_a_service_already_running() -> None:
    seed = load_profile(SEED)
    running = seed.model_copy(update={"service": seed.service.model_copy(
        update={"command": None, "base_url": "http://127.0.0.1:9"})})
    for scenario in ("T-API-PAID-AGAIN", "T-EFECTY-CASH-REACHES-ORDER"):
        reason = why_not(running, scenario)
        assert reason is not None and "only for service.command" in reason, reason


def test_exact_decimal_totals_are_not_runnable_through_payu_whose_colombian_amounts_are_whole_pesos() -> None:
    reason = why_not(load_profile(CORE), "T-MONEY-DECIMAL", "payu")
    assert reason is not None and "whole pesos" in reason
    assert why_not(load_profile(CORE), "T-MONEY-AMOUNT-MISMATCH", "payu") is None


@pytest.mark.parametrize("path", [CORE, SEED], ids=["core", "seed-shop"])
def test_database_evidence_runs_where_the_profile_gives_its_evidence_fields(path: Path) -> None:
    profile = load_profile(path)
    assert why_not(profile, "T-DB-EFECTY-CODE-REFUSED") is None
    for gateway in ("wompi", "payu"):
        assert why_not(profile, "T-DB-EVENT-LINKED", gateway) is None


def test_database_evidence_without_its_field_is_not_runnable_naming_it() -> None:
    profile = load_profile(SEED)
    bare = profile.model_copy(update={"evidence": Evidence()})
    assert why_not(bare, "T-DB-EFECTY-CODE-REFUSED") == (
        "the profile gives no evidence.efecty_code (the codes' column and the statement that repeats one, run "
        "rolled back)")
    assert why_not(bare, "T-DB-EVENT-LINKED", "wompi") == (
        "the profile gives no evidence.event_transaction (the query naming a stored event's transaction)")
    no_efecty = profile.model_copy(update={"api": profile.api.model_copy(update={
        "pay": {g: p for g, p in profile.api.pay.items() if g != "efecty"}})})
    assert why_not(no_efecty, "T-DB-EFECTY-CODE-REFUSED") == "the profile gives no [api.pay.efecty]"


def test_non_webhook_scenarios_ignore_the_gateway() -> None:
    profile = load_profile(TINY)
    for gateway in WEBHOOK_GATEWAYS:
        assert why_not(profile, "T-API-VALIDATION", gateway) is None


def test_every_built_in_suite_family_says_whether_it_runs_against_a_foreign_target_and_why_not() -> None:
    # A folder or top-level module added to suites/ without an entry would be left out of a target run silently.
    suites = repo_root() / "suites"
    found = {p.name for p in suites.iterdir() if (p.is_dir() and (p / "__init__.py").exists())
             or (p.name.startswith("test_") and p.suffix == ".py")} - {"support"}  # helpers, not tests
    assert found == set(FAMILIES) | set(MODULES)
    assert why_not_family("portable") is None
    for schema_level in ("constraints", "stateful", "hostile"):
        reason = why_not_family(schema_level)
        assert reason and "core's" in reason, schema_level
    assert set(not_runnable_families()) == found - {"portable"}
    with pytest.raises(KeyError, match=r"add it to harness\.target\.applicability\.FAMILIES"):
        why_not_family("webhooks")
