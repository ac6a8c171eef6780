"""One temporary folder per run of a command, removed when the command ends — a Ctrl-C included.

Every temporary file the command and its children make lands in it: ``TMPDIR`` points there (children
inherit it) and so does this process's ``tempfile``. pytest's own ``tmp_path`` root follows ``TMPDIR``,
so the ``pytest-of-<user>`` folders it keeps between runs (three by default, forever) go with the run
instead of piling up in ``/tmp``, and so does whatever a child forgets. A folder outside the checkout:
pytest run inside a test's ``tmp_path`` would otherwise find the checkout's conftest and rootdir.

A process killed with SIGKILL cannot clean up; its folder (``payharness-run-*``) is all it leaves.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "payharness-run-"


@contextlib.contextmanager
def run_scratch(prefix: str = PREFIX) -> Iterator[Path]:
    """A fresh folder under the current temporary directory, made the temporary directory meanwhile."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = str(root)
    try:
        yield root
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(root, ignore_errors=True)
