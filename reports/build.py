"""Build the report: collect the artefacts, derive every section as plain data (``analyse``), render it.

Usage::

    from reports.build import build_report
    data = build_report(Path("artefacts/audit-1"), Path("artefacts/audit-1/report"))
    data.score.score, data.critical_count          # what `payharness audit` prints and gates on
"""

from __future__ import annotations

from pathlib import Path

from reports.analyse import ReportData, analyse
from reports.collect import collect
from reports.render import write_all


def build_report(artefacts: Path, out: Path) -> ReportData:
    """Collect → analyse → render ``report.html``, ``report.md`` and ``report.json`` into ``out``."""
    data = analyse(collect(artefacts.resolve()))
    write_all(data, out.resolve())
    return data
