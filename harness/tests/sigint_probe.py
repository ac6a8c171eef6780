"""Not collected by default: a test that brings the stack up and then waits to be interrupted.

``test_cli_interrupt.py`` runs it through ``payharness test`` and sends the CLI a SIGINT while it waits.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from harness.postgres import PostgresHandle
from harness.stack import Stack


def test_waits_with_the_stack_up_until_interrupted(postgres: PostgresHandle, tmp_path: Path) -> None:
    (tmp_path / "written").write_text("pytest keeps its tmp_path roots unless the run removes them")
    with Stack.start(database=f"payharness_probe_{secrets.token_hex(3)}", postgres=postgres, core_workers=2):
        time.sleep(600)
    raise AssertionError("never interrupted")
