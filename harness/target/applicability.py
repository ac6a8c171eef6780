"""Which portable scenarios a profile can support, and for the others the reason, computed from its fields.

A scenario needs some requests (create an order, pay through a gateway) and some observations (the order's
status, the amount paid, the transactions); what the profile does not give makes the scenario "not
runnable" with the missing fields named — never skipped quietly, never counted as passed.

Webhook scenarios run once per gateway (``WEBHOOK_GATEWAYS``): each gateway the profile can pay through and
gives a webhook path for is attacked with its own signed events; any other is "not runnable" for that gateway,
with the reason, while the scenario's verdict comes from the gateways that ran.

Usage: ``why_not(profile, "T-WEBHOOK-RACE", gateway="payu")`` → ``None`` (runnable) or
``"the profile gives no [webhooks] payu"``.
"""

from __future__ import annotations

from harness.target.profile import Profile

# Gateways whose events payharness can sign, in the order a webhook scenario picks them.
SIGNED_GATEWAYS = ("wompi", "payu")
# Every gateway a webhook scenario is run for (one test each); Efecty's turn is "not runnable" with a reason.
WEBHOOK_GATEWAYS = ("wompi", "payu", "efecty")
# Efecty publishes no webhook: the simulator's optional push (simulators/efecty/notify.py) is its own format,
# a "payment.created" with no decline and no transaction id, so the approve/decline/replay scenarios cannot be
# written for it. A profile's Efecty webhook path is kept, and these scenarios say why they did not use it.
UNSIGNED_REASON = {"efecty": "payharness signs no Efecty events for these scenarios (Efecty has no public webhook; "
                             "the simulator's push is a payment.created of its own format, with no decline)"}
WEBHOOK = ("T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT", "T-WEBHOOK-REPLAY", "T-WEBHOOK-FORGED", "T-WEBHOOK-TAMPERED",
           "T-WEBHOOK-LARGE", "T-MONEY-DECIMAL", "T-MONEY-AMOUNT-MISMATCH", "T-DB-UNIQUE-GATEWAY-ID",
           "T-DB-EVENT-LINKED")
# Database evidence (harness.target.evidence): each needs its [evidence] field, which names what only the
# service's schema and stored rows show.
EVIDENCE = {"T-DB-EFECTY-CODE-REFUSED": ("efecty_code", "the codes' column and the statement that repeats one, "
                                                       "run rolled back"),
            "T-DB-EVENT-LINKED": ("event_transaction", "the query naming a stored event's transaction")}
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
    "T-DB-EVENT-LINKED": ("amount_paid",),
    "T-API-OWNERSHIP": ("transactions",),
    "T-API-PAID-AGAIN": ("order_status", "amount_paid"),
    "T-EFECTY-CASH-REACHES-ORDER": ("order_status", "amount_paid"),
}
SCENARIOS = (*WEBHOOK, "T-EFECTY-CODE-UNIQUE", "T-EFECTY-CASH-REACHES-ORDER", "T-API-VALIDATION", "T-API-OWNERSHIP",
             "T-API-PAID-AGAIN", "T-API-RATE-LIMIT", "T-API-ERROR-SHAPE", "T-DB-EFECTY-CODE-REFUSED")
# Scenarios that read or drive the gateway simulators themselves (a charge counted in Wompi's or PayU's journal,
# cash taken at Efecty's counter): payharness has them only when it starts the service (service.command).
SIMULATED = {"T-API-PAID-AGAIN": "counts the charges that reached the gateway simulators",
             "T-EFECTY-CASH-REACHES-ORDER": "pays the voucher at the Efecty simulator's counter"}


def webhook_gateway(profile: Profile) -> str | None:
    """The gateway webhook scenarios use: one the service can be paid through and takes events for."""
    return next((g for g in SIGNED_GATEWAYS if g in profile.api.pay and g in profile.webhooks), None)


# What a gateway itself rules out, whatever the profile says (gateways.md §1: PayU's TX_VALUE for Colombia
# "cannot include decimals", and the PayU simulator refuses COP amounts with cents).
GATEWAY_CANNOT = {("T-MONEY-DECIMAL", "payu"): "PayU Colombia charges whole pesos only, so a total with cents "
                                               "(the amounts a float cannot hold) cannot be paid through it"}


def why_not_gateway(profile: Profile, gateway: str, scenario: str | None = None) -> str | None:
    """None when webhook scenarios (or ``scenario``) can attack ``gateway`` on this profile; otherwise why not."""
    missing = [field for field, given in ((f"[webhooks] {gateway}", gateway in profile.webhooks),
                                          (f"[api.pay.{gateway}]", gateway in profile.api.pay)) if not given]
    if missing:
        return "the profile gives no " + ", no ".join(missing)
    return UNSIGNED_REASON.get(gateway) or GATEWAY_CANNOT.get((scenario or "", gateway))


