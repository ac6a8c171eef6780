"""The portable-vs-built-in comparison on a core with seeded defects: both paths must fail alike, not only pass.

One run of ``python -m harness.target.compare --seed-defects A,B`` writes, under ``<artefacts>/compare/A+B/``:

* ``core+defects.toml``: the core's profile serving the defects' factory (``core_profile_with_defects``),
  recording into ``portable.applied/``;
* ``portable.json``: ``pytest suites/portable --target-profile core+defects.toml`` (log ``portable.log``);
* ``builtin.json``: the built-in tests of ``EQUIVALENT`` with ``--seed-defects A,B --seed-record
  builtin.applied`` (log ``builtin.log``);

and compares them. A row says "same" or "DIFFERENT" only when both runs finished and every part of every
defect is confirmed applied on both sides (the record folders, as the defect matrix reads them); otherwise
each row is "inconclusive", with the reason: a defect that never took effect proves nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.defects import Seeding, applied_parts
from harness.paths import repo_root
from harness.target.compare import EQUIVALENT, Row, _statuses, _tests, compare, core_profile_with_defects
from supervise import run as supervised
from supervise.run import TIMED_OUT

REPO = repo_root()
FINISHED = (0, 1)  # pytest: all passed, some failed


@dataclass(frozen=True)
class Side:
    """One path's run: how pytest ended, and what its processes recorded they applied."""

    name: str  # portable | built-in
    exit_code: int
    scenarios_json: Path
    applied: Mapping[str, set[str]]

    def why_inconclusive(self, seeding: Seeding) -> list[str]:
        """Why this run cannot vouch for a comparison with these defects ([] when it can)."""
        reasons = []
        if self.exit_code == TIMED_OUT:
            reasons.append(f"{self.name}: the run timed out")
        elif self.exit_code not in FINISHED:
            reasons.append(f"{self.name}: pytest exited {self.exit_code}")
        if not self.scenarios_json.exists():
            reasons.append(f"{self.name}: {self.scenarios_json.name} was not written")
        for defect in seeding.defects:
            missing = sorted(defect.parts - self.applied.get(defect.name, set()))
            if missing:
                reasons.append(f"{self.name}: {defect.name} not confirmed applied: {', '.join(missing)}")
        return reasons


# (scenario, defect) → why the portable scenario passes where its built-in test fails, by design: the built-in
# test sees what no profile can — the schema itself (asyncpg on the column, an INSERT past the constraint, the
# last line of defence) or the core's own answer words and anomaly log — while the portable scenario sees the
# behaviour, which the core keeps right with that defect as far as any profile can observe. Measured, not
# assumed: each row was a difference in a seeded run (README, "Audit your own service"). Printed "expected",
# with the reason, and not counted as a difference.
EXPECTED_DIFFERENT: dict[tuple[str, str], str] = {
    ("T-MONEY-DECIMAL", "float_amounts"):
        "the built-in test reads the column's Python type (a float from double precision); the core's "
        "SQLAlchemy Numeric rounds it back to cents, so every total is paid exactly and reads the same as text",
    ("T-DB-UNIQUE-GATEWAY-ID", "no_unique_gateway_txn"):
        "the built-in test INSERTs a repeated id past the API; through the API a Wompi event is matched to its "
        "transaction by that id and PayU's id is adopted only where no other row carries it (NOT EXISTS)",
    ("T-EFECTY-CODE-UNIQUE", "efecty_codes_not_unique"):
        "the built-in test INSERTs a repeated code; through the API the core's random codes do not collide "
        "in a test-sized batch, so only the missing constraint (not a repeated code) is there to see",
    ("T-WEBHOOK-CONFLICT", "no_row_lock"):
        "the built-in test counts the core's answer words (two final statuses 'applied' to one transaction); each "
        "unguarded write still sets the order and its transaction together, so the end state a profile reads "
        "(status, amount paid, rows) agrees, paid or failed",
}


