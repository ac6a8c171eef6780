"""Fixtures for the report's tests: a copy of the hand-made artefacts folder, and a way to edit its JSON."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reports.tests.support import DATA, Editor


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """A fresh copy of ``data/full``: a clean quick audit (every test passes, every defect caught)."""
    folder = tmp_path / "artefacts"
    shutil.copytree(DATA, folder)
    return folder


@pytest.fixture
def edit(artefacts: Path) -> Editor:
    """``edit("defects.json", lambda d: ...)`` changes one JSON artefact of the copy in place."""

    def apply(name: str, change: Callable[[dict[str, Any]], None]) -> None:
        path = artefacts / name
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(json.dumps(data), encoding="utf-8")

    return apply
