"""``run_scratch``: the run's temp files, its children's included, go into one folder that goes with the run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from supervise.scratch import run_scratch

LEAVE_A_FILE = "import tempfile; fd, path = tempfile.mkstemp(prefix='forgotten-'); print(path)"


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp directory of the test's own, so what is left in it is this test's doing."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_childs_forgotten_temp_file_goes_with_the_run(temp_root: Path) -> None:
    with run_scratch() as root:
        assert root.parent == temp_root
        assert tempfile.gettempdir() == str(root)
        left = Path(subprocess.run([sys.executable, "-c", LEAVE_A_FILE], check=True, capture_output=True,
                                   text=True).stdout.strip())
        assert left.parent == root and left.exists()
    assert list(temp_root.iterdir()) == []
    assert os.environ["TMPDIR"] == str(temp_root) and tempfile.gettempdir() == str(temp_root)


def test_the_folder_goes_on_a_ctrl_c_too(temp_root: Path) -> None:
    with pytest.raises(KeyboardInterrupt), run_scratch() as root:
        (root / "half-written").write_text("x")
        raise KeyboardInterrupt
    assert list(temp_root.iterdir()) == []


def test_an_unset_tmpdir_is_unset_again(temp_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR")
    with run_scratch():
        assert "TMPDIR" in os.environ
    assert "TMPDIR" not in os.environ
