"""SimClock: wall time plus a controllable offset, the single source of "now" inside a simulator."""

import time
from datetime import UTC, datetime


class SimClock:
    """Real time plus a controllable offset, so a day of retries runs in milliseconds.

    Usage: ``clock = SimClock(); clock.advance(1800); clock.now()`` is half an hour ahead of the wall.
    The offset only ever moves forward: going back would let a delivery run before the attempt that
    scheduled it.
    """

    def __init__(self, offset_seconds: float = 0.0) -> None:
        if offset_seconds < 0:
            raise ValueError("offset_seconds must be >= 0")
        self._offset = float(offset_seconds)

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def timestamp(self) -> float:
        """``now()`` as epoch seconds (cheap: no datetime is built)."""
        return time.time() + self._offset

    def now(self) -> datetime:
        """Aware UTC datetime of the simulated present."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulated clock cannot go back")
        self._offset += float(seconds)

    def reset(self) -> None:
        self._offset = 0.0

    def to_datetime(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, UTC)
