"""A supervised child: its own process group, its log in a folder the caller names, stopped with all it started.

``Child`` is any command (Locust, a worker); ``Service`` is a child serving HTTP on a socket bound here
on port 0 and passed down by descriptor, ready when it answers our token on ``IDENTITY_PATH``.

Usage::

    with Service("core", [sys.executable, "-m", "supervise.asgi", "core.app:app_from_env", "--factory"],
                 log_dir=artefacts / "logs").start() as core:
        httpx.get(core.url + "/openapi.json")
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from supervise.identity import FD_ENV, IDENTITY_PATH, TOKEN_ENV
from supervise.run import stop_group

LOCALHOST = "127.0.0.1"


class ServiceFailed(RuntimeError):
    """A child exited or never became ready; the message carries the tail of its log."""


def listening_socket(host: str = LOCALHOST, port: int = 0) -> socket.socket:
    """A TCP socket listening on ``port`` of ``host`` (0: a free one), ready to hand to a child."""
    # proto must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class Child:
    """A command run in its own process group, output to ``log_dir/<name>.log`` (appended across restarts)."""

    def __init__(self, name: str, argv: Sequence[str], *, log_dir: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | str | None = None) -> None:
        self.name, self.argv, self.cwd = name, list(argv), cwd
        self.env = dict(os.environ if env is None else env)
        self.log_path = Path(log_dir) / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, pass_fds: Sequence[int] = ()) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:  # the child keeps its own copy of the descriptor
            # Its own process group: stop() reaches every process it started (uvicorn's workers, Locust's
            # greenlets' helpers), and a terminal's Ctrl-C reaches it once, through whoever supervises it.
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         process_group=0, pass_fds=tuple(pass_fds))
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None when the child still runs after ``timeout`` seconds."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM to the child's process group, SIGKILL to what is left after ``grace`` seconds."""
        if self.proc is not None:
            stop_group(self.proc, grace=grace)

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class Service(Child):
    """A child serving HTTP on a socket bound here; ready only when it answers our token.

    ``sock``: a listening socket the caller owns and keeps across restarts (the same address every time);
    by default one on a free port of 127.0.0.1, closed on ``stop``. The child finds its descriptor in
    ``PAYHARNESS_LISTEN_FD`` and the token in ``PAYHARNESS_SERVICE_TOKEN``.
    """

    def __init__(self, name: str, argv: Sequence[str], *, log_dir: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | str | None = None, sock: socket.socket | None = None) -> None:
        super().__init__(name, argv, log_dir=log_dir, env=env, cwd=cwd)
        self._own_socket = sock is None
        self.sock = sock or listening_socket()
        host, port = self.sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.token = secrets.token_urlsafe(16)

    def start(self, *, pass_fds: Sequence[int] = (), timeout: float = 30.0) -> Self:
        fd = self.sock.fileno()
        self.env.update({FD_ENV: str(fd), TOKEN_ENV: self.token})
        super().start(pass_fds=(*pass_fds, fd))
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        answer = "no answer"
        while True:
            if self.proc.poll() is not None:
                raise ServiceFailed(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                got = httpx.get(self.url + IDENTITY_PATH, timeout=1.0)
                if got.status_code == 200 and got.text == self.token:
                    return
                answer = f"{got.status_code} without our token"  # someone else's server: never ready
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{self.name} not ready after {timeout:.0f} s ({answer}):\n{self.tail()}")
            time.sleep(0.05)

    def stop(self, *, grace: float = 10.0) -> None:
        super().stop(grace=grace)
        if self._own_socket:
            self.sock.close()
