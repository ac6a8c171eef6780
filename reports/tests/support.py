"""Shared pieces of the report's tests: where the hand-made artefacts live, and the editor fixture's type."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "full"

# edit("defects.json", change) applies change(data) to that JSON artefact of the test's copy.
Editor = Callable[[str, Callable[[dict[str, Any]], None]], None]
