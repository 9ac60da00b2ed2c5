"""Waiting on a condition with a deadline: how tests wait, instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    description: str = "the condition",
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Call ``condition`` until it returns something truthy, and return that.

    Raises ``TimeoutError`` naming ``description`` and the last value seen once
    ``timeout`` seconds have passed, with what ``diagnose`` says (logs) when given.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            said = f"\n{diagnose()}" if diagnose is not None else ""
            raise TimeoutError(
                f"{description} did not hold within {timeout} s (last: {last!r}){said}"
            )
        time.sleep(interval)
