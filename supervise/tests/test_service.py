"""Supervised services: ready only when ours answers, served on the parent's socket, stopped with every process."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import httpx
import psutil
import pytest

from supervise import IDENTITY_PATH, Service, ServiceFailed

# A server on the inherited socket that answers every request 200 without knowing any token: what the
# readiness check used to accept when another process held the port it had picked.
IMPOSTOR = textwrap.dedent("""
    import os, socket
    from http.server import BaseHTTPRequestHandler, HTTPServer
    class Any200(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("content-length", "2"); self.end_headers()
            self.wfile.write(b"ok")
    server = HTTPServer(("127.0.0.1", 0), Any200, bind_and_activate=False)
    server.socket = socket.socket(fileno=int(os.environ["PAYHARNESS_LISTEN_FD"]))
    server.serve_forever()
""")
REPO = Path(__file__).resolve().parents[2]


def test_a_server_that_does_not_answer_our_token_is_never_ready(tmp_path: Path) -> None:
    service = Service("impostor", [sys.executable, "-c", IMPOSTOR], log_dir=tmp_path)
    try:
        with pytest.raises(ServiceFailed, match="without our token"):
            service.start(timeout=5)
        assert service.proc is not None and service.proc.poll() is not None
    finally:
        service.stop()


def test_a_uvicorn_app_with_two_workers_serves_on_our_socket_and_stops_with_its_workers(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "supervise.asgi", "supervise.tests.hello:app", "--workers", "2"]
    service = Service("hello", argv, log_dir=tmp_path / "logs", cwd=REPO).start(timeout=60)
    try:
        assert service.proc is not None
        workers = psutil.Process(service.proc.pid).children(recursive=True)
        assert len(workers) >= 2
        assert httpx.get(service.url + "/").text == "hello"
        assert httpx.get(service.url + IDENTITY_PATH).text == service.token
    finally:
        service.stop()
    _gone, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == []
    assert (tmp_path / "logs" / "hello.log").exists()


def test_a_child_that_exits_at_once_quotes_its_log(tmp_path: Path) -> None:
    service = Service("boom", [sys.executable, "-c", "print('boom-from-child'); raise SystemExit(3)"], log_dir=tmp_path)
    with pytest.raises(ServiceFailed, match="boom-from-child"):
        service.start(timeout=20)
    assert (tmp_path / "boom.log").read_text().startswith("boom-from-child")
