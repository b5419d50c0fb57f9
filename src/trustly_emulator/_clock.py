"""The emulator's clock. Every delay, back-off and timeout runs on it, so tests advance time
instead of sleeping."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "trustly_timestamp"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def advance(self, seconds: float) -> float:
        """Move time forward; returns the new now."""
        ...


class SystemClock:
    """Real time, plus whatever it was advanced by: a served emulator can still skip an hour
    of a scenario's waiting."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01 00:00:00 UTC
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._now += seconds
        return self._now


def trustly_timestamp(epoch: float) -> str:
    """Trustly's notification timestamp format: ``2015-03-12 15:14:18.616710+00``."""
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"