def mark(row: Row, reasons: Sequence[str], defects: Sequence[str] = ()) -> str:
    """A row's word: "inconclusive" whenever a side cannot vouch, never "same" on a defect that did not apply."""
    if reasons:
        return "inconclusive"
    if (row.agree is False and row.portable == "passed"
            and any((row.scenario, name) in EXPECTED_DIFFERENT for name in defects)):
        return "expected"
    return {True: "same", False: "DIFFERENT", None: "-"}[row.agree]


def builtin_targets() -> list[str]:
    """The built-in test functions of ``EQUIVALENT`` (pytest runs every parametrised case of each)."""
    return sorted({t for tests in EQUIVALENT.values() for t in tests})


def _pytest(args: Sequence[str], log: Path, timeout: float) -> int:
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    with log.open("wb") as out:
        return supervised(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)


def run_seeded(names: Sequence[str], artefacts: Path, timeout: float) -> int:
    """Both paths with ``names`` seeded, compared; 0 all compared rows same, 1 a difference, 3 inconclusive."""
    seeding = Seeding.named(names)
    out = (artefacts / "compare" / "+".join(seeding.names)).resolve()
    shutil.rmtree(out, ignore_errors=True)  # a record left by an earlier run must not confirm this one
    out.mkdir(parents=True)
    portable_record, builtin_record = out / "portable.applied", out / "builtin.applied"
    profile = out / "core+defects.toml"
    profile.write_text(core_profile_with_defects(Seeding(seeding.defects, portable_record)))

    print(f"portable: pytest suites/portable --target-profile {profile}", flush=True)
    code = _pytest(["suites/portable", "--target-profile", str(profile),
                    "--scenarios-json", str(out / "portable.json")], out / "portable.log", timeout)
    portable = Side("portable", code, out / "portable.json", applied_parts(portable_record))
    print(f"built-in: pytest <EQUIVALENT tests> --seed-defects {','.join(seeding.names)}", flush=True)
    code = _pytest([*builtin_targets(), "--seed-defects", ",".join(seeding.names), "--seed-record", str(builtin_record),
                    "--scenarios-json", str(out / "builtin.json")], out / "builtin.log", timeout)
    builtin = Side("built-in", code, out / "builtin.json", applied_parts(builtin_record))

    reasons = portable.why_inconclusive(seeding) + builtin.why_inconclusive(seeding)
    rows = compare(_read(_statuses, portable.scenarios_json), _read(_tests, builtin.scenarios_json))
    return report(seeding, rows, reasons)


def report(seeding: Seeding, rows: Sequence[Row], reasons: Sequence[str]) -> int:
    """Print the table and the verdict; the exit code (0 same, 1 a difference, 3 inconclusive)."""
    marks = [mark(row, reasons, seeding.names) for row in rows]
    for row, word in zip(rows, marks, strict=True):
        print(f"{row.scenario:<24} portable {row.portable:<12} built-in {row.builtin:<10} {word:<12} "
              f"({row.builtin_tests})")
        if word == "expected":
            why = [EXPECTED_DIFFERENT.get((row.scenario, n)) for n in seeding.names]
            print(f"    expected: {'; '.join(w for w in why if w)}")
    for reason in reasons:
        print(f"INCONCLUSIVE: {reason}")
    different = [r.scenario for r, w in zip(rows, marks, strict=True) if w == "DIFFERENT"]
    compared = sum(w in ("same", "DIFFERENT", "expected") for w in marks)
    expected = sum(w == "expected" for w in marks)
    print(f"with {','.join(seeding.names)}: {compared} compared, {len(different)} different"
          + (f", {expected} different as expected (EXPECTED_DIFFERENT)" if expected else "")
          + (f": {', '.join(different)}" if different else "")
          + (" — INCONCLUSIVE, nothing compared" if reasons else ""))
    return 3 if reasons else 1 if different else 0


def _read(reader: Callable[[Path], dict[str, str]], path: Path) -> dict[str, str]:
    """A run that crashed leaves no file, or half of one: its side then has no verdicts (and is inconclusive)."""
    try:
        return reader(path)
    except (OSError, ValueError, KeyError, TypeError):
        return {}
