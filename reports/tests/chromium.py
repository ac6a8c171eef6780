"""Headless Chromium over the DevTools protocol: open a page, collect console errors, measure images, screenshot.

Chromium is started with ``--remote-debugging-port=0`` and prints the browser's websocket address on
stderr; one page target is attached in flat mode, so every command and event of the page shares one
websocket. Every wait is bounded.

Usage::

    with Chromium.launch(tmp_path) as browser:
        page = browser.inspect(Path("report.html").resolve(), tmp_path / "shot.png")
    page.console_errors, page.images
"""

from __future__ import annotations

import base64
import json
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
LISTENING = re.compile(r"DevTools listening on (ws://\S+)")
IMAGES_JS = """JSON.stringify(Array.from(document.images).map(i => {
  const r = i.getBoundingClientRect();
  return {alt: i.alt, width: r.width, height: r.height, natural_width: i.naturalWidth,
          natural_height: i.naturalHeight, complete: i.complete};
}))"""


def find_chromium() -> str | None:
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


@dataclass
class PageReport:
    console_errors: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    height: int = 0


class Chromium:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    @classmethod
    @contextmanager
    def launch(cls, profile: Path, *, timeout: float = 30.0) -> Iterator[Chromium]:
        binary = find_chromium()
        if binary is None:
            raise FileNotFoundError("Chromium is not installed: apt-get install -y chromium")
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        # Drain stderr for the whole run so Chromium never blocks on a full pipe.
        drain = threading.Thread(target=_drain, args=(proc, lines), daemon=True)
        drain.start()
        try:
            address, seen = None, []
            deadline = time.monotonic() + timeout
            while address is None and time.monotonic() < deadline and proc.poll() is None:
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    continue
                seen.append(line.rstrip())
                if match := LISTENING.search(line):
                    address = match.group(1)
            if address is None:
                raise RuntimeError(f"Chromium did not open its DevTools port; stderr: {seen[-10:]}")
            with connect(address, max_size=None, open_timeout=timeout) as ws:
                yield cls(ws)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            drain.join(timeout=5)
            if proc.stderr is not None:
                proc.stderr.close()

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str, *, timeout: float = 30.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            self.events.append(event)
            if event.get("method") == method:
                return dict(event)

    def inspect(self, page: Path, screenshot: Path, *, width: int = 1280) -> PageReport:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(domain, session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.events.clear()
        self.send("Page.navigate", {"url": page.as_uri()}, session=session)
        self.wait_for("Page.loadEventFired")
        images = self.send("Runtime.evaluate", {"expression": IMAGES_JS, "returnByValue": True}, session=session)
        title = self.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, session=session)
        metrics = self.send("Page.getLayoutMetrics", session=session)
        height = int(metrics.get("cssContentSize", metrics.get("contentSize", {})).get("height", 900))
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 16000), "scale": 1},
            },
            session=session,
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return PageReport(
            _errors(self.events), json.loads(images["result"]["value"]), str(title["result"].get("value", "")), height
        )


def _drain(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    if proc.stderr is not None:
        for line in proc.stderr:
            lines.put(line)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    return found
