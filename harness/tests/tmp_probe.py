"""Not collected by default: a test that uses pytest's ``tmp_path`` and forgets a temp file of its own.

``test_cli_scratch.py`` runs it through ``payharness test`` and checks that neither is left afterwards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def test_writes_into_tmp_path_and_forgets_a_temp_file(tmp_path: Path) -> None:
    (tmp_path / "written").write_text("x")
    tempfile.mkstemp(prefix="forgotten-")
    assert (tmp_path / "written").exists()
