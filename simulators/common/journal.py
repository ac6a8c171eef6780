"""Journal: a bounded in-memory log of what a simulator received, sent and was told to do."""

import itertools
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from simulators.common.clock import SimClock

KINDS = frozenset({"request", "webhook", "admin", "state"})


class Journal:
    """Ring buffer of entries, so a simulator under load never grows without bound.

    Usage: ``journal.record("request", method="POST", path="/x", status=201)`` then
    ``journal.entries("request")``. Each entry gets ``seq`` (monotonic, for polling with ``since``),
    ``kind`` and ``at`` (simulated time, ISO-8601 UTC).
    """

    def __init__(self, *, maxlen: int = 20_000, clock: SimClock | None = None) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._clock = clock
        self._seq = itertools.count(1)

    def record(self, kind: str, /, **fields: Any) -> None:
        """Append an entry; a field named like a reserved key (seq, kind, at) gets a trailing ``_``."""
        if kind not in KINDS:
            raise ValueError(f"unknown journal kind {kind!r}; expected one of {sorted(KINDS)}")
        # Stored as a float and formatted on read: isoformat on every request is measurable under load.
        now = self._clock.timestamp() if self._clock is not None else time.time()
        entry: dict[str, Any] = {"seq": next(self._seq), "kind": kind, "at": now}
        for key, value in fields.items():
            entry[f"{key}_" if key in entry else key] = value
        self._entries.append(entry)

    def entries(self, kind: str | None = None, *, since: int = 0) -> list[dict[str, Any]]:
        """Entries oldest first, optionally of one kind and with ``seq`` greater than ``since``."""
        # A snapshot first: tests read the journal from their own thread while the server appends to it,
        # and iterating a deque that grows raises. Copying a deque is one step under the GIL.
        snapshot = tuple(self._entries)
        return [
            {**e, "at": datetime.fromtimestamp(e["at"], UTC).isoformat()}
            for e in snapshot
            if (kind is None or e["kind"] == kind) and e["seq"] > since
        ]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
