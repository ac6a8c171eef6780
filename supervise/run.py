"""Run a command to its end, passing SIGINT and SIGTERM on to it as SIGINT and waiting for it to finish.

``subprocess.call`` waits 0.25 s after a Ctrl-C and then kills its child: a pytest still stopping its
Postgres and services in its session teardown dies half-way and leaves them running. Here the child
runs in its own process group (so a terminal's Ctrl-C reaches it once, through us, not twice), every
SIGINT/SIGTERM we get is passed on, and we wait. Only a ``timeout`` (or a child that ignores the
signal for ``grace`` seconds) ends in SIGKILL, of the child's whole process group.

Usage::

    code = run([sys.executable, "-m", "pytest", "suites"], cwd=repo)   # KeyboardInterrupt once pytest ended
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

TIMED_OUT = -1
FORWARDED = (signal.SIGINT, signal.SIGTERM)


_live: set[subprocess.Popen[Any]] = set()  # children of run() calls in progress, in any thread
_live_lock = threading.Lock()
_interrupted = threading.Event()  # set by the main thread's handler inside forwarding()


def _forward_to_live(signum: int, frame: FrameType | None) -> None:
    _interrupted.set()
    with _live_lock:
        children = list(_live)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGINT)


@contextlib.contextmanager
def forwarding() -> Any:
    """In the main thread, around work that calls ``run`` from other threads (a thread pool).

    Python delivers signals to the main thread only, and each child runs in its own process group, out
    of the terminal's reach: inside this scope a SIGINT/SIGTERM is passed on to every child of every
    ``run`` in progress, and each of those ``run`` calls raises ``KeyboardInterrupt`` once its child ended.
    """
    _interrupted.clear()
    with _handlers(_forward_to_live):
        try:
            yield
        finally:
            _interrupted.clear()


def run(argv: Sequence[str], *, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
        stdout: IO[Any] | int | None = None, stderr: IO[Any] | int | None = None, timeout: float | None = None,
        grace: float = 60.0) -> int:
    """The child's exit code, ``TIMED_OUT`` on timeout.

    A SIGINT or SIGTERM received meanwhile is passed to the child; once the child has ended, this raises
    ``KeyboardInterrupt`` so the caller unwinds as it would on a Ctrl-C of its own. Called from another
    thread than the main one, it is reached by signals only inside the main thread's ``forwarding()``.
    """
    received: list[int] = []
    started: list[subprocess.Popen[Any]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        # Passed on as SIGINT whatever came: every child we run is Python, which unwinds on SIGINT
        # (pytest runs its teardown) but dies on the spot on SIGTERM.
        for child in started:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGINT)

    def interrupted() -> bool:
        return bool(received) or _interrupted.is_set()

    # The handlers go in before the child starts: an interrupt in between is not lost.
    with _handlers(forward):
        with _live_lock:
            proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdout=stdout,
                                    stderr=stderr, process_group=0)
            started.append(proc)
            _live.add(proc)
        try:
            if interrupted():
                proc.send_signal(signal.SIGINT)
            deadline = None if timeout is None else time.monotonic() + timeout
            patience: float | None = None  # set at the first signal: a child that ignores it is not waited for
            while True:
                try:
                    proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if interrupted() and patience is None:
                    patience = now + grace
                if patience is not None and now > patience:
                    stop_group(proc, grace=5.0)
                    break
                if deadline is not None and now > deadline:
                    stop_group(proc, grace=min(grace, 15.0))
                    return TIMED_OUT
        finally:
            with _live_lock:
                _live.discard(proc)
    if interrupted():  # the child has finished cleaning up; now this process unwinds as interrupted too
        raise KeyboardInterrupt
    return proc.returncode


def stop_group(proc: subprocess.Popen[Any], *, grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the child's process group, wait ``grace`` seconds, then SIGKILL what is left of it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # The group outlives its leader when workers linger (a uvicorn worker finishing a request).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def _handlers(handler: Any) -> Any:
    """Install ``handler`` for the forwarded signals while in the main thread (elsewhere Python forbids it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in FORWARDED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
