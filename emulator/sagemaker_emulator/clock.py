"""The emulator's clock: wall time that tests can pause and move forward."""

from __future__ import annotations

import threading
import time


class Clock:
    """Seconds since the epoch, like ``time.time()``, but pausable and advanceable.

    Jobs derive their whole lifecycle from this clock, so a paused clock freezes every
    job and ``advance(600)`` plays ten minutes of training at once. Readings are whole
    milliseconds, as SageMaker's timestamps are, so a time a client sends back (e.g. as
    ``LastModifiedTimeAfter``) compares exactly with the one it was given.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._paused_at: float | None = None

    def now(self) -> float:
        with self._lock:
            moment = self._paused_at if self._paused_at is not None else time.time() + self._offset
        return round(moment, 3)

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused_at is not None

    def pause(self) -> None:
        with self._lock:
            if self._paused_at is None:
                self._paused_at = time.time() + self._offset

    def resume(self) -> None:
        with self._lock:
            if self._paused_at is not None:
                self._offset = self._paused_at - time.time()
                self._paused_at = None

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self._paused_at is not None:
                self._paused_at += seconds
            else:
                self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._paused_at = None
