"""pytest plugin: each pytest run's temporary folders live in one folder of its own, removed when the run ends.

pytest keeps the base temporary folders of its last three runs under ``<tmp>/pytest-of-<user>``, by design.
Every run of ours (``payharness test``, the audit's suites, each defect run, each mutmut run) would leave
them behind. Here a run that was given no ``--basetemp`` gets a fresh ``<tmp>/payharness-pytest-<pid>-*``
folder, which goes when the run ends, also after a Ctrl-C (pytest unconfigures then). A run killed outright
cannot clean up; the next run removes any such folder whose process is gone.

The folder is outside the checkout on purpose: tests that run a nested pytest inside their ``tmp_path``
would otherwise pick up the repository's own conftest and rootdir. xdist workers get their folder from the
controller (inside the controller's), so only the controller creates and removes one. Under the
``payharness`` CLI the folder lands inside the command's own temp folder (``supervise.run_scratch``); this
plugin is what keeps a bare ``pytest`` run, and mutmut's in-process runs, from leaving anything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

PREFIX = "payharness-pytest-"
_OWN = pytest.StashKey[Path]()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def sweep_stale(parent: Path) -> list[Path]:
    """Remove ``payharness-pytest-<pid>-*`` folders under ``parent`` whose process no longer runs."""
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        pid_text = folder.name[len(PREFIX):].split("-", 1)[0]
        if not pid_text.isascii() or not pid_text.isdecimal() or not folder.is_dir():
            continue
        if int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: pytest's tmpdir plugin reads the option in its own pytest_configure.
    if config.option.basetemp or hasattr(config, "workerinput"):
        return
    parent = Path(tempfile.gettempdir())
    sweep_stale(parent)
    own = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
    config.option.basetemp = str(own)
    config.stash[_OWN] = own


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN, None)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)
