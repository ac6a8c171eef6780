"""The ledger of what the load sent: one JSON line per HTTP attempt, written by each Locust process, merged once.

Each process (the local runner, or each worker) appends to ``<dir>/ledger/<node>.jsonl``. An entry is
written when its answer arrives, or when its greenlet is killed at the end of the run with the request in
flight: then ``code`` is ``None`` — the core may or may not have acted on it, and the audit treats it so.
Entry ids are ``<node>:<seq>``, so merging files (and copies shipped by remote workers) is a union.

Usage::

    writer = LedgerWriter(Path("artefacts/load/ledger"), node="local")
    writer.write(LedgerEntry(...)); writer.close()
    entries = read_ledger(Path("artefacts/load/ledger"))
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Entries the audit treats as "the core answered": anything else is an unknown outcome.
ANSWERED = frozenset(range(200, 600))


@dataclass(frozen=True)
class LedgerEntry:
    """One HTTP attempt and its answer."""

    id: str  # "<node>:<seq>"
    at: float  # epoch seconds when sent
    gateway: str  # wompi | payu
    key: str  # the event identity (see payloads.event_key); for sim charges, the reference
    order: str  # order reference
    attempt: str  # attempt (gateway) reference
    status: str  # gateway status word sent (or expected, for a simulator charge)
    role: str  # payloads.ROLES, or "sim_charge"
    signature: str
    expect: int  # 200, or 401 for a forged request
    code: int | None  # HTTP status; None when no answer came back
    answer: str | None = None  # the core's body "status" (applied, recorded, duplicate, …) or an error
    ms: float = 0.0
    try_no: int = 1  # delivery attempt: the load retries like a gateway on 5xx and connection errors
    gateway_id: str | None = None  # the gateway's transaction id, when known
    run: str = ""  # the run id: one artefacts folder may hold several runs' ledgers
    # Open pacing (load/shapes.py): how late the send started after its scheduled instant; ``ms`` then counts
    # from that instant, so ``ms - late_ms`` is the server's share and ``late_ms`` the generator's.
    late_ms: float = 0.0

    def to_json(self) -> str:
        # vars(), not dataclasses.asdict(): asdict deep-copies every field and was a third of a user's CPU.
        return json.dumps(vars(self), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerEntry:
        return cls(**data)


class LedgerWriter:
    """Buffered JSONL appender for one process; ``flush`` every ``batch`` entries and on ``close``."""

    def __init__(self, directory: Path, *, node: str, batch: int = 500) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{_safe(node)}.jsonl"
        self.node = node
        self._seq = 0
        self._batch = batch
        self._buffer: list[str] = []
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self.count = 0

    def next_id(self) -> str:
        self._seq += 1
        return f"{self.node}:{self._seq}"

    def write(self, entry: LedgerEntry) -> None:
        self._buffer.append(entry.to_json())
        self.count += 1
        if len(self._buffer) >= self._batch or self._file is None:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        text = "\n".join(self._buffer) + "\n"
        self._buffer.clear()
        if self._file is None:
            # A request that finished after close (a straggler at shutdown) is still written, never dropped.
            with self.path.open("a", encoding="utf-8") as late:
                late.write(text)
            return
        self._file.write(text)
        self._file.flush()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    @property
    def closed(self) -> bool:
        return self._file is None


def _safe(node: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in node) or "node"


def iter_lines(paths: Iterable[Path]) -> Iterator[str]:
    for path in sorted(paths):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield line


def read_ledger(directory: Path) -> list[LedgerEntry]:
    """Every entry under ``directory`` (recursively), each id once, in send order."""
    seen: dict[str, LedgerEntry] = {}
    for line in iter_lines(directory.rglob("*.jsonl")):
        entry = LedgerEntry.from_dict(json.loads(line))
        seen.setdefault(entry.id, entry)
    return sorted(seen.values(), key=lambda e: (e.at, e.id))


def write_lines(path: Path, lines: Iterable[str]) -> int:
    """Append raw JSONL lines (a remote worker's shipped ledger); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line.rstrip("\n") + "\n")
            count += 1
    return count
