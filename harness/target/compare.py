"""Does the core through its profile give the built-in suites' verdicts? Two scenarios.json files compared.

Each portable scenario is set beside the built-in scenarios that check the same thing from inside the
core (``EQUIVALENT``); the built-in verdict is "failed" when any of them failed, "passed" when those that
ran all passed, "no verdict" when none ran. The two agree or the command exits 1, naming each disagreement.

Usage::

    pytest suites/portable --target-profile harness/target/core.toml --scenarios-json portable.json
    pytest suites/races suites/replay/test_wompi_events.py … --scenarios-json builtin.json
    python -m harness.target.compare portable.json builtin.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# portable scenario → the built-in catalog's scenarios (suites/scenarios.toml) that check the same thing.
EQUIVALENT: dict[str, tuple[str, ...]] = {
    "T-WEBHOOK-RACE": ("WH-RACE",),
    "T-WEBHOOK-CONFLICT": ("WH-RACE",),
    "T-WEBHOOK-REPLAY": ("WH-REPLAY",),
    "T-WEBHOOK-FORGED": ("WH-SIGNATURE", "WH-ALWAYS-200"),
    "T-WEBHOOK-TAMPERED": ("WH-SIGNATURE", "WH-SIGNATURE-SCOPE"),
    "T-WEBHOOK-LARGE": ("API-LARGE-PAYLOAD",),
    "T-MONEY-DECIMAL": ("DB-PRECISION",),
    "T-MONEY-AMOUNT-MISMATCH": ("WH-AMOUNT-CHECK",),
    "T-DB-UNIQUE-GATEWAY-ID": ("DB-CONSTRAINTS",),
    "T-EFECTY-CODE-UNIQUE": ("EFECTY-CODE-UNIQUENESS",),
    "T-API-VALIDATION": ("API-VALIDATION",),
    "T-API-OWNERSHIP": ("API-AUTH",),
    "T-API-RATE-LIMIT": ("API-RATE-LIMIT",),
    "T-API-ERROR-SHAPE": ("API-ERRORS-SANITIZED",),
}
# Test files that carry the built-in scenarios above (a targeted run; the whole suite takes much longer).
BUILTIN_FILES = ("suites/races/test_webhook_races.py", "suites/replay/test_wompi_events.py",
                 "suites/precision/test_decimal_paths.py", "suites/api/test_api_abuse.py")


@dataclass(frozen=True)
class Row:
    scenario: str
    portable: str
    builtin: str
    builtin_scenarios: str

    @property
    def agree(self) -> bool | None:
        """None when one side has no verdict (not run there): nothing to compare."""
        verdicts = {"passed", "failed"}
        if self.portable not in verdicts or self.builtin not in verdicts:
            return None
        return self.portable == self.builtin


def _statuses(path: Path) -> dict[str, str]:
    return {s["id"]: s["status"] for s in json.loads(path.read_text())["scenarios"]}


def builtin_verdict(statuses: list[str]) -> str:
    if "failed" in statuses:
        return "failed"
    if "passed" in statuses:
        return "passed"
    return "no verdict"


def compare(portable: dict[str, str], builtin: dict[str, str]) -> list[Row]:
    rows = []
    for scenario, inside in EQUIVALENT.items():
        found = [f"{i} {builtin.get(i, 'absent')}" for i in inside]
        rows.append(Row(scenario, portable.get(scenario, "absent"),
                        builtin_verdict([builtin.get(i, "absent") for i in inside]), ", ".join(found)))
    return rows


CORE_PROFILE = Path(__file__).with_name("core.toml")
CORE_COMMAND = 'command = ["{python}", "-m", "core.serve", "--port", "{port}", "--workers", "1"]'


def core_profile_with_defects(names: Sequence[str]) -> str:
    """The core's profile serving the core with seeded code defects (``harness.defects``), as TOML text.

    The same defects the built-in suites take with ``--seed-defects``: both sides must then fail alike.
    """
    text = CORE_PROFILE.read_text()
    assert CORE_COMMAND in text, "harness/target/core.toml's command changed: update CORE_COMMAND"
    seeded = ('command = ["{python}", "-m", "uvicorn", "harness.defects.app:app_from_env", "--factory", '
              '"--host", "127.0.0.1", "--port", "{port}", "--workers", "1"]')
    text = text.replace(CORE_COMMAND, seeded)
    text = text.replace('name = "reference-core"', f'name = "reference-core+{"+".join(names)}"')
    return text.replace("[service.env]\n", f'[service.env]\nPAYHARNESS_DEFECTS = "{",".join(names)}"\n')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.target.compare", description=__doc__.splitlines()[0])
    parser.add_argument("portable", type=Path, nargs="?", help="scenarios.json of suites/portable on the core")
    parser.add_argument("builtin", type=Path, nargs="?", help="scenarios.json of the built-in suites on the core")
    parser.add_argument("--core-profile-with-defects", default=None, metavar="A,B",
                        help="print the core's profile with these seeded code defects, and exit")
    args = parser.parse_args(argv)
    if args.core_profile_with_defects:
        print(core_profile_with_defects(args.core_profile_with_defects.split(",")), end="")
        return 0
    if args.portable is None or args.builtin is None:
        parser.error("give the portable and the built-in scenarios.json")
    rows = compare(_statuses(args.portable), _statuses(args.builtin))
    for row in rows:
        mark = {True: "same", False: "DIFFERENT", None: "-"}[row.agree]
        print(f"{row.scenario:<26} portable {row.portable:<13} built-in {row.builtin:<11} {mark:<9} "
              f"({row.builtin_scenarios})")
    different = [r.scenario for r in rows if r.agree is False]
    compared = sum(r.agree is not None for r in rows)
    print(f"{compared} compared, {len(different)} different" + (f": {', '.join(different)}" if different else ""))
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