def why_not(profile: Profile, scenario: str, gateway: str | None = None) -> str | None:
    """None when ``scenario`` can run against ``profile``; otherwise what the profile lacks, in one line.

    ``gateway``: a webhook scenario's run for that gateway (the others ignore it); without it, any gateway.
    """
    if scenario not in SCENARIOS:
        raise KeyError(f"no portable scenario {scenario}")
    if scenario in WEBHOOK and gateway is not None:
        reason = why_not_gateway(profile, gateway, scenario)
        if reason is not None:
            return reason
    if scenario in SIMULATED and profile.service.command is None:
        return (f"the scenario {SIMULATED[scenario]}, which payharness starts only for service.command, not for "
                f"service.base_url")
    missing = [f"observe.{name}" for name in OBSERVED.get(scenario, ()) if getattr(profile.observe, name) is None]
    if (scenario in WEBHOOK or scenario == "T-API-PAID-AGAIN") and webhook_gateway(profile) is None:
        missing.insert(0, "a gateway with both [api.pay.<gateway>] and [webhooks] <gateway> (wompi or payu: "
                          "the events payharness signs)")
    if scenario in EVIDENCE and getattr(profile.evidence, EVIDENCE[scenario][0]) is None:
        missing.append("evidence.{} ({})".format(*EVIDENCE[scenario]))
    if scenario in ("T-EFECTY-CODE-UNIQUE", "T-EFECTY-CASH-REACHES-ORDER", "T-DB-EFECTY-CODE-REFUSED"):
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


# The built-in suite families (``suites/<family>``) against a foreign target: none runs there but the portable
# scenarios. Each other family says why, and ``pytest suites --target-profile`` and ``payharness audit
# --target`` list it as "not runnable against a foreign target" with that reason instead of leaving it out
# silently. Schema-level families are core-only by nature; the others reach the core through its profile as
# far as a profile goes (README "Audit your own service") and still need a power no profile gives.
_TOKENS = "fresh buyers and admins minted with the core's own token secret (a profile names a few fixed users)"
FAMILIES: dict[str, str | None] = {
    "portable": None,
    "constraints": "attacks the core's schema itself (constraints, indexes and migrations by name) on a fresh "
                   "clone of its database",
    "stateful": "compares the core's own tables step by step with a model of its payment lifecycle",
    "hostile": "fuzzes the core's own OpenAPI document (schemathesis) and counts every core table's rows before "
               "and after each request",
    "races": "reads the core's anomaly log and refund flag, and seeds an attempt closed as error beside a live "
             "one by SQL; " + _TOKENS,
    "signature_scope": "seeds pending attempts by SQL for the signed-field table and reads the core's refund "
                       "flag; " + _TOKENS,
    "replay": "seeds orders and pending attempts by SQL and reads the core's event, conflict and anomaly tables",
    "attacker": "seeds by SQL, reads the core's anomaly and idempotency tables, calls its admin routes; " + _TOKENS,
    "api": "the core's own answers (error codes, roles, per-buyer limits); " + _TOKENS,
    "flows": "the core's admin routes (Efecty confirmation, reconciliation) and its event tables; " + _TOKENS,
    "initiation": "the core's answer words (payment_attempt_live naming the attempt) and its attempt rows; "
                  + _TOKENS,
    "precision": "reads the amounts the core stored beside the gateway's response from its tables; " + _TOKENS,
    "faults": "restarts the core, cuts its database off and opens its per-worker breakers; " + _TOKENS,
}
# Test modules at the top of suites/ (not families): the core's own profile checked against its schema, the
# per-test reset of the suites' own stack, and the options of a stack the suites can target.
MODULES: dict[str, str] = {
    "test_core_target.py": "compares the core's profile with the core's schema",
    "test_live_reset.py": "checks the suites' own per-test reset of the core's stack",
    "test_up_args.py": "checks the options `payharness up` starts the reference core's simulators with",
}


# The other test roots of the core's audit (harness.audit.SUITES): they import the reference core or start its
# stack themselves, so none of them reaches a service given only by a profile.
ROOTS: dict[str, str] = {
    "core/tests": "unit tests of the reference core's own modules, imported in-process",
    "load/tests": "runs Locust against the reference core's own stack (a target audit's load is its load step)",
}


def why_not_family(name: str) -> str | None:
    """None when the built-in family ``name`` runs against a foreign target; otherwise why it cannot."""
    if name in FAMILIES:
        return FAMILIES[name]
    if name in MODULES:
        return MODULES[name]
    raise KeyError(f"no built-in suite family {name} (add it to harness.target.applicability.FAMILIES)")


def not_runnable_families() -> dict[str, str]:
    """Every built-in family or module that cannot run against a foreign target, with its reason."""
    return {name: reason for name, reason in {**FAMILIES, **MODULES}.items() if reason is not None}
