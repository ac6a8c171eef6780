"""Shared pieces of the report's tests: where the hand-made artefacts live, the editor fixture's type, and a report
built and read back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.build import build_report

DATA = Path(__file__).resolve().parent / "data" / "full"

# edit("defects.json", change) applies change(data) to that JSON artefact of the test's copy.
Editor = Callable[[str, Callable[[dict[str, Any]], None]], None]


@dataclass(frozen=True)
class Built:
    """One report's three forms, as written."""

    md: str
    html: str
    data: dict[str, Any]


def built(artefacts: Path, out: Path) -> Built:
    """Build the report of ``artefacts`` into ``out`` and read back its Markdown, HTML and JSON."""
    build_report(artefacts, out)
    return Built((out / "report.md").read_text(encoding="utf-8"), (out / "report.html").read_text(encoding="utf-8"),
                 json.loads((out / "report.json").read_text(encoding="utf-8")))
