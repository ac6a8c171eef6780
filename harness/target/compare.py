"""Does the core through its profile give the built-in suites' verdicts? Two scenarios.json files compared.

Each portable scenario is set beside the built-in tests that check the same thing from inside the core
(``EQUIVALENT``); the built-in verdict is "failed" when any of them failed, "passed" when those that ran
all passed, "no verdict" when none ran. The two agree or the command exits 1, naming each disagreement.

Usage::

    pytest suites/portable --target-profile harness/target/core.toml --scenarios-json portable.json
    pytest $(python -c 'from harness.target.compare import BUILTIN_FILES; print(*BUILTIN_FILES)') \
        --scenarios-json builtin.json
    python -m harness.target.compare portable.json builtin.json

Two paths that both always pass agree trivially, so the comparison is also made on a core that is wrong:
``--seed-defects A,B`` runs both paths itself on the core with those seeded defects (``harness.defects``) —
the portable scenarios through a derived profile written under ``artefacts/compare/A+B/`` (the core's
profile serving the defects' factory, with their environment, and their schema SQL after the migrations),
the built-in tests of ``EQUIVALENT`` with ``--seed-defects`` — and compares them (``compare_seeded``). It
says "inconclusive" (exit 3), never "same", unless both runs finished and both record folders confirm every
part of every defect took effect; exit 1 on a difference::

    python -m harness.target.compare --seed-defects no_amount_check [--artefacts artefacts] [--timeout 900]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.httpserver import HTTP_PROTOCOL
from harness.argtypes import comma_list, defect_name, positive_float
from harness.defects import Seeding
from harness.paths import repo_root
from harness.target.profile import parse_profile

# portable scenario → the built-in tests that check the same thing from inside (a test function: every
# parametrised case of it counts). Tests, not catalog scenarios: a built-in scenario such as WH-REPLAY
# also carries tests of other claims (the amount check), which would blur the comparison.
EQUIVALENT: dict[str, tuple[str, ...]] = {
    "T-WEBHOOK-RACE": (
        "suites/races/test_webhook_races.py::test_duplicate_webhooks_create_one_event_and_one_state_change_when_fifty_race",),
    "T-WEBHOOK-CONFLICT": (
        "suites/races/test_webhook_races.py::test_conflicting_statuses_racing_end_in_one_final_state_without_regression",),
    "T-WEBHOOK-REPLAY": ("suites/replay/test_wompi_events.py::test_identical_replay_answers_200_and_changes_nothing",),
    "T-WEBHOOK-FORGED": (
        "suites/replay/test_wompi_events.py::test_missing_signature_wrong_secret_and_mismatched_header_are_refused",),
    "T-WEBHOOK-TAMPERED": (
        "suites/replay/test_wompi_events.py::test_tampered_signed_field_is_refused_with_401_and_writes_nothing",),
    "T-WEBHOOK-LARGE": (
        "suites/api/test_api_abuse.py::test_an_oversize_body_is_refused_with_413_announced_or_chunked",),
    "T-MONEY-DECIMAL": (
        "suites/precision/test_decimal_paths.py::test_any_amount_survives_api_db_gateway_webhook_db_exactly",),
    "T-MONEY-AMOUNT-MISMATCH": (
        "suites/replay/test_wompi_events.py::test_an_amount_that_differs_from_the_charge_is_refused_and_flagged",),
    "T-DB-UNIQUE-GATEWAY-ID": (
        "suites/constraints/test_schema_constraints.py::test_one_gateway_transaction_id_is_stored_once_per_gateway",),
    "T-EFECTY-CODE-UNIQUE": ("suites/constraints/test_schema_constraints.py::test_efecty_payment_code_is_unique",),
    # Cash paid at the counter, then the day's reconciliation: the order paid (the portable run makes the same
    # reconciliation request, through core.toml's [efecty.reconcile]).
    "T-EFECTY-CASH-REACHES-ORDER": (
        "suites/flows/test_payment_flows.py::test_efecty_cash_paid_at_a_point_is_confirmed_by_reconciliation_once",),
    "T-API-VALIDATION": ("suites/api/test_api_abuse.py::test_amounts_outside_the_range_or_not_exact_are_refused",),
    "T-API-OWNERSHIP": ("suites/api/test_api_abuse.py::test_orders_need_a_valid_buyer_token_and_stay_private",),
    # A paid order paid again by its buyer: 409 order_not_payable, no third charge, the amount paid unchanged.
    "T-API-PAID-AGAIN": ("suites/initiation/test_one_live_attempt.py::"
                         "test_once_the_pending_attempt_has_failed_a_new_one_may_charge_and_then_the_order_is_done",),
    "T-API-RATE-LIMIT": (
        "suites/api/test_api_abuse.py::test_payment_attempts_are_rate_limited_per_buyer_with_retry_after",),
    "T-API-ERROR-SHAPE": ("suites/api/test_api_abuse.py::test_concurrent_bad_requests_never_leak_internals",),
    "T-DB-EFECTY-CODE-REFUSED": ("suites/constraints/test_schema_constraints.py::test_efecty_payment_code_is_unique",),
    # The flow test's applied Wompi event is read back through its transaction link (_linked_events).
    "T-DB-EVENT-LINKED": (
        "suites/flows/test_payment_flows.py::test_a_wompi_card_payment_ends_in_a_paid_order_through_the_signed_event",),
}
# The files that hold them (a targeted run; the whole suite takes much longer).
BUILTIN_FILES = tuple(sorted({t.split("::")[0] for tests in EQUIVALENT.values() for t in tests}))


@dataclass(frozen=True)
class Row:
    scenario: str
    portable: str
    builtin: str
    builtin_tests: str

    @property
    def agree(self) -> bool | None:
        """None when one side has no verdict (not run there): nothing to compare."""
        verdicts = {"passed", "failed"}
        if self.portable not in verdicts or self.builtin not in verdicts:
            return None
        return self.portable == self.builtin


def _statuses(path: Path) -> dict[str, str]:
    return {s["id"]: s["status"] for s in json.loads(path.read_text())["scenarios"]}


def _tests(path: Path) -> dict[str, str]:
    """Every linked test's outcome, by node id, from a scenarios.json."""
    return {t["nodeid"]: t["outcome"] for s in json.loads(path.read_text())["scenarios"] for t in s.get("tests", ())}


