"""The security section: attacks tried, by class, and what came of them (JUnit, scenarios, defects, load).

A test belongs to an attack class when its name matches the class's pattern, it is linked (in
scenarios.json) to one of the class's scenarios, or it caught (in defects.json) a defect of the class.
Outcome per class:

* held: tests or load attempts of the class ran, and nothing got through;
* broken: a test failed, a seeded defect of the class went undetected, or the load's audit saw the
  attack succeed;
* not tried: no test or load attempt of the class;
* not measured: no JUnit XML and no load attempt.

Usage::

    for attack in security_outcomes(collect(folder)):
        attack.name, attack.tried, attack.failed, attack.outcome
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reports.model import Artefacts, Source


@dataclass(frozen=True)
class AttackClass:
    name: str
    tests: str  # regex on the test's name (not its module path: suites/replay/ holds more than replays)
    scenarios: tuple[str, ...] = ()
    defects: str = r"(?!)"  # regex on seeded defect names that open this hole
    load_roles: tuple[str, ...] = ()  # ledger roles of the load run that attack it
    load_anomalies: tuple[str, ...] = ()  # audit anomaly kinds that mean the attack got through


ATTACKS: tuple[AttackClass, ...] = (
    AttackClass(
        "Replay",
        r"replay|captured",
        ("WH-REPLAY", "PAYU-CONFIRMATION-REPLAY"),
        r"event_identity",
        ("replay", "dup"),
        ("duplicate_event",),
    ),
    AttackClass("Tampering (signed and unsigned fields)", r"tamper|unsigned", ("WH-REPLAY",), r"unsigned|trust"),
    AttackClass(
        "Forged or missing signature",
        r"signature|checksum|forged|hmac",
        ("WH-SIGNATURE",),
        r"signature_skipped",
        ("forged",),
        ("forged_accepted", "forged_recorded"),
    ),
    AttackClass("Stale or future timestamps", r"stale|timestamp|future", (), r"replay_window"),
    AttackClass(
        "Fail-open configuration",
        r"without_(a_|the_)?\w*secret|refuses_to_start|short_token_secret",
        ("WH-FAIL-CLOSED",),
        r"without_secret",
    ),
    AttackClass(
        "Authentication and authorisation",
        r"test_tokens?_|expired_token|buyer_token|bearer|role|ownership|alg_none|claims",
        ("API-AUTH",),
    ),
    AttackClass("Rate limiting", r"rate_limit|429", ("API-RATE-LIMIT",), r"rate_limit"),
    AttackClass(
        "Oversize bodies",
        r"413|oversize|over_the_limit|large_payload",
        ("API-LARGE-PAYLOAD", "DB-LARGE-PAYLOAD"),
        r"body_limit",
    ),
    AttackClass("Malformed input", r"malformed", ("WH-MALFORMED", "API-MALFORMED")),
    AttackClass("Error leakage", r"leak|sanitized|stack_trace|echo", ("API-ERRORS-SANITIZED",), r"stack_trace|leak"),
    AttackClass(
        "Amount or currency manipulation",
        r"amount_check|amount_or_currency|currency_differ",
        ("WH-AMOUNT-CHECK",),
        r"amount_check",
    ),
    AttackClass("Cross-origin requests (CORS)", r"cors", ("API-CORS",)),
)


@dataclass(frozen=True)
class AttackOutcome:
    name: str
    outcome: str  # held | broken | not tried | not measured
    tried: int
    passed: int
    failed: int
    skipped: int
    failing_tests: tuple[str, ...]
    defects_caught: tuple[str, ...]
    defects_missed: tuple[str, ...]
    load_requests: int
    load_breaches: int
    sources: tuple[Source, ...]


def _linked(a: Artefacts, scenario_ids: tuple[str, ...]) -> set[str]:
    return {t.nodeid for s in a.scenarios.scenarios if s.id in scenario_ids for t in s.tests}


def _outcome(a: Artefacts, attack: AttackClass) -> AttackOutcome:
    defects = [d for d in a.defects.defects if re.search(attack.defects, d.name)]
    # The tests that caught a defect of the class attack it too, whatever their name.
    linked = _linked(a, attack.scenarios) | {t for d in defects for t in d.failed_tests}
    pattern = re.compile(attack.tests, re.IGNORECASE)
    cases = [c for c in a.junit.cases if pattern.search(c.nodeid.rsplit("::", 1)[-1]) or c.nodeid in linked]
    failed = tuple(c.nodeid for c in cases if c.outcome in ("failed", "error"))
    passed = sum(1 for c in cases if c.outcome == "passed")
    skipped = sum(1 for c in cases if c.outcome == "skipped")
    roles = dict(a.load_audit.by_role)
    load_requests = sum(roles.get(r, 0) for r in attack.load_roles)
    load_breaches = sum(x.count for x in a.load_audit.anomalies if x.kind in attack.load_anomalies)
    missed = tuple(d.name for d in defects if not d.detected)
    if failed or missed or load_breaches:
        outcome = "broken"
    elif not a.junit.source.usable and not load_requests:
        outcome = "not measured"
    elif passed == 0 and not load_requests:
        outcome = "not tried"
    else:
        outcome = "held"
    sources = [a.junit.source]
    if attack.scenarios:
        sources.append(a.scenarios.source)
    if defects:
        sources.append(a.defects.source)
    if attack.load_roles or attack.load_anomalies:
        sources.append(a.load_audit.source)
    return AttackOutcome(
        name=attack.name,
        outcome=outcome,
        tried=len(cases) - skipped,
        passed=passed,
        failed=len(failed),
        skipped=skipped,
        failing_tests=failed,
        defects_caught=tuple(d.name for d in defects if d.detected),
        defects_missed=missed,
        load_requests=load_requests,
        load_breaches=load_breaches,
        sources=tuple(sources),
    )


def security_outcomes(a: Artefacts) -> tuple[AttackOutcome, ...]:
    return tuple(_outcome(a, attack) for attack in ATTACKS)
