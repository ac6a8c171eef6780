"""``payharness report ARTEFACTS``: build the auditor report (HTML, Markdown, JSON) from an artefacts folder.

Exit codes: 0 the report was written; 2 the artefacts folder does not exist; with ``--fail-on-critical``,
3 when the report holds a critical issue (a failing test, an undetected defect, an audit anomaly, an
unfinished step).

Usage::

    payharness report artefacts/audit-20261126T0700Z            # → artefacts/audit-…/report/report.html
    payharness report artefacts --out /tmp/report --fail-on-critical
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from reports.build import build_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payharness report", description="The auditor report (HTML, Markdown, JSON) from an artefacts folder."
    )
    parser.add_argument("artefacts", type=Path, help="folder written by payharness audit (or its steps)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: ARTEFACTS/report)")
    parser.add_argument("--fail-on-critical", action="store_true", help="exit 3 when a critical issue is found")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    artefacts: Path = args.artefacts
    if not artefacts.is_dir():
        print(f"payharness report: no artefacts folder at {artefacts} (run `payharness audit` first)", file=sys.stderr)
        return 2
    out: Path = args.out or artefacts / "report"
    data = build_report(artefacts, out)
    missing = [s.path for s in data.artefacts if not s.present]
    print(f"health {data.score.score:g}/100 ({data.score.band}); critical issues: {data.critical_count}")
    if missing:
        print(f"not measured: {', '.join(missing)}")
    print(f"report: {(out / 'report.html').resolve()}")
    print(f"        {(out / 'report.md').resolve()}")
    print(f"        {(out / 'report.json').resolve()}")
    return 3 if args.fail_on_critical and data.critical_count else 0


if __name__ == "__main__":
    sys.exit(main())
