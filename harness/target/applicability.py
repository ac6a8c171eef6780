"""Which portable scenarios a profile can support, and for the others the reason, computed from its fields.

A scenario needs some requests (create an order, pay through a gateway) and some observations (the order's
status, the amount paid, the transactions); what the profile does not give makes the scenario "not
runnable" with the missing fields named — never skipped quietly, never counted as passed.

Usage: ``why_not(profile, "T-WEBHOOK-RACE")`` → ``None`` (runnable) or ``"no [webhooks] for wompi or payu"``.
"""

from __future__ import annotations

from harness.target.profile import Profile

# Gateways whose events payharness can sign, in the order a webhook scenario picks them.
SIGNED_GATEWAYS = ("wompi", "payu")
WEBHOOK = ("T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT", "T-WEBHOOK-REPLAY", "T-WEBHOOK-FORGED", "T-WEBHOOK-TAMPERED",
           "T-WEBHOOK-LARGE", "T-MONEY-DECIMAL", "T-MONEY-AMOUNT-MISMATCH", "T-DB-UNIQUE-GATEWAY-ID")
OBSERVED: dict[str, tuple[str, ...]] = {
    "T-WEBHOOK-RACE": ("transactions", "amount_paid"),
    "T-WEBHOOK-CONFLICT": ("order_status", "amount_paid", "transactions"),
    "T-WEBHOOK-REPLAY": ("order_status", "amount_paid", "transactions"),
    "T-WEBHOOK-FORGED": ("order_status", "amount_paid"),
    "T-WEBHOOK-TAMPERED": ("order_status", "amount_paid"),
    "T-WEBHOOK-LARGE": ("order_status", "amount_paid"),
    "T-MONEY-DECIMAL": ("amount_paid",),
    "T-MONEY-AMOUNT-MISMATCH": ("order_status", "amount_paid"),
    "T-DB-UNIQUE-GATEWAY-ID": ("transactions",),
    "T-API-OWNERSHIP": ("transactions",),
}
SCENARIOS = (*WEBHOOK, "T-EFECTY-CODE-UNIQUE", "T-API-VALIDATION", "T-API-OWNERSHIP", "T-API-RATE-LIMIT",
             "T-API-ERROR-SHAPE")


def webhook_gateway(profile: Profile) -> str | None:
    """The gateway webhook scenarios use: one the service can be paid through and takes events for."""
    return next((g for g in SIGNED_GATEWAYS if g in profile.api.pay and g in profile.webhooks), None)


def why_not(profile: Profile, scenario: str) -> str | None:
    """None when ``scenario`` can run against ``profile``; otherwise what the profile lacks, in one line."""
    if scenario not in SCENARIOS:
        raise KeyError(f"no portable scenario {scenario}")
    missing = [f"observe.{name}" for name in OBSERVED.get(scenario, ()) if getattr(profile.observe, name) is None]
    if scenario in WEBHOOK and webhook_gateway(profile) is None:
        missing.insert(0, "a gateway with both [api.pay.<gateway>] and [webhooks] <gateway> (wompi or payu: "
                          "the events payharness signs)")
    if scenario == "T-EFECTY-CODE-UNIQUE":
        if "efecty" not in profile.api.pay:
            missing.append("[api.pay.efecty]")
        elif profile.api.pay["efecty"].code is None:
            missing.append("api.pay.efecty.code (where the answer carries the payment code)")
    if scenario in ("T-API-OWNERSHIP", "T-API-RATE-LIMIT") and not profile.api.pay:
        missing.append("any [api.pay.<gateway>]")
    if scenario == "T-API-OWNERSHIP":
        missing += [f"auth.users.{u}" for u in ("buyer", "other") if u not in profile.auth.users]
    if not missing:
        return None
    return "the profile gives no " + ", no ".join(missing)
