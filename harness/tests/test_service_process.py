"""A service process leaves nothing behind: its log in the temp directory goes with it, also when it fails."""

from __future__ import annotations

import socket
import sys

import pytest

from harness.stack import ServiceFailed, ServiceProcess


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_stopped_service_leaves_no_log_file() -> None:
    port = _free_port()
    service = ServiceProcess("probe", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                             [f"http://127.0.0.1:{port}/"]).start(timeout=20)
    assert service.log_path is not None and service.log_path.exists()
    service.stop()
    assert service.proc is not None and service.proc.poll() is not None
    assert not service.log_path.exists()


def test_a_service_that_exits_at_once_quotes_its_log_and_removes_it() -> None:
    service = ServiceProcess("probe", [sys.executable, "-c", "print('boom-from-child'); raise SystemExit(3)"],
                             ["http://127.0.0.1:9/"])
    with pytest.raises(ServiceFailed, match="boom-from-child"):
        service.start(timeout=20)
    assert service.log_path is not None and not service.log_path.exists()