def builtin_verdict(outcomes: list[str]) -> str:
    if "failed" in outcomes:
        return "failed"
    if "passed" in outcomes:
        return "passed"
    return "no verdict"


def compare(portable: dict[str, str], builtin_tests: dict[str, str]) -> list[Row]:
    """``portable``: scenario → status; ``builtin_tests``: node id → outcome (parametrised ids included)."""
    rows = []
    for scenario, functions in EQUIVALENT.items():
        outcomes = [o for nodeid, o in builtin_tests.items() if nodeid.split("[")[0] in functions]
        ran = Counter(o for o in outcomes if o != "not run")
        rows.append(Row(scenario, portable.get(scenario, "absent"), builtin_verdict(list(ran)),
                        ", ".join(f.rsplit("::", 1)[-1] for f in functions) + f" {dict(ran) or 'not run'}"))
    return rows


CORE_PROFILE = Path(__file__).with_name("core.toml")
CORE_COMMAND = 'command = ["{python}", "-m", "core.serve", "--port", "{port}", "--workers", "1"]'
# core.serve's uvicorn settings (its head-limited protocol, no Server header), with the defects' factory.
SEEDED_COMMAND = ('command = ["{python}", "-m", "uvicorn", "harness.defects.app:app_from_env", "--factory", '
                  '"--host", "127.0.0.1", "--port", "{port}", "--workers", "1", '
                  f'"--http", "{HTTP_PROTOCOL}", "--no-server-header"]')
# After the core's migrations: the schema defects' SQL, recorded where the factory records its parts.
SCHEMA_SETUP = ["{python}", "-m", "harness.defects.schema", "{database_url}"]


