"""glibc keeps what the operator frees after a burst; release_free_memory gives it back."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from sagemaker_operator.controller import allocator


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_memory_a_burst_freed_goes_back_to_the_system_once_released() -> None:
    burst = [bytes(2048) for _ in range(100_000)]  # 200 MB from malloc (not pymalloc)
    kept = burst[::50]  # a few stay: the freed pages lie below them, never trimmed by free()
    del burst
    gc.collect()
    held = rss_mb()
    assert allocator.release_free_memory() is True  # glibc here
    assert rss_mb() < held - 100, (held, rss_mb())
    assert kept
