"""What a gateway said about a key, remembered for a short while: bounded, per worker, oldest out first.

The mechanism behind ``payu_answers.PayUAnswers`` and ``wompi_misses.WompiMisses``: both bound the outbound
calls a replayed webhook can buy to one per key per ``ttl_seconds``; the memory holds at most ``max_keys``.

Usage::

    recent: Recent[str] = Recent(ttl_seconds=60, max_keys=4096)
    recent.remember("key", "answer")
    recent.recall("key")        # "answer"; None once ttl_seconds have passed
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    def __init__(self, *, ttl_seconds: float, max_keys: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._max = max_keys
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def recall(self, key: str) -> V | None:
        """What was remembered for ``key`` less than ``ttl_seconds`` ago, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        taken, value = entry
        if self._clock() - taken >= self._ttl:
            del self._entries[key]
            return None
        return value

    def remember(self, key: str, value: V) -> None:
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)  # the oldest goes first

    def __len__(self) -> int:
        return len(self._entries)