def core_profile_with_defects(seeding: Seeding | Sequence[str]) -> str:
    """The core's profile serving the core with seeded defects (``harness.defects``), as TOML text.

    The same defects the built-in suites take with ``--seed-defects``, applied the same three ways: the
    command runs the defects' uvicorn factory (code and app parts), the environment carries the defects'
    names, their record folder and their settings (config part, replacing the core's own value), and
    ``setup`` applies the schema part after the migrations. Checked by loading the result: a change to
    ``core.toml`` that the rewrite no longer fits is an error here, not a profile silently without a part.
    """
    if not isinstance(seeding, Seeding):
        seeding = Seeding.named(seeding)
    text = CORE_PROFILE.read_text()
    if CORE_COMMAND not in text:
        raise ValueError("harness/target/core.toml's command changed: update CORE_COMMAND")
    text = text.replace(CORE_COMMAND, SEEDED_COMMAND)
    text = text.replace('name = "reference-core"', f'name = "reference-core+{"+".join(seeding.names)}"')
    env = seeding.env()
    for key, value in env.items():
        line = f"{key} = {json.dumps(value)}"
        key_line = re.compile(rf"^{re.escape(key)} = .*$", re.MULTILINE)
        text, replaced = key_line.subn(line.replace("\\", "\\\\"), text, count=1)  # a template: \ escaped
        if not replaced:
            text = text.replace("[service.env]\n", f"[service.env]\n{line}\n", 1)
    if any(d.schema_sql for d in seeding.defects):
        text, replaced = re.subn(r"^setup = \[(.*)\]$", lambda m: f"setup = [{m[1]}, {json.dumps(SCHEMA_SETUP)}]",
                                 text, count=1, flags=re.MULTILINE)
        if not replaced:
            raise ValueError("harness/target/core.toml has no one-line setup = [...] to append the schema defects to")
    profile = parse_profile(text, "core+defects.toml")
    if not (profile.service.command and "harness.defects.app:app_from_env" in profile.service.command
            and all(profile.service.env.get(k) == v for k, v in env.items())
            and (SCHEMA_SETUP in profile.service.setup) == any(d.schema_sql for d in seeding.defects)):
        raise ValueError("the core's profile with seeded defects did not come out as written: check core.toml")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.target.compare", description=__doc__.splitlines()[0])
    parser.add_argument("portable", type=Path, nargs="?", help="scenarios.json of suites/portable on the core")
    parser.add_argument("builtin", type=Path, nargs="?", help="scenarios.json of the built-in suites on the core")
    parser.add_argument("--core-profile-with-defects", default=None, metavar="A,B",
                        help="print the core's profile with these seeded code defects, and exit")
    parser.add_argument("--seed-defects", type=comma_list(defect_name), default="", metavar="A,B",
                        help="run both paths on the core with these seeded defects and compare them "
                             "(harness.target.compare_seeded); no scenarios.json to give")
    parser.add_argument("--artefacts", type=Path, default=repo_root() / "artefacts",
                        help="with --seed-defects: the runs go under ARTEFACTS/compare/ (default: artefacts/)")
    parser.add_argument("--timeout", type=positive_float, default=900.0, help="with --seed-defects: seconds per run")
    args = parser.parse_args(argv)
    if args.seed_defects:
        if args.portable or args.builtin:
            parser.error("--seed-defects runs both paths itself: give no scenarios.json")
        from harness.target.compare_seeded import run_seeded

        return run_seeded(args.seed_defects.split(","), args.artefacts, args.timeout)
    if args.core_profile_with_defects:
        print(core_profile_with_defects(args.core_profile_with_defects.split(",")), end="")
        return 0
    if args.portable is None or args.builtin is None:
        parser.error("give the portable and the built-in scenarios.json")
    rows = compare(_statuses(args.portable), _tests(args.builtin))
    for row in rows:
        mark = {True: "same", False: "DIFFERENT", None: "-"}[row.agree]
        print(f"{row.scenario:<24} portable {row.portable:<12} built-in {row.builtin:<10} {mark:<9} "
              f"({row.builtin_tests})")
    different = [r.scenario for r in rows if r.agree is False]
    compared = sum(r.agree is not None for r in rows)
    print(f"{compared} compared, {len(different)} different" + (f": {', '.join(different)}" if different else ""))
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
